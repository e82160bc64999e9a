"""Job photos and signatures through the API, on real PostgreSQL and the local storage in a temporary folder."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image

from server.domain.jobs.attachments import SIGNATURE_PAD, THUMBNAIL_MAX, render_signature, signature_transform
from server.runtime import Resources
from shared.schemas.attachments import StrokePoint
from tests.server.auth.conftest import Session, sign_up
from tests.server.jobs.conftest import Team

API = "/api/v1/jobs"

STROKES = [
    [{"x": 10, "y": 50, "t": 0}, {"x": 110, "y": 50, "t": 40}, {"x": 210, "y": 50, "t": 80}],
    [{"x": 10, "y": 120}, {"x": 210, "y": 120}],
]


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (1200, 800), color: str = "steelblue") -> bytes:
    mode = "RGBA" if fmt == "PNG" else "RGB"
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt)
    return out.getvalue()


async def create_job(client: httpx.AsyncClient, team: Team, technician: Session | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"customerId": team.customer["id"], "title": "Pérdida en el termotanque"}
    if technician is not None:
        body |= {"scheduledStart": "2026-12-01T10:00:00-03:00", "technicianIds": [technician.user_id]}
    response = await client.post(API, headers=team.dispatcher.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def upload(
    client: httpx.AsyncClient, who: Session, job_id: str, data: bytes, content_type: str = "image/jpeg"
) -> httpx.Response:
    return await client.post(
        f"{API}/{job_id}/photos", headers=who.headers | {"Content-Type": content_type}, content=data
    )


def gray(image: Image.Image, x: int, y: int) -> int:
    value = image.getpixel((x, y))
    assert isinstance(value, int)
    return value


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ---------------------------------------------------------------------------------------------- photos


async def test_upload_dedupes_stores_once_and_serves_bytes_and_thumbnail(
    client: httpx.AsyncClient, team: Team, storage_dir: Path, admin_conn: asyncpg.Connection
) -> None:
    job = await create_job(client, team, team.tech)
    data = image_bytes("JPEG", (1200, 800))
    first = await upload(client, team.tech, job["id"], data, content_type="application/octet-stream")
    assert first.status_code == 201, first.text
    photo = first.json()
    assert photo["contentType"] == "image/jpeg" and photo["sizeBytes"] == len(data)
    assert photo["contentHash"] == hashlib.sha256(data).hexdigest()
    assert first.headers["location"] == photo["url"] == f"{API}/{job['id']}/photos/{photo['id']}"

    # the retry of a flaky upload: same bytes → the same photo, 200, nothing stored twice
    again = await upload(client, team.tech, job["id"], data)
    assert again.status_code == 200 and again.json()["id"] == photo["id"]
    files = stored_files(storage_dir)
    assert len(files) == 2  # the original and its thumbnail
    assert sum(1 for f in files if f.read_bytes() == data) == 1
    count = await admin_conn.fetchval("SELECT count(*) FROM job_photos WHERE job_id = $1", uuid.UUID(job["id"]))
    assert count == 1

    original = await client.get(photo["url"], headers=team.tech.headers)
    assert original.status_code == 200 and original.content == data
    assert original.headers["content-type"] == "image/jpeg"
    thumb = await client.get(photo["thumbnailUrl"], headers=team.owner.headers)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.format == "JPEG" and max(image.size) <= THUMBNAIL_MAX
        assert image.size == (320, 213)

    # a PNG (with alpha) and a WebP, sent as multipart, are photos too
    png = image_bytes("PNG", (400, 900), "red")
    multipart = await client.post(
        f"{API}/{job['id']}/photos", headers=team.tech.headers, files={"file": ("foto.png", png, "image/png")}
    )
    assert multipart.status_code == 201, multipart.text
    assert multipart.json()["contentType"] == "image/png"
    webp = await upload(client, team.tech, job["id"], image_bytes("WEBP", (640, 480)), content_type="image/webp")
    assert webp.status_code == 201 and webp.json()["contentType"] == "image/webp"
    thumb = await client.get(multipart.json()["thumbnailUrl"], headers=team.tech.headers)
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert max(image.size) <= THUMBNAIL_MAX and image.size[1] == 320

    listed = await client.get(f"{API}/{job['id']}/photos", headers=team.tech.headers)
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()] == [photo["id"], multipart.json()["id"], webp.json()["id"]]

    actions = await admin_conn.fetch(
        "SELECT action, after FROM audit_log WHERE entity_id = $1 AND action = 'job.photo_added'",
        uuid.UUID(job["id"]),
    )
    assert len(actions) == 3


async def test_oversized_is_413_and_wrong_type_is_415(client: httpx.AsyncClient, team: Team, storage_dir: Path) -> None:
    job = await create_job(client, team, team.tech)
    too_big = b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024)
    response = await upload(client, team.tech, job["id"], too_big)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    response = await client.post(
        f"{API}/{job['id']}/photos", headers=team.tech.headers, files={"file": ("big.jpg", too_big, "image/jpeg")}
    )
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"

    # a text file renamed .jpg, claiming to be a JPEG
    text = b"Presupuesto: cambio de flexible y canilla.\n" * 20
    response = await client.post(
        f"{API}/{job['id']}/photos", headers=team.tech.headers, files={"file": ("foto.jpg", text, "image/jpeg")}
    )
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    response = await upload(client, team.tech, job["id"], text)
    assert response.status_code == 415
    # starts like a JPEG but is not one
    response = await upload(client, team.tech, job["id"], b"\xff\xd8\xff\xe0" + text)
    assert response.status_code == 415
    assert stored_files(storage_dir) == []


async def test_visibility_unassigned_technician_and_other_org_get_404(
    client: httpx.AsyncClient, resources: Resources, team: Team
) -> None:
    job = await create_job(client, team, team.tech)
    photo = (await upload(client, team.tech, job["id"], image_bytes())).json()
    signed = await client.put(
        f"{API}/{job['id']}/signature", headers=team.tech.headers, json={"signerName": "Marta", "strokes": STROKES}
    )
    assert signed.status_code == 200, signed.text
    other = await sign_up(client, resources, "Otra SRL")
    for who in (team.other_tech, other):
        assert (await upload(client, who, job["id"], image_bytes(color="green"))).status_code == 404
        for path in (
            "photos",
            f"photos/{photo['id']}",
            f"photos/{photo['id']}/thumbnail",
            "signature",
            "signature.png",
        ):
            response = await client.get(f"{API}/{job['id']}/{path}", headers=who.headers)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["code"] == "not_found"
        response = await client.put(
            f"{API}/{job['id']}/signature", headers=who.headers, json={"signerName": "X", "strokes": STROKES}
        )
        assert response.status_code == 404
    # a photo id of another job is not found under this one
    other_job = await create_job(client, team, team.tech)
    response = await client.get(f"{API}/{other_job['id']}/photos/{photo['id']}", headers=team.owner.headers)
    assert response.status_code == 404


# ---------------------------------------------------------------------------------------------- signature


async def test_signature_is_stored_rendered_and_replaced(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    job = await create_job(client, team, team.tech)
    assert (await client.get(f"{API}/{job['id']}/signature", headers=team.tech.headers)).status_code == 404
    response = await client.put(
        f"{API}/{job['id']}/signature", headers=team.tech.headers, json={"signerName": " Marta ", "strokes": STROKES}
    )
    assert response.status_code == 200, response.text
    signature = response.json()
    assert signature["signerName"] == "Marta" and len(signature["strokes"]) == 2
    assert signature["strokes"][0][1] == {"x": 110.0, "y": 50.0, "t": 40.0}
    assert signature["pngUrl"] == f"{API}/{job['id']}/signature.png"
    assert (await client.get(f"{API}/{job['id']}/signature", headers=team.owner.headers)).json() == signature

    png = await client.get(signature["pngUrl"], headers=team.owner.headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.format == "PNG"
        pixels = image.convert("L")
        assert pixels.size == (200 + 2 * SIGNATURE_PAD, 70 + 2 * SIGNATURE_PAD)
        # ink where the strokes were (scale 1: a point is drawn at PAD + its offset), paper elsewhere
        for x, y in ((10, 50), (60, 50), (160, 50), (210, 50), (110, 120)):
            assert gray(pixels, SIGNATURE_PAD + x - 10, SIGNATURE_PAD + y - 50) < 64, (x, y)
        assert gray(pixels, SIGNATURE_PAD + 100, SIGNATURE_PAD + 35) == 255  # between the strokes
        assert gray(pixels, 0, 0) == 255
        assert pixels.getextrema() == (0, 255)

    # the same signature again changes nothing; a new one replaces it (one row per job)
    same = await client.put(
        f"{API}/{job['id']}/signature", headers=team.tech.headers, json={"signerName": "Marta", "strokes": STROKES}
    )
    assert same.json()["updatedAt"] == signature["updatedAt"]
    replaced = await client.put(
        f"{API}/{job['id']}/signature",
        headers=team.tech.headers,
        json={"signerName": "Jorge", "strokes": [[{"x": 5, "y": 5}]]},
    )
    assert replaced.status_code == 200 and replaced.json()["signerName"] == "Jorge"
    rows = await admin_conn.fetch("SELECT signer_name FROM job_signatures WHERE job_id = $1", uuid.UUID(job["id"]))
    assert [r["signer_name"] for r in rows] == ["Jorge"]
    saved = await admin_conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE entity_id = $1 AND action = 'job.signature_saved'",
        uuid.UUID(job["id"]),
    )
    assert saved == 2


@pytest.mark.parametrize(
    "body",
    [
        {"signerName": "Marta", "strokes": []},
        {"signerName": "Marta", "strokes": [[]]},
        {"signerName": "Marta", "strokes": [[{"x": 1, "y": 1}]] * 201},
        {"signerName": "Marta", "strokes": [[{"x": -1, "y": 1}]]},
        {"signerName": "Marta", "strokes": [[{"x": 1, "y": 10_001}]]},
        {"signerName": "Marta", "strokes": [[{"x": 1}]]},
        {"signerName": "", "strokes": STROKES},
        {"signerName": "   ", "strokes": STROKES},
        {"strokes": STROKES},
        {"signerName": "Marta", "strokes": [[{"x": 1, "y": 1}] * 2000] * 11},  # over 20,000 points
    ],
)
async def test_invalid_signatures_are_422(client: httpx.AsyncClient, team: Team, body: dict[str, Any]) -> None:
    job = await create_job(client, team, team.tech)
    response = await client.put(f"{API}/{job['id']}/signature", headers=team.tech.headers, json=body)
    assert response.status_code in (400, 422), response.text
    assert response.json()["code"] in ("validation_failed", "malformed_request")


async def test_infinite_coordinates_are_refused(client: httpx.AsyncClient, team: Team) -> None:
    job = await create_job(client, team, team.tech)
    raw = b'{"signerName": "Marta", "strokes": [[{"x": 1e999, "y": 1}]]}'
    response = await client.put(
        f"{API}/{job['id']}/signature",
        headers=team.tech.headers | {"Content-Type": "application/json"},
        content=raw,
    )
    assert response.status_code in (400, 422), response.text


def test_render_shrinks_large_drawings_to_fit() -> None:
    strokes = [[StrokePoint(x=0, y=0), StrokePoint(x=9_000, y=1_000)]]
    scale, _, _, size = signature_transform(strokes)
    assert scale < 1 and size[0] <= 800 and size[1] <= 400
    with Image.open(io.BytesIO(render_signature(strokes))) as image:
        assert image.size == size and image.convert("L").getextrema() == (0, 255)


# ---------------------------------------------------------------------------------------------- completion


async def test_photo_and_signature_satisfy_the_completion_check(client: httpx.AsyncClient, team: Team) -> None:
    job = await create_job(client, team)
    scheduled = await client.post(
        f"{API}/{job['id']}/transitions",
        headers=team.dispatcher.headers,
        json={"event": "schedule", "scheduledStart": "2026-12-01T10:00:00-03:00", "technicianIds": [team.tech.user_id]},
    )
    assert scheduled.status_code == 200, scheduled.text
    for event in ("start_travel", "start_work"):
        response = await client.post(f"{API}/{job['id']}/transitions", headers=team.tech.headers, json={"event": event})
        assert response.status_code == 200, response.text
    refused = await client.post(
        f"{API}/{job['id']}/transitions", headers=team.tech.headers, json={"event": "complete", "actualMinutes": 40}
    )
    assert refused.status_code == 422
    assert refused.json()["details"]["anyOf"] == [["completionNotes", "photos"], ["signature"]]

    assert (await upload(client, team.tech, job["id"], image_bytes())).status_code == 201
    after_photo = await client.post(
        f"{API}/{job['id']}/transitions", headers=team.tech.headers, json={"event": "complete", "actualMinutes": 40}
    )
    assert after_photo.status_code == 422 and after_photo.json()["details"]["anyOf"] == [["signature"]]

    signed = await client.put(
        f"{API}/{job['id']}/signature", headers=team.tech.headers, json={"signerName": "Marta", "strokes": STROKES}
    )
    assert signed.status_code == 200
    done = await client.post(
        f"{API}/{job['id']}/transitions", headers=team.tech.headers, json={"event": "complete", "actualMinutes": 40}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"

    # closed: no new photos or signature; a retried upload of the same bytes still answers with the photo
    assert (await upload(client, team.tech, job["id"], image_bytes())).status_code == 200
    late = await upload(client, team.tech, job["id"], image_bytes(color="yellow"))
    assert late.status_code == 409 and late.json()["code"] == "job_closed"
    resign = await client.put(
        f"{API}/{job['id']}/signature", headers=team.tech.headers, json={"signerName": "Otro", "strokes": STROKES}
    )
    assert resign.status_code == 409
