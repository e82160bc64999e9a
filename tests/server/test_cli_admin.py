"""`campotech org create`, `campotech user add`, `campotech seed demo` against the test database."""

from __future__ import annotations

import asyncio
import re

import asyncpg
from click.testing import CliRunner

from server.cli import main
from server.settings import Settings
from tests.conftest import TestDatabase
from tests.server.auth.conftest import random_cuit, random_phone


def _env(settings: Settings, database: TestDatabase) -> dict[str, str]:
    return {
        "DATABASE_URL": database.admin_url,
        "CAMPOTECH_APP_DATABASE_URL": database.app_url,
        "REDIS_URL": settings.require_redis_url(),
        "CAMPOTECH_SECRET_KEY": settings.secret_key or "",
        "CAMPOTECH_QUEUE_PREFIX": settings.queue_prefix,
        "CAMPOTECH_LOG_LEVEL": "WARNING",
    }


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def test_org_create_then_user_add(settings: Settings, database: TestDatabase) -> None:
    runner = CliRunner()
    env = _env(settings, database)
    cuit, owner_phone, tech_phone = random_cuit(), random_phone(), random_phone()
    created = runner.invoke(
        main, ["org", "create", "--name", "Frío Total SRL", "--cuit", cuit, "--owner-phone", owner_phone], env=env
    )
    assert created.exit_code == 0, created.output
    org_id = re.search(r"created: ([0-9a-f-]{36})", created.output).group(1)  # type: ignore[union-attr]
    added = runner.invoke(
        main,
        ["user", "add", "--org", org_id, "--phone", tech_phone, "--name", "Nico", "--role", "technician"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    users = asyncio.run(_fetch(database.admin_url, "SELECT role::text, phone FROM users WHERE org_id = $1", org_id))
    assert sorted((u["role"], u["phone"]) for u in users) == sorted(
        [("owner", owner_phone), ("technician", tech_phone)]
    )
    audited = asyncio.run(_fetch(database.admin_url, "SELECT action FROM audit_log WHERE org_id = $1", org_id))
    assert {a["action"] for a in audited} == {"organization.created", "user.invited"}


def test_org_create_refuses_bad_input(settings: Settings, database: TestDatabase) -> None:
    runner = CliRunner()
    env = _env(settings, database)
    bad_cuit = runner.invoke(
        main, ["org", "create", "--name", "X", "--cuit", "20-12345678-7", "--owner-phone", random_phone()], env=env
    )
    assert bad_cuit.exit_code == 2 and "verificador" in bad_cuit.output
    taken = random_phone()
    assert (
        runner.invoke(
            main, ["org", "create", "--name", "A", "--cuit", random_cuit(), "--owner-phone", taken], env=env
        ).exit_code
        == 0
    )
    again = runner.invoke(
        main, ["org", "create", "--name", "B", "--cuit", random_cuit(), "--owner-phone", taken], env=env
    )
    assert again.exit_code == 1 and "already belongs" in again.output


def test_seed_demo_shows_progress_and_the_team(settings: Settings, database: TestDatabase) -> None:
    result = CliRunner().invoke(main, ["seed", "demo"], env=_env(settings, database))
    assert result.exit_code == 0, result.output
    assert "Servicios Demo SRL" in result.output
    for role in ("owner", "admin", "dispatcher", "technician", "accountant"):
        assert role in result.output
    assert "+5491155550001" in result.output
