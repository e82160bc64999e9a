"""Pull and bootstrap over the API on real PostgreSQL: scope per role and org, cursors, resumable first sync."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import asyncpg
import httpx
from litestar import Litestar

from server.db.engine import tenant_transaction
from server.domain.sync.cursor import Cursor, decode_cursor, encode_cursor
from server.domain.sync.services import export_rows
from server.runtime import Resources
from tests.server.auth.conftest import add_member, sign_up
from tests.server.sync.conftest import API, Team, ids, new_customer, pull, pull_all, scheduled_job


def seq_of(app: Litestar, cursor: str) -> int:
    decoded = decode_cursor(cursor, app.state.settings.secret_key)
    assert decoded is not None
    return decoded.seq


async def test_each_role_pulls_its_scope_and_nothing_of_another_org(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    mine = await scheduled_job(client, team, team.tech, team.customer)
    theirs = await scheduled_job(client, team, team.other_tech, team.other_customer)
    history = await scheduled_job(client, team, team.tech, team.customer, title="Visita de hace un mes")
    await admin_conn.execute(  # a job of last month, done: out of everyone's window
        "UPDATE jobs SET status = 'completed', scheduled_start = now() - interval '30 days' WHERE id = $1",
        uuid.UUID(history["id"]),
    )
    item = await client.post(
        f"{API}/pricebook/items",
        headers=team.owner.headers,
        json={"code": "VAL-1", "kind": "material", "name": "Válvula esférica", "basePrice": "1500.00"},
    )
    assert item.status_code == 201, item.text

    tech, _, _ = await pull_all(client, team.tech)
    assert ids(tech, "jobs") == {mine["id"]}
    assert ids(tech, "customers") == {team.customer["id"]}  # only the customers of their jobs
    assert ids(tech, "customer_addresses") == {a["id"] for a in team.customer["addresses"]}
    assert ids(tech, "price_book_items") == {item.json()["id"]}  # the whole price book
    record = tech["jobs"][mine["id"]]
    assert record["technicianIds"] == [team.tech.user_id] and record["status"] == "scheduled"
    assert record["version"] == mine["version"] and record["changeSeq"] > 0

    other, _, _ = await pull_all(client, team.other_tech)
    assert ids(other, "jobs") == {theirs["id"]} and ids(other, "customers") == {team.other_customer["id"]}

    office, _, _ = await pull_all(client, team.dispatcher)
    assert ids(office, "jobs") == {mine["id"], theirs["id"]}  # the org's window, not last month's history
    assert ids(office, "customers") == {team.customer["id"], team.other_customer["id"]}

    stranger = await sign_up(client, resources, "Otra Empresa SA")
    foreign, _, _ = await pull_all(client, stranger)
    assert not ids(foreign, "jobs") and not ids(foreign, "customers") and not ids(foreign, "price_book_items")

    accountant = await add_member(client, resources, team.owner, "accountant")  # no offline sync for them
    refused = await client.get(f"{API}/sync/pull", headers=accountant.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"


async def test_cursor_is_monotonic_and_pages_lose_nothing(app: Litestar, client: httpx.AsyncClient, team: Team) -> None:
    jobs = [await scheduled_job(client, team, team.tech) for _ in range(4)]
    everything, _, cursor = await pull_all(client, team.tech)
    seqs = []
    paged: dict[str, Any] = {}
    page_cursor = None
    while True:  # one row a page: the same rows, in change order, the cursor only going forward
        page = await pull(client, team.tech, page_cursor, limit=1)
        for table, changes in page["tables"].items():
            for record in changes["upserts"]:
                paged.setdefault(table, set()).add(record["id"])
        page_cursor = page["cursor"]
        seqs.append(seq_of(app, page_cursor))
        if not page["hasMore"]:
            break
    assert seqs == sorted(seqs)
    assert paged["jobs"] == ids(everything, "jobs") == {j["id"] for j in jobs}
    assert paged["customers"] == ids(everything, "customers")

    nothing = await pull(client, team.tech, cursor)
    assert not nothing["reset"] and nothing["tables"] == {} and not nothing["hasMore"]
    assert seq_of(app, nothing["cursor"]) == seq_of(app, cursor)

    note = await client.post(
        f"{API}/jobs/{jobs[0]['id']}/notes", headers=team.dispatcher.headers, json={"body": "Llevar escalera"}
    )
    assert note.status_code == 201, note.text
    changed = await pull(client, team.tech, cursor)
    assert [n["id"] for n in changed["tables"]["job_notes"]["upserts"]] == [note.json()["id"]]
    assert changed["tables"]["job_notes"]["upserts"][0]["body"] == "Llevar escalera"
    assert "jobs" not in changed["tables"]  # a note is not a change of the job
    assert seq_of(app, changed["cursor"]) > seq_of(app, cursor)


async def test_tampered_foreign_scope_and_stale_cursors_reset(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    await scheduled_job(client, team, team.tech)
    _, _, cursor = await pull_all(client, team.tech)
    _, _, other_tech_cursor = await pull_all(client, team.other_tech)
    stranger = await sign_up(client, resources, "Otra Empresa SA")
    _, _, foreign_cursor = await pull_all(client, stranger)

    payload, mac = cursor.split(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + mac
    for bad in (tampered, other_tech_cursor, foreign_cursor, "basura", "x" * 150):
        page = await pull(client, team.tech, bad)
        assert page["reset"] is True and page["tables"] == {}, bad
        # the cursor it gives back starts from nothing: the clean pull brings the whole scope again
        again, _, _ = await pull_all(client, team.tech, page["cursor"])
        assert len(again["jobs"]) == 1

    await scheduled_job(client, team, team.tech)  # more changes after the cursor...
    still_fine = await pull(client, team.tech, cursor)
    assert still_fine["reset"] is False and len(still_fine["tables"]["jobs"]["upserts"]) == 1
    await admin_conn.execute(  # ...then tombstones were pruned past this cursor: it cannot be trusted
        "UPDATE change_seq_heads SET pruned_seq = seq WHERE org_id = $1", uuid.UUID(team.owner.org_id)
    )
    stale = await pull(client, team.tech, cursor)
    assert stale["reset"] is True
    fine = await pull(client, team.tech)  # and no cursor is never a reset
    assert fine["reset"] is False and len(fine["tables"]["jobs"]["upserts"]) == 2


async def test_interrupted_bootstrap_resumes_and_matches_the_raw_export(
    app: Litestar, client: httpx.AsyncClient, resources: Resources, team: Team
) -> None:
    for n in range(5):
        await new_customer(client, team.owner, f"Cliente {n}")
    first = await client.get(
        f"{API}/sync/bootstrap", headers=team.dispatcher.headers, params={"table": "customers", "limit": 3}
    )
    assert first.status_code == 200, first.text
    page1 = first.json()
    assert len(page1["records"]) == 3 and page1["hasMore"] and page1["nextAfter"] == page1["records"][-1]["id"]
    cursor = page1["cursor"]

    # the connection drops here; meanwhile the office adds a customer (after the cursor was taken)
    late = await new_customer(client, team.owner, "Cliente tardío")

    got = [r["id"] for r in page1["records"]]
    after = page1["nextAfter"]
    while after:  # resumed from where it stopped, with the same cursor
        response = await client.get(
            f"{API}/sync/bootstrap",
            headers=team.dispatcher.headers,
            params={"table": "customers", "limit": 3, "after": after, "cursor": cursor},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["reset"] is False and page["cursor"] == cursor
        got += [r["id"] for r in page["records"]]
        after = page["nextAfter"]
    assert len(got) == len(set(got)) and got == sorted(got)

    async with tenant_transaction(resources.sessionmaker, uuid.UUID(team.owner.org_id)) as session:
        exported = await export_rows(session, uuid.UUID(team.owner.org_id), ["customers", "jobs"])
    assert got == [row["id"] for row in exported["customers"]]  # the same rows as the raw export
    # the customer added mid-bootstrap is either in the snapshot or in the pull that follows: never lost
    after_pull, _, _ = await pull_all(client, team.dispatcher, cursor)
    assert late["id"] in set(got) | ids(after_pull, "customers")
    assert late["id"] in ids(after_pull, "customers")  # created after the cursor: the pull brings it

    unknown = await client.get(f"{API}/sync/bootstrap", headers=team.dispatcher.headers, params={"table": "users"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "sync.table_unknown"
    too_big = await client.get(
        f"{API}/sync/bootstrap", headers=team.dispatcher.headers, params={"table": "jobs", "limit": 5000}
    )
    assert too_big.status_code in (400, 422)
    empty_params = await client.get(  # what an HTTP client sends for parameters it has no value for
        f"{API}/sync/bootstrap",
        headers=team.dispatcher.headers,
        params={"table": "customers", "after": "", "cursor": ""},
    )
    assert empty_params.status_code == 200 and len(empty_params.json()["records"]) == 8
    exact = await client.get(  # a page exactly as long as what is left: the table is done, no empty page after
        f"{API}/sync/bootstrap", headers=team.dispatcher.headers, params={"table": "customers", "limit": 8}
    )
    assert [r["id"] for r in exact.json()["records"]] == [r["id"] for r in empty_params.json()["records"]]
    assert exact.json()["hasMore"] is False and exact.json()["nextAfter"] is None
    nothing = await client.get(f"{API}/sync/bootstrap", headers=team.dispatcher.headers, params={"table": "job_photos"})
    assert nothing.status_code == 200 and nothing.json()["records"] == [] and nothing.json()["hasMore"] is False
    bad_after = await client.get(
        f"{API}/sync/bootstrap", headers=team.dispatcher.headers, params={"table": "customers", "after": "x"}
    )
    assert bad_after.status_code == 422 and bad_after.json()["code"] == "validation_failed"
    bad_cursor = await client.get(
        f"{API}/sync/bootstrap", headers=team.dispatcher.headers, params={"table": "customers", "cursor": "roto"}
    )
    assert bad_cursor.status_code == 200 and bad_cursor.json()["reset"] is True


async def test_tombstones_on_delete_and_on_reassignment(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    job = await scheduled_job(client, team, team.tech)
    note = await client.post(f"{API}/jobs/{job['id']}/notes", headers=team.tech.headers, json={"body": "Timbre roto"})
    assert note.status_code == 201
    address = await client.post(
        f"{API}/customers/{team.customer['id']}/addresses", headers=team.owner.headers, json={"street": "Juramento 99"}
    )
    assert address.status_code == 201, address.text
    _, _, tech_cursor = await pull_all(client, team.tech)
    _, _, other_cursor = await pull_all(client, team.other_tech)
    _, _, office_cursor = await pull_all(client, team.dispatcher)

    await admin_conn.execute("DELETE FROM customer_addresses WHERE id = $1", uuid.UUID(address.json()["id"]))
    _, deletes, office_cursor = await pull_all(client, team.dispatcher, office_cursor)
    assert deletes["customer_addresses"] == {address.json()["id"]}

    moved = await client.post(
        f"{API}/jobs/{job['id']}/assign",
        headers=team.dispatcher.headers,
        json={"technicianIds": [team.other_tech.user_id]},
    )
    assert moved.status_code == 200, moved.text
    gone, gone_deletes, _ = await pull_all(client, team.tech, tech_cursor)
    assert job["id"] in gone_deletes["jobs"] and job["id"] not in ids(gone, "jobs")
    arrived, _, _ = await pull_all(client, team.other_tech, other_cursor)
    assert ids(arrived, "jobs") == {job["id"]}
    # the job arrives with what the new technician needs: its customer, addresses and earlier notes
    assert ids(arrived, "customers") == {team.customer["id"]}
    assert note.json()["id"] in ids(arrived, "job_notes")
    assert arrived["jobs"][job["id"]]["technicianIds"] == [team.other_tech.user_id]


async def test_a_new_day_shifts_the_window_without_a_clean_pull(
    app: Litestar, client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    leaving = await scheduled_job(client, team, team.tech, title="Hecho anteayer")
    entering = await scheduled_job(client, team, team.tech, title="Cerrado la semana que viene")
    staying = await scheduled_job(client, team, team.tech, title="Abierto")
    for job_id, offset in ((leaving["id"], "-2 days -12 hours"), (entering["id"], "7 days")):
        await admin_conn.execute(
            f"UPDATE jobs SET status = 'completed', scheduled_start = now() + interval '{offset}' WHERE id = $1",
            uuid.UUID(job_id),
        )
    _, _, cursor = await pull_all(client, team.tech)
    secret = app.state.settings.secret_key
    today = decode_cursor(cursor, secret)
    assert today is not None
    # the phone last synced two days ago: its window was then [3 days ago, today + 6 days)
    two_days_ago = encode_cursor(
        Cursor(today.org_id, today.seq, today.scope_key, today.day - datetime.timedelta(days=2)), secret
    )
    page = await pull(client, team.tech, two_days_ago)
    assert page["reset"] is False
    assert page["tables"]["jobs"]["deletes"] == [leaving["id"]]
    assert [j["id"] for j in page["tables"]["jobs"]["upserts"]] == [entering["id"]]
    assert staying["id"] not in page["tables"]["jobs"]["deletes"]
    assert decode_cursor(page["cursor"], secret).day == today.day  # type: ignore[union-attr]
    a_month_ago = encode_cursor(
        Cursor(today.org_id, today.seq, today.scope_key, today.day - datetime.timedelta(days=45)), secret
    )
    assert (await pull(client, team.tech, a_month_ago))["reset"] is True


async def test_a_change_still_uncommitted_during_a_pull_arrives_in_the_next_one(
    client: httpx.AsyncClient, team: Team, app_conn: asyncpg.Connection
) -> None:
    job = await scheduled_job(client, team, team.tech)
    _, _, cursor = await pull_all(client, team.tech)
    note_id = uuid.uuid4()
    slow = app_conn.transaction()  # a writer that took its change sequence and has not committed yet
    await slow.start()
    await app_conn.execute("SELECT set_config('app.org_id', $1, true)", team.owner.org_id)
    await app_conn.execute(
        "INSERT INTO job_notes (id, org_id, job_id, body, created_at) VALUES ($1, $2, $3, 'Nota lenta', now())",
        note_id, uuid.UUID(team.owner.org_id), uuid.UUID(job["id"]),
    )  # fmt: skip
    meanwhile = await pull(client, team.tech, cursor)  # does not wait for the writer, and does not skip it
    assert "job_notes" not in meanwhile["tables"]
    await slow.commit()
    after = await pull(client, team.tech, meanwhile["cursor"])
    assert [n["id"] for n in after["tables"]["job_notes"]["upserts"]] == [str(note_id)]
