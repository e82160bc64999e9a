"""`campotech afip check`: against the AFIP sandbox over HTTP, for organisations set up as a user does it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid

import httpx
import pytest

from server.domain.invoices.cli import check_afip
from server.runtime import Resources
from server.sandbox.afip.app import RunningAfipSandbox
from server.settings import PROJECT_ROOT, Settings
from tests.server.auth.conftest import sign_up
from tests.server.invoices.conftest import API, issued, make_afip_org, make_customer, make_draft, ok

pytestmark = pytest.mark.asyncio


async def _check(settings: Settings, ref: str) -> tuple[int, str]:
    lines: list[str] = []
    code = await check_afip(settings, ref, lines.append)
    return code, "\n".join(lines)


def _line(output: str, label: str) -> str:
    [line] = [x for x in output.splitlines() if x.startswith(label)]
    return line


async def test_a_new_organisation_sees_afip_up_its_certificate_a_new_ticket_and_the_default_numbers(
    afip_client: httpx.AsyncClient, afip_settings: Settings, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip, point_of_sale=2)
    code, output = await _check(afip_settings, org.cuit)
    assert code == 0, output
    assert _line(output, "FEDummy") == "FEDummy       app OK, db OK, auth OK"
    assert "in 729 days" in _line(output, "certificate") or "in 730 days" in _line(output, "certificate")
    assert _line(output, "ticket").startswith("ticket        obtained (wsfe")
    numbers = [x for x in output.splitlines() if x.startswith("last number")]
    assert numbers == [
        "last number   point of sale 0002, Factura A (1): 0",
        "last number   point of sale 0002, Factura B (6): 0",
        "last number   point of sale 0002, Factura C (11): 0",
    ]
    assert f"CUIT {org.cuit[:2]}-********-{org.cuit[-1]}" in _line(output, "ticket")  # masked there
    # the token and sign never reach the console
    [ticket] = [t for t in afip.sandbox.wsaa._tickets.values() if t.cuit == org.cuit]
    assert ticket.token not in output and ticket.sign not in output
    logins = afip.sandbox.wsaa.logins

    # a second check reuses the stored ticket (AFIP refuses a second live one) and takes the org by id
    code, output = await _check(afip_settings, org.owner.org_id)
    assert code == 0, output
    assert _line(output, "ticket").startswith("ticket        reused")
    assert afip.sandbox.wsaa.logins == logins


async def test_the_numbers_in_use_are_checked_against_afip(
    afip_client: httpx.AsyncClient, afip_settings: Settings, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    walk_in = await make_customer(afip_client, org)
    for _ in range(2):
        draft = await make_draft(afip_client, org, walk_in["id"])
        await ok(await afip_client.post(f"{API}/invoices/{draft['id']}/cae", headers=org.headers), 202)
        assert (await issued(afip_client, org, draft["id"]))["status"] == "issued"
    code, output = await _check(afip_settings, org.cuit)
    assert code == 0, output
    assert [x for x in output.splitlines() if x.startswith("last number")] == [
        "last number   point of sale 0001, Factura B (6): 2"
    ]

    # AFIP forgot them (another environment's AFIP): the check fails and says what to look at
    afip.sandbox.wsfe.reset()
    code, output = await _check(afip_settings, org.cuit)
    assert code == 1
    assert "AFIP does not know our numbers up to 2" in output
    assert _line(output, "FAILED").startswith("FAILED        AFIP's last numbers are behind this database")


async def test_failures_end_with_a_message_a_person_can_act_on(
    afip_client: httpx.AsyncClient, afip_settings: Settings, resources: Resources, afip: RunningAfipSandbox
) -> None:
    # an organisation that never uploaded its certificate
    bare = await sign_up(afip_client, resources, name="Sin Certificado SA")
    code, output = await _check(afip_settings, bare.org_id)
    assert code == 1
    assert "no active AFIP certificate" in _line(output, "FAILED")
    assert "POST /api/v1/afip/credentials" in output

    # not an organisation at all
    code, output = await _check(afip_settings, "30-71234567-2")
    assert (code, output) == (1, "FAILED        --org '30-71234567-2' is neither an organisation id nor a valid CUIT")
    code, output = await _check(afip_settings, str(uuid.uuid4()))
    assert code == 1 and "no organisation" in output

    # AFIP down: FEDummy answers 500
    org = await make_afip_org(afip_client, resources, afip)
    afip.sandbox.wsfe.faults.http_error_next(count=5, status=500, operation="FEDummy")
    code, output = await _check(afip_settings, org.cuit)
    assert code == 1
    assert "FAILED        AFIP failed (transient" in output and "try again in a few minutes" in output
    afip.sandbox.wsfe.faults.clear()

    # WSAA refuses the login (AFIP's own fault): the check names it
    afip.sandbox.wsaa.fail_next("cms.cert.untrusted")
    code, output = await _check(afip_settings, org.cuit)
    assert code == 1
    assert "WSAA login failed" in _line(output, "FAILED") and "cms.cert.untrusted" in output


async def test_the_command_runs_from_a_terminal(
    afip_client: httpx.AsyncClient, afip_settings: Settings, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    s = afip_settings
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("CAMPOTECH_")
    }
    assert s.database_url and s.app_database_url and s.redis_url and s.master_key
    env.update(
        DATABASE_URL=s.database_url,
        CAMPOTECH_APP_DATABASE_URL=s.app_database_url,
        REDIS_URL=s.redis_url,
        CAMPOTECH_MASTER_KEY=s.master_key,
        CAMPOTECH_AFIP_WSAA_URL=s.afip_wsaa_url,
        CAMPOTECH_AFIP_WSFE_URL=s.afip_wsfe_url,
        CAMPOTECH_AFIP_PADRON_URL=s.afip_padron_url,
        CAMPOTECH_ENV="test",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["uv", "run", "campotech", "afip", "check", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = await asyncio.to_thread(run, "--org", org.cuit)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok            this organisation can invoice with AFIP" in done.stdout
    missing = await asyncio.to_thread(run)
    assert missing.returncode == 2 and "--org" in missing.stderr
