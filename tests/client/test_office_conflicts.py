"""The office's side of a sync conflict, through the client against the real server: a job the dispatcher
cancelled while the technician completed it offline shows on the dispatch board with what the technician did,
until the office marks it seen; offline, the board keeps what it showed and says why."""

from __future__ import annotations

from pathlib import Path

import httpx
from litestar import Litestar

from client.api import ApiClient
from client.tokens import MemoryTokenStore
from client.viewmodels.office_conflicts import OfficeConflictsVM
from server.runtime import Resources
from tests.client.conftest import SIGNATURE, SIGNATURE_PNG
from tests.client.test_sync_server import (
    API,
    Device,
    Network,
    Office,
    fixture_device,
    fixture_office,
    office_moves,
    scheduled_jobs,
    synced,
)
from tests.server.auth.conftest import clear_cooldown, fixture_owner, sandbox_code
from tests.server.jobs.conftest import fixture_team, jobs_subscribed

__all__ = ["fixture_device", "fixture_office", "fixture_owner", "fixture_team", "jobs_subscribed"]


async def office_api(app: Litestar, resources: Resources, office: Office, network: Network) -> ApiClient:
    """The dispatcher's client, signed in through the real OTP flow."""
    api = ApiClient("http://testserver", MemoryTokenStore(), transport=network)
    await clear_cooldown(resources, office.dispatcher.phone)
    await api.request_otp(office.dispatcher.phone)
    await api.verify_otp(office.dispatcher.phone, await sandbox_code(resources, office.dispatcher.phone), "Oficina")
    return api


async def test_the_board_shows_a_job_completed_offline_but_cancelled_in_the_office_until_seen(
    app: Litestar,
    client: httpx.AsyncClient,
    resources: Resources,
    office: Office,
    device: Device,
    tmp_path: Path,
) -> None:
    (job_id,) = await scheduled_jobs(client, office, 1)
    await synced(device)
    device.network.up = False  # the technician works in a basement
    device.actions.transition(job_id, "start_travel")
    device.actions.transition(job_id, "start_work")
    device.actions.set_signature(job_id, SIGNATURE, SIGNATURE_PNG)
    device.actions.complete(job_id, "Cambié la válvula de seguridad.", actual_minutes=35)
    await office_moves(client, office, job_id, "cancel", reason="El cliente canceló por teléfono")
    device.network.up = True
    await synced(device)

    network = Network(app)
    api = await office_api(app, resources, office, network)
    try:
        board = OfficeConflictsVM(api)
        rows = await board.refresh()
        mine = [r for r in rows if "Visita 1" in r.title]
        assert mine and board.error is None and board.empty_text is None
        completed = next(r for r in mine if "Terminar trabajo" in r.device)
        assert "canceló" in completed.message  # why the server refused it
        assert "Cambié la válvula de seguridad." in completed.device  # what the technician did is not lost

        network.up = False  # the office loses the connection: the list stays, with the reason
        await board.refresh()
        assert board.error and [r.id for r in board.rows] == [r.id for r in rows]
        network.up = True

        await board.acknowledge(completed.id)
        assert completed.id not in [r.id for r in board.rows]
        listed = await client.get(f"{API}/sync/conflicts", headers=office.dispatcher.headers)
        assert completed.id not in [c["id"] for c in listed.json()["items"]]  # seen, for everyone in the office
        await board.refresh()
        assert completed.id not in [r.id for r in board.rows]
    finally:
        await api.aclose()
