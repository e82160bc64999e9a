"""The sync engine against the REAL server (the app in-process over httpx's ASGI transport, real PostgreSQL and
Redis): a whole offline day, replays, a crash before sending, one refused operation, tombstones, an
interrupted pull, a refused cursor. "Offline" is the network failing under the client (connection errors),
never a fake server."""

from __future__ import annotations

import asyncio
import datetime
import io
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar import Litestar
from PIL import Image

from client.actions import TechnicianActions
from client.api import ApiClient, AuthExpired
from client.attachments import UploadQueue
from client.outbox import Outbox
from client.store import LocalStore
from client.sync.engine import SyncEngine
from client.tokens import MemoryTokenStore
from server.runtime import Resources
from tests.client.conftest import SIGNATURE, SIGNATURE_PNG
from tests.server.auth.conftest import Session, clear_cooldown, fixture_owner, sandbox_code
from tests.server.jobs.conftest import Team, fixture_team, jobs_subscribed

__all__ = ["fixture_owner", "fixture_team", "jobs_subscribed"]

API = "/api/v1"
BA = ZoneInfo("America/Argentina/Buenos_Aires")


class Network(httpx.AsyncBaseTransport):
    """The phone's connection to the real app: can drop (every request fails to connect), or drop after N
    more requests (a pull cut in the middle); records the paths asked."""

    def __init__(self, app: Litestar) -> None:
        address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{1 + secrets.randbelow(250)}"
        self.inner = httpx.ASGITransport(app=app, client=(address, 40000))
        self.up = True
        self.fail_after: int | None = None
        self.requests: list[httpx.URL] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.fail_after is not None:
            if self.fail_after <= 0:
                self.up = False
            self.fail_after -= 1
        if not self.up:
            raise httpx.ConnectError("network unreachable", request=request)
        self.requests.append(request.url)
        return await self.inner.handle_async_request(request)


@dataclass
class Device:
    path: Path
    store: LocalStore
    outbox: Outbox
    api: ApiClient
    uploads: UploadQueue
    engine: SyncEngine
    actions: TechnicianActions
    network: Network


Office = Team  # the jobs tests' organisation: a dispatcher, two technicians, a customer


@pytest.fixture(name="office")
def fixture_office(team: Team) -> Office:
    return team


async def office_moves(client: httpx.AsyncClient, office: Office, job_id: str, event: str, **fields: Any) -> None:
    """The dispatcher makes a status move on the server."""
    moved = await client.post(
        f"{API}/jobs/{job_id}/transitions", headers=office.dispatcher.headers, json={"event": event, **fields}
    )
    assert moved.status_code == 200, moved.text


def tomorrow() -> datetime.date:
    return datetime.datetime.now(BA).date() + datetime.timedelta(days=1)


async def scheduled_jobs(
    client: httpx.AsyncClient, office: Office, count: int, tech: Session | None = None
) -> list[str]:
    tech = tech or office.tech
    ids = []
    for i in range(count):
        created = await client.post(
            f"{API}/jobs",
            headers=office.dispatcher.headers,
            json={
                "customerId": office.customer["id"],
                "addressId": office.customer["addresses"][0]["id"],
                "title": f"Visita {i + 1}",
            },
        )
        assert created.status_code == 201, created.text
        start = datetime.datetime.combine(tomorrow(), datetime.time(8), BA) + datetime.timedelta(minutes=20 * i)
        await office_moves(
            client,
            office,
            created.json()["id"],
            "schedule",
            scheduledStart=start.isoformat(),
            technicianIds=[tech.user_id],
        )
        ids.append(created.json()["id"])
    return ids


async def open_device(
    app: Litestar,
    resources: Resources,
    path: Path,
    tech: Session,
    *,
    network: Network | None = None,
    tokens: MemoryTokenStore | None = None,
    pull_limit: int = 500,
    bootstrap_limit: int = 1000,
) -> Device:
    """The technician's phone: a store at ``path``; signs in through the real OTP flow unless given tokens."""
    network = network or Network(app)
    store = LocalStore.open(path)
    tokens = tokens or MemoryTokenStore()
    api = ApiClient("http://testserver", tokens, transport=network)
    if tokens.load() is None:
        await clear_cooldown(resources, tech.phone)
        await api.request_otp(tech.phone)
        session = await api.verify_otp(tech.phone, await sandbox_code(resources, tech.phone), "Moto G del técnico")
        assert session.role == "technician" and session.user_id == tech.user_id
        store.set_session(
            user_id=session.user_id, org_id=session.org_id, role=session.role, full_name=session.full_name
        )
    outbox = Outbox(store)
    uploads = UploadQueue(store, api)
    engine = SyncEngine(
        api, store, outbox, uploads, device_id=store.device_id(), pull_limit=pull_limit, bootstrap_limit=bootstrap_limit
    )
    return Device(path, store, outbox, api, uploads, engine, TechnicianActions(store, outbox, uploads), network)


@pytest.fixture(name="device")
async def fixture_device(
    app: Litestar, client: httpx.AsyncClient, resources: Resources, office: Office, tmp_path: Path
) -> AsyncIterator[Device]:
    del client  # running the app (lifespan) for the device's transport
    device = await open_device(app, resources, tmp_path / "phone" / "campotech.db", office.tech)
    yield device
    await device.api.aclose()
    device.store.close()


def jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2400, 1800), (seed * 7 % 255, seed * 13 % 255, 90)).save(out, "JPEG", quality=95)
    return out.getvalue()


async def server_job(client: httpx.AsyncClient, who: Session, job_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/jobs/{job_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def synced(device: Device) -> Any:
    report = await device.engine.sync_once()
    assert report.errors == [], report
    return report


# ------------------------------------------------------------------------------------------------ tests


async def test_a_full_offline_day_arrives_whole(client: httpx.AsyncClient, office: Office, device: Device) -> None:
    ids = await scheduled_jobs(client, office, 20)
    first = await synced(device)
    assert first.bootstrapped >= 20 + 1  # the jobs, their customer (and address, price book…)
    day = device.store.jobs_for_day(tomorrow(), technician_id=office.tech.user_id)
    assert [r["id"] for r in day] == ids  # by schedule
    assert day[0]["customer_name"] == "Consorcio Belgrano" and day[0]["address"].startswith("Cabildo 1234")

    device.network.up = False  # the basement
    done, open_ = ids[:10], ids[10:]
    notes: dict[str, str] = {}
    for n, job_id in enumerate(ids):
        device.actions.transition(job_id, "start_travel", lat=-34.5, lng=-58.4)
        device.actions.transition(job_id, "start_work")
        notes[job_id] = device.actions.add_note(job_id, f"Nota sin señal {n}")
    for n, job_id in enumerate(done):
        device.actions.add_photo(job_id, jpeg(n), "image/jpeg")
        device.actions.set_signature(job_id, SIGNATURE, SIGNATURE_PNG, signer_name=f"Cliente {n}")
        device.actions.complete(
            job_id, notes="Cambio de válvula", materials=[{"description": "Teflón"}], actual_minutes=40 + n
        )
    offline = await device.engine.sync_once()
    assert offline.errors == ["offline"] and device.engine.status.online is False
    assert device.store.pending_count() == 20 * 3 + 10 + 10 + 10  # moves, notes, completions, photos, signatures

    device.network.up = True
    report = await synced(device)
    assert report.rejected == 0 and report.conflicts == 0, device.store.conflicts()
    assert report.uploaded == 20 and report.pushed == 70
    assert device.store.pending_count() == 0 and device.engine.status.pending == 0
    assert device.engine.status.online is True and device.engine.status.last_sync_at is not None

    for n, job_id in enumerate(ids):
        job = await server_job(client, office.dispatcher, job_id)
        assert [note["body"] for note in job["notes"]] == [f"Nota sin señal {n}"]
        local = device.store.job(job_id)
        # came back once (the server's id, or the device's kept), confirmed
        assert [note["id"] for note in local["notes"]] == [job["notes"][0]["id"]]
        assert local["notes"][0]["pending"] is False and local["notes"][0]["body"] == f"Nota sin señal {n}"
        assert notes[job_id]
        assert local["status"] == local["server_status"] == job["status"]
        if job_id in done:
            assert job["status"] == "completed" and job["actualMinutes"] == 40 + n
            assert job["completionNotes"] == "Cambio de válvula"
            photos = (await client.get(f"{API}/jobs/{job_id}/photos", headers=office.dispatcher.headers)).json()
            assert len(photos) == 1 and photos[0]["contentHash"] == local["photos"][0]["content_hash"]
            assert len(local["photos"]) == 1 and local["photos"][0]["upload_state"] == "uploaded"
            signature = await client.get(f"{API}/jobs/{job_id}/signature", headers=office.dispatcher.headers)
            assert signature.status_code == 200 and signature.json()["signerName"] == f"Cliente {n}"
        else:
            assert job["status"] == "working"
    assert job_id in open_


async def test_a_replayed_batch_changes_nothing(client: httpx.AsyncClient, office: Office, device: Device) -> None:
    (job_id,) = await scheduled_jobs(client, office, 1)
    await synced(device)
    device.actions.transition(job_id, "start_travel")
    device.actions.add_note(job_id, "Llego en 10")
    batch = device.outbox.next_batch()
    first = await device.api.push(device.engine.device_id, [op.wire() for op in batch])
    assert [r.status for r in first.results] == ["applied", "applied"]
    before = await server_job(client, office.dispatcher, job_id)
    # the answer was lost on the way back: the device still has them queued and sends them again
    report = await synced(device)
    assert report.pushed == 2 and report.rejected == 0
    after = await server_job(client, office.dispatcher, job_id)
    assert after["version"] == before["version"] and after["status"] == "en_camino"
    assert [n["body"] for n in after["notes"]] == ["Llego en 10"]
    assert device.store.pending_count() == 0
    again = await device.api.push(device.engine.device_id, [op.wire() for op in batch])
    assert {r.status for r in again.results} == {"duplicate"}


async def test_a_crash_after_saving_loses_nothing(
    app: Litestar, client: httpx.AsyncClient, resources: Resources, office: Office, device: Device
) -> None:
    (job_id,) = await scheduled_jobs(client, office, 1)
    await synced(device)
    device.network.up = False
    device.actions.transition(job_id, "start_travel")
    device.actions.transition(job_id, "start_work")
    device.actions.add_photo(job_id, jpeg(3), "image/jpeg")
    device.actions.set_signature(job_id, SIGNATURE, SIGNATURE_PNG, signer_name="Marta")
    device.actions.complete(job_id, notes="Listo", actual_minutes=30)
    # the app dies here: nothing was sent. A new process opens the same file.
    tokens = device.api.tokens
    device.store.conn.close()
    reopened = await open_device(app, resources, device.path, office.tech, tokens=tokens)
    assert reopened.store.pending_count() == 5 and reopened.store.job(job_id)["status"] == "completed"
    await synced(reopened)
    job = await server_job(client, office.dispatcher, job_id)
    assert job["status"] == "completed" and job["completionNotes"] == "Listo"
    assert reopened.store.pending_count() == 0
    await reopened.api.aclose()


async def test_one_refused_operation_becomes_a_conflict_and_the_rest_apply(
    client: httpx.AsyncClient, office: Office, device: Device
) -> None:
    cancelled, fine = await scheduled_jobs(client, office, 2)
    await synced(device)
    device.network.up = False
    device.actions.transition(cancelled, "start_travel")
    device.actions.add_note(cancelled, "Estoy en la puerta")
    device.actions.transition(fine, "start_travel")
    await office_moves(client, office, cancelled, "cancel", reason="El cliente llamó para cancelar")
    device.network.up = True
    report = await synced(device)
    assert report.rejected >= 1 and report.applied >= 1
    assert (await server_job(client, office.dispatcher, fine))["status"] == "en_camino"
    assert device.store.job(fine)["status"] == "en_camino"
    local = device.store.job(cancelled)
    assert local["status"] == "cancelled"  # the server's truth is shown…
    conflicts = [c for c in device.store.conflicts() if c["entity_id"] == cancelled]
    codes = {c["code"] for c in conflicts}
    assert "sync.job_cancelled_on_server" in codes  # …with what the technician did, to read and acknowledge
    move = next(c for c in conflicts if c["device_data"]["payload"].get("event") == "start_travel")
    assert "canceló" in move["message"]
    for c in conflicts:
        device.store.acknowledge_conflict(c["id"])
    assert [c for c in device.store.conflicts() if c["entity_id"] == cancelled] == []


async def test_tombstones_remove_what_left_the_technicians_scope(
    client: httpx.AsyncClient, office: Office, device: Device
) -> None:
    kept, moved = await scheduled_jobs(client, office, 2)
    note = await client.post(f"{API}/jobs/{moved}/notes", headers=office.dispatcher.headers, json={"body": "Timbre 3B"})
    assert note.status_code == 201, note.text
    await synced(device)
    assert device.store.job(moved)["notes"][0]["body"] == "Timbre 3B"
    reassigned = await client.post(
        f"{API}/jobs/{moved}/assign",
        headers=office.dispatcher.headers,
        json={"technicianIds": [office.other_tech.user_id]},
    )
    assert reassigned.status_code == 200, reassigned.text
    await synced(device)
    assert device.store.job(moved) is None
    assert device.store._rows("SELECT id FROM job_notes WHERE job_id = ?", [moved]) == []
    assert [r["id"] for r in device.store.jobs_for_day(tomorrow())] == [kept]


async def test_an_interrupted_pull_resumes_from_its_cursor(
    app: Litestar, client: httpx.AsyncClient, resources: Resources, office: Office, tmp_path: Path
) -> None:
    ids = await scheduled_jobs(client, office, 3)
    device = await open_device(app, resources, tmp_path / "p2" / "c.db", office.tech, pull_limit=2)
    await synced(device)
    for i in range(9):
        added = await client.post(
            f"{API}/jobs/{ids[i % 3]}/notes", headers=office.dispatcher.headers, json={"body": f"Aviso {i}"}
        )
        assert added.status_code == 201
    start_cursor = device.store.cursor()
    device.network.requests.clear()
    device.network.fail_after = 3  # ping, then two pages of two changes, then the signal goes
    cut = await device.engine.sync_once()
    assert cut.errors == ["offline"] and cut.pulled == 4
    middle = device.store.cursor()
    assert middle not in (None, start_cursor)
    device.network.fail_after = None
    device.network.up = True
    device.network.requests.clear()
    await synced(device)
    pulls = [u for u in device.network.requests if u.path.endswith("/sync/pull")]
    assert pulls[0].params["cursor"] == middle  # resumed where it stopped, not from the start
    bodies = sorted(b for j in ids for b in (n["body"] for n in device.store.job(j)["notes"]))
    assert bodies == sorted(f"Aviso {i}" for i in range(9))  # each exactly once
    await device.api.aclose()


async def test_a_refused_cursor_restarts_clean_and_keeps_the_outbox(
    client: httpx.AsyncClient, office: Office, device: Device
) -> None:
    (job_id,) = await scheduled_jobs(client, office, 1)
    await synced(device)
    device.network.up = False
    device.actions.transition(job_id, "start_travel")
    device.store.set_cursor("not-a-cursor-of-this-server")
    device.network.up = True
    report = await synced(device)
    assert report.bootstrapped >= 1
    assert device.store.cursor() not in (None, "not-a-cursor-of-this-server")
    assert (await server_job(client, office.dispatcher, job_id))["status"] == "en_camino"
    assert device.store.job(job_id)["status"] == "en_camino" and device.store.pending_count() == 0


async def test_an_ended_session_asks_to_sign_in_again(
    client: httpx.AsyncClient, office: Office, device: Device
) -> None:
    await device.api.logout()
    assert device.api.tokens.load() is None
    report = await device.engine.sync_once()
    assert report.errors == ["auth_expired"] and device.engine.status.auth_expired is True
    with pytest.raises(AuthExpired):
        await device.api.me()
    assert uuid.UUID(device.engine.device_id)


async def test_the_same_move_made_by_the_office_merges_without_a_conflict(
    client: httpx.AsyncClient, office: Office, device: Device
) -> None:
    (job_id,) = await scheduled_jobs(client, office, 1)
    await synced(device)
    device.network.up = False
    device.actions.transition(job_id, "start_travel")
    device.actions.transition(job_id, "start_work")
    # the technician phoned in: the dispatcher marked them en camino meanwhile
    await office_moves(client, office, job_id, "start_travel")
    device.network.up = True
    report = await synced(device)
    assert report.rejected == 0 and device.store.conflicts() == []
    assert (await server_job(client, office.dispatcher, job_id))["status"] == "working"
    assert device.store.job(job_id)["status"] == "working"


async def test_a_photo_for_a_job_closed_meanwhile_is_kept_and_shown(
    client: httpx.AsyncClient, office: Office, device: Device
) -> None:
    (job_id,) = await scheduled_jobs(client, office, 1)
    await synced(device)
    device.network.up = False
    device.actions.transition(job_id, "start_travel")
    photo_id = device.actions.add_photo(job_id, jpeg(9), "image/jpeg")
    await office_moves(client, office, job_id, "cancel", reason="Reprogramado por el cliente")
    device.network.up = True
    await synced(device)
    photo = next(p for p in device.store.job(job_id)["photos"] if p["id"] == photo_id)
    assert photo["upload_state"] == "failed" and await asyncio.to_thread(
        os.path.exists, photo["path"]
    )  # the file stays
    messages = [c["message"] for c in device.store.conflicts() if c["entity_id"] == job_id]
    assert any(m.startswith("No se pudo subir una foto") for m in messages), messages
    assert device.store.pending_uploads_count() == 1  # still counted until the technician deals with it


async def test_an_interrupted_first_sync_resumes_where_it_stopped(
    app: Litestar, client: httpx.AsyncClient, resources: Resources, office: Office, tmp_path: Path
) -> None:
    ids = await scheduled_jobs(client, office, 5)
    device = await open_device(app, resources, tmp_path / "p3" / "c.db", office.tech, bootstrap_limit=2)
    device.network.requests.clear()
    device.network.fail_after = 3  # ping, then two pages of jobs, then the signal goes
    cut = await device.engine.sync_once()
    assert cut.errors == ["offline"] and device.store.cursor() is None
    assert len(device.store.jobs_for_day(tomorrow())) == 4
    device.network.fail_after = None
    device.network.up = True
    device.network.requests.clear()
    await synced(device)
    boots = [u for u in device.network.requests if u.path.endswith("/sync/bootstrap")]
    assert boots[0].params["table"] == "jobs" and boots[0].params["after"]  # not from the first row again
    assert boots[0].params["cursor"]  # the snapshot's cursor, kept from before the cut
    assert [r["id"] for r in device.store.jobs_for_day(tomorrow())] == ids
    assert device.store.cursor() is not None and device.store.get_meta("bootstrap") is None
    await device.api.aclose()
