"""Helpers for auth/team tests: organisations signed up through the real API, codes read from the sandbox."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from server.runtime import Resources
from shared.fiscal.cuit import InvalidCuit, make_cuit


def random_phone() -> str:
    return f"+5491155{secrets.randbelow(10**6):06d}"


def random_cuit(prefix: str = "30") -> str:
    while True:
        try:
            return make_cuit(prefix, f"{secrets.randbelow(10**8):08d}")
        except InvalidCuit:
            continue


async def sandbox_code(resources: Resources, phone: str) -> str:
    raw = await resources.redis.get(f"sandbox:otp:{phone}")
    assert raw is not None, f"no code was sent to {phone}"
    return raw.decode()


@dataclass
class Session:
    phone: str
    access: str
    refresh: str
    body: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    @property
    def user_id(self) -> str:
        return str(self.body["user"]["id"])

    @property
    def org_id(self) -> str:
        return str(self.body["organization"]["id"])


async def clear_cooldown(resources: Resources, phone: str) -> None:
    await resources.redis.delete(f"otp:cooldown:{phone}")


async def sign_up(client: httpx.AsyncClient, resources: Resources, name: str = "Gas Sur SRL") -> Session:
    phone = random_phone()
    response = await client.post(
        "/api/v1/auth/signup", json={"cuit": random_cuit(), "businessName": name, "phone": phone, "fullName": "Ana"}
    )
    assert response.status_code == 202, response.text
    return await verify(client, resources, phone)


async def verify(client: httpx.AsyncClient, resources: Resources, phone: str, device: str = "test") -> Session:
    code = await sandbox_code(resources, phone)
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": code, "deviceName": device})
    assert response.status_code == 200, response.text
    body = response.json()
    return Session(phone=phone, access=body["accessToken"], refresh=body["refreshToken"], body=body)


async def log_in(client: httpx.AsyncClient, resources: Resources, phone: str, device: str = "test") -> Session:
    await clear_cooldown(resources, phone)
    response = await client.post("/api/v1/auth/otp/request", json={"phone": phone})
    assert response.status_code == 202, response.text
    return await verify(client, resources, phone, device)


async def add_member(client: httpx.AsyncClient, resources: Resources, owner: Session, role: str) -> Session:
    phone = random_phone()
    response = await client.post(
        "/api/v1/users", headers=owner.headers, json={"phone": phone, "fullName": f"Miembro {role}", "role": role}
    )
    assert response.status_code == 201, response.text
    return await log_in(client, resources, phone)


@pytest.fixture(name="owner")
async def fixture_owner(client: httpx.AsyncClient, resources: Resources) -> Session:
    return await sign_up(client, resources)
