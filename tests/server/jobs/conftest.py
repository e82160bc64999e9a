"""Jobs tests: an organisation with a dispatcher and two technicians, a customer, and the jobs subscriber on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from server.domain.jobs.events import register
from server.runtime import Resources
from tests.server.auth.conftest import Session, add_member, fixture_owner, random_phone

__all__ = ["Team", "fixture_owner"]


@dataclass
class Team:
    owner: Session
    dispatcher: Session
    tech: Session
    other_tech: Session
    customer: dict[str, Any]


@pytest.fixture(autouse=True)
def jobs_subscribed(resources: Resources) -> None:
    # the app start-up hook subscribes it in production (see server/domain/jobs/events.py)
    register(resources)


@pytest.fixture(name="team")
async def fixture_team(client: httpx.AsyncClient, resources: Resources, owner: Session) -> Team:
    dispatcher = await add_member(client, resources, owner, "dispatcher")
    tech = await add_member(client, resources, owner, "technician")
    other_tech = await add_member(client, resources, owner, "technician")
    response = await client.post(
        "/api/v1/customers",
        headers=owner.headers,
        json={"name": "Consorcio Belgrano", "phone": random_phone(), "addresses": [{"street": "Cabildo 1234"}]},
    )
    assert response.status_code == 201, response.text
    return Team(owner, dispatcher, tech, other_tech, response.json())
