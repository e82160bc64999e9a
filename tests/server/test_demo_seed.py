from __future__ import annotations

import datetime
from pathlib import Path

import asyncpg
import httpx
import msgspec

from server.domain.demo.seed import (
    DEMO_CODE,
    DEMO_CUIT,
    DEMO_CUSTOMERS,
    DEMO_JOB_CUSTOMERS,
    DEMO_JOBS,
    DEMO_MEMBERS,
    demo_steps,
    ensure_demo_afip,
    ensure_demo_day,
    seed_demo,
)
from server.domain.invoices.afip_gateway import AfipGateway
from server.domain.jobs.services import LOCAL_TZ
from server.runtime import Resources
from server.sandbox.afip.app import start_afip_sandbox
from server.sandbox.afip.ca import SandboxCA
from server.settings import Settings
from shared.roles import Role


async def test_demo_has_every_role_and_is_idempotent(resources: Resources, admin_conn: asyncpg.Connection) -> None:
    steps: list[str] = []
    first = await seed_demo(resources, on_step=steps.append)
    second = await seed_demo(resources)
    assert steps == demo_steps()
    assert second.org_id == first.org_id and second.created == []
    roles = {r["role"] for r in await admin_conn.fetch("SELECT role::text FROM users WHERE org_id = $1", first.org_id)}
    assert roles == {r.value for r in Role}
    assert await admin_conn.fetchval("SELECT count(*) FROM organizations WHERE cuit = $1", DEMO_CUIT) == 1
    assert await admin_conn.fetchval("SELECT count(*) FROM audit_chain_verify($1)", first.org_id) == 0


async def test_a_demo_member_signs_in_with_the_fixed_code(client: httpx.AsyncClient, resources: Resources) -> None:
    await seed_demo(resources)
    technician = next(m for m in DEMO_MEMBERS if m.role is Role.TECHNICIAN)
    await resources.redis.delete(f"otp:cooldown:{technician.phone}")
    assert (await client.post("/api/v1/auth/otp/request", json={"phone": technician.phone})).status_code == 202
    verified = await client.post("/api/v1/auth/otp/verify", json={"phone": technician.phone, "code": DEMO_CODE})
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["role"] == "technician"
    assert verified.json()["organization"]["cuit"] == DEMO_CUIT


async def test_demo_afip_makes_the_demo_org_ready_to_invoice_and_is_idempotent(
    settings: Settings, resources: Resources, admin_conn: asyncpg.Connection, tmp_path: Path
) -> None:
    with start_afip_sandbox("127.0.0.1", data_dir=tmp_path / "afip") as afip:
        ca = afip.sandbox.wsaa.ca
        app_settings = msgspec.structs.replace(
            settings,
            afip_wsaa_url=afip.wsaa_url,
            afip_wsfe_url=afip.wsfe_url,
            afip_padron_url=afip.padron_url,
            afip_timeout_seconds=5,
        )
        demo = await seed_demo(resources)
        first = await ensure_demo_afip(app_settings, resources, ca)
        assert first.created == [
            "fiscal data",
            *(f"customer {c.name}" for c in DEMO_CUSTOMERS),
            "AFIP certificate",
        ]
        org = await admin_conn.fetchrow("SELECT * FROM organizations WHERE id = $1", demo.org_id)
        assert org["iva_condition"] == "responsable_inscripto" and org["default_point_of_sale"] == 1
        assert org["gross_income_number"] and org["activity_start_date"] and org["address"]
        customers = await admin_conn.fetch(
            "SELECT doc_type::text, iva_condition::text FROM customers WHERE org_id = $1",
            demo.org_id,
        )
        assert {(c["doc_type"], c["iva_condition"]) for c in customers} >= {
            ("cuit", "responsable_inscripto"),
            ("none", "consumidor_final"),
        }
        # made as a user does it: key + CSR in the app, the certificate uploaded; both in the audit chain
        actions = [
            r["action"]
            for r in await admin_conn.fetch(
                "SELECT action FROM audit_log WHERE org_id = $1 AND action LIKE 'afip.%' ORDER BY seq", demo.org_id
            )
        ]
        assert actions == ["afip.certificate_requested", "afip.certificate_uploaded"]
        assert await admin_conn.fetchval("SELECT count(*) FROM audit_chain_verify($1)", demo.org_id) == 0

        # the sandbox's WSAA accepts the certificate: the gateway gets a ticket and asks for a last number
        resources.settings, saved = app_settings, resources.settings
        gateway = AfipGateway(resources)
        try:
            auth = await gateway.auth(demo.org_id)
            assert auth.cuit == DEMO_CUIT
            assert await gateway.wsfe.last_authorized(auth, 1, 1) == 0
        finally:
            await gateway.aclose()
            resources.settings = saved

        second = await ensure_demo_afip(app_settings, resources, ca)
        assert second.created == [] and second.certificate_not_after == first.certificate_not_after
        assert second.describe().endswith("already there")
        count = "SELECT count(*) FROM afip_credentials WHERE org_id = $1"
        assert await admin_conn.fetchval(count, demo.org_id) == 1

    # a new sandbox CA (its folder deleted): the old certificate is useless there, so a new one is made
    other_ca = SandboxCA.create()
    third = await ensure_demo_afip(app_settings, resources, other_ca)
    assert third.created == ["AFIP certificate"]
    statuses = await admin_conn.fetch(
        "SELECT status::text FROM afip_credentials WHERE org_id = $1 ORDER BY created_at", demo.org_id
    )
    assert [s["status"] for s in statuses] == ["replaced", "active"]

    # a certificate about to expire is replaced before it stops the demo from invoicing
    await admin_conn.execute(
        "UPDATE afip_credentials SET not_after = now() + interval '10 days' WHERE org_id = $1 AND status = 'active'",
        demo.org_id,
    )
    fourth = await ensure_demo_afip(app_settings, resources, other_ca)
    assert fourth.created == ["AFIP certificate"]
    assert (fourth.certificate_not_after - datetime.datetime.now(datetime.UTC)).days >= 700


async def test_demo_technicians_find_a_working_day_today_once(
    resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    """A newcomer signing in as a demo technician sees today's jobs (scheduled, with customer and address):
    added once a day, never twice, through the jobs services (audited, synced like any job)."""
    summary = await seed_demo(resources)
    again = await seed_demo(resources)
    assert not any("jobs for today" in c for c in again.created)
    day = datetime.datetime.now(LOCAL_TZ).date()
    rows = await admin_conn.fetch(
        "SELECT u.phone, j.title, j.status::text, j.address_id, j.change_seq, j.scheduled_start"
        " FROM jobs j JOIN job_assignments a ON a.job_id = j.id JOIN users u ON u.id = a.technician_id"
        " WHERE j.org_id = $1 AND (j.scheduled_start AT TIME ZONE 'America/Argentina/Buenos_Aires')::date = $2"
        " ORDER BY j.scheduled_start",
        summary.org_id,
        day,
    )
    expected = sorted((j.technician_phone, j.title) for j in DEMO_JOBS)
    assert sorted((r["phone"], r["title"]) for r in rows) == expected
    assert all(r["status"] == "scheduled" and r["address_id"] is not None and r["change_seq"] > 0 for r in rows)
    diego = [r["title"] for r in rows if r["phone"] == DEMO_MEMBERS[3].phone]
    assert diego == ["Calefón que no enciende", "Pérdida bajo la mesada", "Service de aire acondicionado"]
    # another day (dev started tomorrow): a fresh working day, the customers reused
    tomorrow = await ensure_demo_day(resources, summary.org_id, day + datetime.timedelta(days=1))
    assert len(tomorrow) == len(DEMO_JOBS)
    names = [r["name"] for r in await admin_conn.fetch("SELECT name FROM customers WHERE org_id = $1", summary.org_id)]
    assert all(names.count(c.name) == 1 for c in DEMO_JOB_CUSTOMERS)
    assert await admin_conn.fetchval("SELECT count(*) FROM audit_chain_verify($1)", summary.org_id) == 0
