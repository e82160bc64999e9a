"""Job photos and the signature through the API with the S3 backend configured (moto's S3 over HTTP)."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from obstore.store import S3Store
from PIL import Image

from server.asgi import create_app
from server.runtime import Resources
from server.settings import Settings, load_settings
from tests.conftest import running
from tests.server.attachments.test_attachments_api import API, STROKES, create_job, image_bytes, upload
from tests.server.jobs.conftest import Team, fixture_owner, fixture_team, jobs_subscribed
from tests.server.storage.conftest import S3_ACCESS_KEY_ID, S3_SECRET, S3Server

__all__ = ["fixture_owner", "fixture_team", "jobs_subscribed"]


@pytest.fixture(name="s3_app_settings")
def fixture_s3_app_settings(settings: Settings, s3: S3Server, s3_bucket: str, tmp_path: Path) -> Settings:
    """The test settings with photos in an S3 bucket (and a local folder that must stay empty)."""
    s3_settings = load_settings(s3.env(s3_bucket))
    return msgspec.structs.replace(
        settings,
        storage_backend=s3_settings.storage_backend,
        storage_dir=tmp_path / "files",
        s3_bucket=s3_settings.s3_bucket,
        s3_endpoint=s3_settings.s3_endpoint,
        s3_region=s3_settings.s3_region,
        s3_access_key_id=s3_settings.s3_access_key_id,
        s3_secret_access_key=s3_settings.s3_secret_access_key,
    )


@pytest.fixture(name="app")
def fixture_app(s3_app_settings: Settings, resources: Resources) -> Litestar:
    return create_app(s3_app_settings, resources)


async def bucket_object(s3: S3Server, bucket: str, key: str) -> bytes:
    store = S3Store(
        bucket,
        endpoint=s3.endpoint,
        region="sa-east-1",
        access_key_id=S3_ACCESS_KEY_ID,
        secret_access_key=S3_SECRET,
        client_options={"allow_http": True},
    )
    return (await (await store.get_async(key)).bytes_async()).to_bytes()


async def test_photo_and_signature_round_trip_through_s3(
    client: httpx.AsyncClient,
    team: Team,
    s3: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    admin_conn: asyncpg.Connection,
) -> None:
    job = await create_job(client, team, team.tech)
    data = image_bytes("JPEG", (1200, 800))
    created = await upload(client, team.tech, job["id"], data)
    assert created.status_code == 201, created.text
    photo = created.json()

    original = await client.get(photo["url"], headers=team.owner.headers)
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
    assert original.content == data
    thumbnail = await client.get(photo["thumbnailUrl"], headers=team.owner.headers)
    assert thumbnail.status_code == 200
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert image.format == "JPEG" and max(image.size) == 320

    # the bytes are in the bucket, under the key the row names, and nowhere on the local disk
    row = await admin_conn.fetchrow(
        "SELECT storage_path, thumbnail_path FROM job_photos WHERE id = $1", uuid.UUID(photo["id"])
    )
    assert row is not None
    content_hash = hashlib.sha256(data).hexdigest()
    assert row["storage_path"] == f"orgs/{team.owner.org_id}/jobs/{job['id']}/photos/{content_hash}.jpg"
    assert await bucket_object(s3, s3_bucket, row["storage_path"]) == data
    assert await bucket_object(s3, s3_bucket, row["thumbnail_path"]) == thumbnail.content

    signed = await client.put(
        f"{API}/{job['id']}/signature", headers=team.tech.headers, json={"signerName": "Marta", "strokes": STROKES}
    )
    assert signed.status_code == 200, signed.text
    png = await client.get(signed.json()["pngUrl"], headers=team.owner.headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.format == "PNG"
    png_path = await admin_conn.fetchval("SELECT png_path FROM job_signatures WHERE job_id = $1", uuid.UUID(job["id"]))
    assert await bucket_object(s3, s3_bucket, png_path) == png.content
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*.*"))


async def test_an_unavailable_bucket_is_a_503_and_no_photo_is_recorded(
    client: httpx.AsyncClient,
    team: Team,
    s3_app_settings: Settings,
    resources: Resources,
    admin_conn: asyncpg.Connection,
) -> None:
    job = await create_job(client, team, team.tech)
    # a second server whose bucket is gone (deleted by an operator, or a configuration pointing elsewhere)
    broken = create_app(msgspec.structs.replace(s3_app_settings, s3_bucket="campotech-deleted-bucket"), resources)
    transport = httpx.ASGITransport(app=broken, client=("10.9.9.9", 40000))
    async with running(broken), httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        response = await upload(other, team.tech, job["id"], image_bytes("JPEG", (64, 64)))
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "service_unavailable" and "Probá de nuevo" in body["message"]
    assert S3_SECRET not in response.text
    count = await admin_conn.fetchval("SELECT count(*) FROM job_photos WHERE job_id = $1", uuid.UUID(job["id"]))
    assert count == 0
