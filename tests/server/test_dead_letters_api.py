"""/api/v1/admin/dead-letters: admin token, list with filters and pages, retry, discard, unknown ids."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import msgspec
import pytest
from saq.job import Job, Status

from server.asgi import create_app
from server.lib.queue import QueueRegistry, store_dead_letter
from server.runtime import Resources
from server.settings import Settings
from tests.conftest import running

BASE = "/api/v1/admin/dead-letters"

StoreDead = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture(name="queues")
async def fixture_queues(settings: Settings, resources: Resources) -> AsyncIterator[QueueRegistry]:
    """A queue registry of this test's own (own prefix), installed in resources while the test runs."""
    previous = resources.queues
    registry = QueueRegistry(
        msgspec.structs.replace(settings, queue_prefix=f"tq{uuid.uuid4().hex[:8]}"), resources, tasks=[]
    )
    resources.queues = registry
    try:
        yield registry
    finally:
        resources.queues = previous
        await registry.close()


@pytest.fixture(name="admin_client")
async def fixture_admin_client(queues: QueueRegistry, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, queues.resources)
    async with (
        running(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"X-Admin-Token": settings.admin_token or ""},
        ) as client,
    ):
        yield client


@pytest.fixture(name="store_dead")
async def fixture_store_dead(resources: Resources, admin_conn: asyncpg.Connection) -> StoreDead:
    """Start from an empty dead-letter table; store dead letters as the workers do."""
    await admin_conn.execute("DELETE FROM dead_letter_jobs")

    async def store(queue: str = "afip", function: str = "tests.fake.emit_invoice", **kwargs: object) -> uuid.UUID:
        job = Job(
            function=function,
            kwargs={"invoice_id": "inv-1", "api_token": "very-secret", **kwargs},
            attempts=5,
            retries=5,
            status=Status.FAILED,
            error='Traceback (most recent call last):\n  File "x.py"\nTimeoutError: AFIP did not answer',
        )
        return await store_dead_letter(resources.sessionmaker, queue, job)

    return store


async def test_admin_token_is_required(admin_client: httpx.AsyncClient, store_dead: StoreDead) -> None:
    dead_id = await store_dead()
    for headers in ({"X-Admin-Token": ""}, {"X-Admin-Token": "wrong-token"}):
        for method, path in (
            ("GET", BASE),
            ("POST", f"{BASE}/{dead_id}/retry"),
            ("POST", f"{BASE}/{dead_id}/discard"),
        ):
            response = await admin_client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["code"] == "admin_token_invalid"
    response = await admin_client.get(BASE, headers={"X-Admin-Token": "test-admin-token-0123456789abcdeF"})
    assert response.status_code == 401


async def test_without_a_configured_token_everyone_is_refused(
    settings: Settings, queues: QueueRegistry, store_dead: StoreDead
) -> None:
    app = create_app(msgspec.structs.replace(settings, admin_token=None), queues.resources)
    async with (
        running(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        for headers in ({}, {"X-Admin-Token": ""}, {"X-Admin-Token": "None"}):
            response = await client.get(BASE, headers=headers)
            assert response.status_code == 401
            assert response.json()["code"] == "admin_token_invalid"


async def test_list_filters_and_pages(admin_client: httpx.AsyncClient, store_dead: StoreDead) -> None:
    org_id = uuid.uuid4()
    first = await store_dead("afip", org_id=str(org_id))
    second = await store_dead("afip")
    third = await store_dead("payments", function="tests.fake.charge")

    response = await admin_client.get(BASE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 3 and body["limit"] == 50 and body["offset"] == 0
    assert [item["id"] for item in body["items"]] == [str(third), str(second), str(first)]
    item = body["items"][2]
    assert set(item) == {
        "id",
        "queue",
        "function",
        "jobKey",
        "orgId",
        "kwargs",
        "error",
        "attempts",
        "status",
        "failedAt",
        "resolvedAt",
    }
    assert item["orgId"] == str(org_id)
    assert item["status"] == "dead" and item["attempts"] == 5 and item["resolvedAt"] is None
    assert "TimeoutError: AFIP did not answer" in item["error"]
    assert item["kwargs"]["invoice_id"] == "inv-1"
    assert item["kwargs"]["api_token"] == "[redacted]"  # shown redacted; a retry uses the stored value

    by_queue = (await admin_client.get(BASE, params={"queue": "payments"})).json()
    assert [i["id"] for i in by_queue["items"]] == [str(third)] and by_queue["total"] == 1
    page = (await admin_client.get(BASE, params={"limit": 1, "offset": 1})).json()
    assert [i["id"] for i in page["items"]] == [str(second)] and page["total"] == 3
    assert (await admin_client.get(BASE, params={"status": "retried"})).json()["total"] == 0
    assert (await admin_client.get(BASE, params={"limit": 0})).status_code == 422
    assert (await admin_client.get(BASE, params={"status": "zombie"})).status_code == 422

    one = await admin_client.get(f"{BASE}/{first}")
    assert one.status_code == 200 and one.json()["id"] == str(first)


async def test_retry_enqueues_the_same_task_again(
    admin_client: httpx.AsyncClient, queues: QueueRegistry, store_dead: StoreDead
) -> None:
    dead_id = await store_dead("afip", org_id="0190e8a4-0000-7000-8000-000000000001")

    response = await admin_client.post(f"{BASE}/{dead_id}/retry")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deadLetter"]["status"] == "retried" and body["deadLetter"]["resolvedAt"] is not None

    job = await queues.queue("afip").job(body["jobKey"])
    assert job is not None and job.status is Status.QUEUED
    assert job.function == "tests.fake.emit_invoice"
    assert job.kwargs == {
        "invoice_id": "inv-1",
        "api_token": "very-secret",
        "org_id": "0190e8a4-0000-7000-8000-000000000001",
    }
    assert job.meta == {"retry_of": str(dead_id)}

    again = await admin_client.post(f"{BASE}/{dead_id}/retry")
    assert again.status_code == 409 and again.json()["details"]["status"] == "retried"
    listed = (await admin_client.get(BASE, params={"status": "retried"})).json()
    assert [i["id"] for i in listed["items"]] == [str(dead_id)]


async def test_discard_marks_it(admin_client: httpx.AsyncClient, store_dead: StoreDead) -> None:
    dead_id = await store_dead()
    response = await admin_client.post(f"{BASE}/{dead_id}/discard")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "discarded" and response.json()["resolvedAt"] is not None
    assert (await admin_client.post(f"{BASE}/{dead_id}/discard")).status_code == 409
    assert (await admin_client.post(f"{BASE}/{dead_id}/retry")).status_code == 409


async def test_unknown_id_is_not_found(admin_client: httpx.AsyncClient, store_dead: StoreDead) -> None:
    missing = uuid.uuid4()
    for method, path in (
        ("GET", f"{BASE}/{missing}"),
        ("POST", f"{BASE}/{missing}/retry"),
        ("POST", f"{BASE}/{missing}/discard"),
    ):
        response = await admin_client.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "dead_letter_not_found"
