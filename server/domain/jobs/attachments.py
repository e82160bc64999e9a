"""A job's photos and signature: upload, de-duplicate, store, thumbnail, render, read.

Photos are checked by their bytes, never by the request's content type or file name: JPEG, PNG or
WebP by magic number, then decoded by Pillow (a file that only starts like an image is refused too).
Each photo is content-addressed (SHA-256): the same bytes uploaded again to the same job give back
the existing photo (200 instead of 201), so a phone on a flaky network simply retries the upload.
The original is stored as sent; a JPEG thumbnail of at most ``THUMBNAIL_MAX`` pixels a side beside it.

The signature is the customer's vector strokes (kept in the row) plus a PNG rendered from them. A PUT
replaces it while the job is open.

The job must be one the caller may see (``services.get_job``: a technician only their assigned jobs;
another organisation's job looks missing): everything else is a 404. Uploads are audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.job import Job, JobPhoto, JobSignature
from server.domain.audit.services import record_by
from server.domain.jobs.services import CLOSED, get_job
from server.lib.context import RequestContext
from server.lib.errors import AppError
from server.lib.storage import Storage
from shared.errors import ErrorCode
from shared.ids import new_id
from shared.schemas import attachments as wire

THUMBNAIL_MAX = 320
MAX_PIXELS = 50_000_000  # 50 megapixels: far above any phone camera, far below a decompression bomb
API = "/api/v1/jobs"

# magic number → (content type, file extension, Pillow format)
_JPEG = ("image/jpeg", "jpg", "JPEG")
_PNG = ("image/png", "png", "PNG")
_WEBP = ("image/webp", "webp", "WEBP")


def sniff(data: bytes) -> tuple[str, str, str] | None:
    """The image type of ``data`` by its first bytes, or None when it is not JPEG, PNG or WebP."""
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    return None


def _unsupported(**details: Any) -> AppError:
    return AppError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        "La foto tiene que ser una imagen JPEG, PNG o WebP.",
        details={"accepted": [_JPEG[0], _PNG[0], _WEBP[0]], **details},
    )


def _thumbnail(data: bytes, pillow_format: str) -> bytes:
    """Decode the image (proving it is one) and make a JPEG of at most THUMBNAIL_MAX px a side."""
    try:
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise AppError(
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    "La imagen tiene demasiados píxeles.",
                    details={"maxPixels": MAX_PIXELS, "width": width, "height": height},
                )
            image.load()
            oriented = ImageOps.exif_transpose(image)
            oriented.thumbnail((THUMBNAIL_MAX, THUMBNAIL_MAX))
            if oriented.mode in ("RGBA", "LA") or (oriented.mode == "P" and "transparency" in oriented.info):
                rgba = oriented.convert("RGBA")
                flat = Image.new("RGB", rgba.size, "white")
                flat.paste(rgba, mask=rgba.getchannel("A"))
                oriented = flat
            elif oriented.mode != "RGB":
                oriented = oriented.convert("RGB")
            out = io.BytesIO()
            oriented.save(out, format="JPEG", quality=80, optimize=True)
            return out.getvalue()
    except AppError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _unsupported(problem="undecodable") from exc


# ---------------------------------------------------------------------------------------------- wire


def _photo_wire(photo: JobPhoto) -> wire.Photo:
    base = f"{API}/{photo.job_id}/photos/{photo.id}"
    return wire.Photo(
        id=photo.id,
        job_id=photo.job_id,
        content_type=photo.content_type,
        size_bytes=photo.size_bytes,
        content_hash=photo.content_hash,
        uploaded_by_id=photo.uploaded_by_id,
        created_at=photo.created_at,
        url=base,
        thumbnail_url=f"{base}/thumbnail" if photo.thumbnail_path else None,
    )


def _signature_wire(signature: JobSignature) -> wire.Signature:
    return wire.Signature(
        job_id=signature.job_id,
        signer_name=signature.signer_name,
        strokes=msgspec.convert(signature.strokes or [], list[list[wire.StrokePoint]]),
        png_url=f"{API}/{signature.job_id}/signature.png" if signature.png_path else None,
        created_at=signature.created_at,
        updated_at=signature.updated_at,
    )


async def _audit(
    session: AsyncSession,
    ctx: RequestContext,
    action: str,
    job_id: uuid.UUID,
    after: dict[str, Any],
    trace_id: str | None,
) -> None:
    await record_by(session, ctx, action, "job", job_id, None, after, trace_id)


def _open_job(job: Job) -> None:
    if job.status in CLOSED:
        raise AppError(ErrorCode.JOB_CLOSED, details={"status": str(job.status)})


# ---------------------------------------------------------------------------------------------- photos


@dataclass(frozen=True)
class Upload:
    photo: wire.Photo
    created: bool  # False: these bytes were already this job's photo


async def _photo_by_hash(session: AsyncSession, job_id: uuid.UUID, content_hash: str) -> JobPhoto | None:
    return await session.scalar(
        select(JobPhoto).where(JobPhoto.job_id == job_id, JobPhoto.content_hash == content_hash)
    )


async def upload_photo(
    session: AsyncSession,
    ctx: RequestContext,
    storage: Storage,
    job_id: uuid.UUID,
    data: bytes,
    max_bytes: int,
    trace_id: str | None,
) -> Upload:
    assert ctx.org_id is not None
    job = await get_job(session, ctx, job_id)
    if len(data) > max_bytes:
        raise AppError(ErrorCode.PAYLOAD_TOO_LARGE, details={"maxBytes": max_bytes, "sizeBytes": len(data)})
    if not data:
        raise AppError(
            ErrorCode.VALIDATION_FAILED, "La foto está vacía.", details=[{"key": "file", "problem": "empty"}]
        )
    kind = sniff(data)
    if kind is None:
        raise _unsupported()
    content_type, extension, pillow_format = kind
    content_hash = hashlib.sha256(data).hexdigest()
    existing = await _photo_by_hash(session, job.id, content_hash)
    if existing is not None:  # a retry: the same bytes are already this job's photo
        return Upload(_photo_wire(existing), created=False)
    _open_job(job)
    thumbnail = await asyncio.to_thread(_thumbnail, data, pillow_format)
    folder = f"orgs/{ctx.org_id}/jobs/{job.id}/photos"
    storage_path = f"{folder}/{content_hash}.{extension}"
    thumbnail_path = f"{folder}/{content_hash}.thumb.jpg"
    # content-addressed keys: writing them again on a retry is harmless
    await storage.put(storage_path, data, content_type)
    await storage.put(thumbnail_path, thumbnail, "image/jpeg")
    inserted = await session.scalar(
        insert(JobPhoto)
        .values(
            id=new_id(),
            org_id=ctx.org_id,
            job_id=job.id,
            content_hash=content_hash,
            content_type=content_type,
            size_bytes=len(data),
            storage_path=storage_path,
            thumbnail_path=thumbnail_path,
            uploaded_by_id=ctx.user_id,
        )
        .on_conflict_do_nothing(constraint="uq_job_photos_job_hash")
        .returning(JobPhoto.id)
    )
    photo = await _photo_by_hash(session, job.id, content_hash)
    assert photo is not None
    if inserted is None:  # a concurrent upload of the same bytes won
        return Upload(_photo_wire(photo), created=False)
    after = {
        "photoId": str(photo.id),
        "contentHash": content_hash,
        "contentType": content_type,
        "sizeBytes": len(data),
    }
    await _audit(session, ctx, "job.photo_added", job.id, after, trace_id)
    return Upload(_photo_wire(photo), created=True)


async def list_photos(session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID) -> list[wire.Photo]:
    job = await get_job(session, ctx, job_id)
    rows = await session.scalars(
        select(JobPhoto).where(JobPhoto.job_id == job.id).order_by(JobPhoto.created_at, JobPhoto.id)
    )
    return [_photo_wire(photo) for photo in rows]


async def _photo(session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID, photo_id: uuid.UUID) -> JobPhoto:
    job = await get_job(session, ctx, job_id)
    photo = await session.scalar(select(JobPhoto).where(JobPhoto.id == photo_id, JobPhoto.job_id == job.id))
    if photo is None:
        raise AppError(ErrorCode.NOT_FOUND)
    return photo


async def read_photo(session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID, photo_id: uuid.UUID) -> wire.Photo:
    return _photo_wire(await _photo(session, ctx, job_id, photo_id))


async def _read(storage: Storage, key: str | None) -> bytes:
    if not key:
        raise AppError(ErrorCode.NOT_FOUND)
    try:
        return await storage.get(key)
    except FileNotFoundError:
        raise AppError(ErrorCode.NOT_FOUND, "El archivo no está disponible.") from None


async def photo_bytes(
    session: AsyncSession,
    ctx: RequestContext,
    storage: Storage,
    job_id: uuid.UUID,
    photo_id: uuid.UUID,
    *,
    thumbnail: bool = False,
) -> tuple[bytes, str]:
    """(bytes, content type) of the original or its thumbnail."""
    photo = await _photo(session, ctx, job_id, photo_id)
    if thumbnail:
        return await _read(storage, photo.thumbnail_path), "image/jpeg"
    return await _read(storage, photo.storage_path), photo.content_type


# ---------------------------------------------------------------------------------------------- signature

SIGNATURE_MAX_WIDTH = 800
SIGNATURE_MAX_HEIGHT = 400
SIGNATURE_PAD = 8
SIGNATURE_LINE = 3


def signature_transform(
    strokes: Sequence[Sequence[wire.StrokePoint]],
) -> tuple[float, float, float, tuple[int, int]]:
    """(scale, min x, min y, image size): a point (x, y) is drawn at ``PAD + (x - min x) * scale`` (same for y).

    The drawing is cropped to its bounding box and shrunk (never enlarged) to fit the largest image.
    """
    xs = [p.x for stroke in strokes for p in stroke]
    ys = [p.y for stroke in strokes for p in stroke]
    min_x, min_y = min(xs), min(ys)
    width, height = max(xs) - min_x, max(ys) - min_y
    inner_w, inner_h = SIGNATURE_MAX_WIDTH - 2 * SIGNATURE_PAD, SIGNATURE_MAX_HEIGHT - 2 * SIGNATURE_PAD
    scale = min(1.0, inner_w / width if width else 1.0, inner_h / height if height else 1.0)
    size = (
        max(1, math.ceil(width * scale)) + 2 * SIGNATURE_PAD,
        max(1, math.ceil(height * scale)) + 2 * SIGNATURE_PAD,
    )
    return scale, min_x, min_y, size


def render_signature(strokes: Sequence[Sequence[wire.StrokePoint]]) -> bytes:
    """A PNG (grayscale, white background, black ink) of the strokes."""
    scale, min_x, min_y, size = signature_transform(strokes)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    radius = SIGNATURE_LINE / 2
    for stroke in strokes:
        points = [(SIGNATURE_PAD + (p.x - min_x) * scale, SIGNATURE_PAD + (p.y - min_y) * scale) for p in stroke]
        if len(points) > 1:
            draw.line(points, fill=0, width=SIGNATURE_LINE, joint="curve")
        for x, y in (points[0], points[-1]) if len(points) > 1 else points:  # round caps, and single taps
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


async def save_signature(
    session: AsyncSession,
    ctx: RequestContext,
    storage: Storage,
    job_id: uuid.UUID,
    data: wire.SignatureInput,
    trace_id: str | None,
) -> wire.Signature:
    assert ctx.org_id is not None
    job = await get_job(session, ctx, job_id, lock=True)
    points = sum(len(stroke) for stroke in data.strokes)
    if points > wire.MAX_POINTS:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "La firma tiene demasiados puntos.",
            details=[{"key": "strokes", "problem": "too_many_points", "max": wire.MAX_POINTS, "count": points}],
        )
    signer_name = data.signer_name.strip()
    if not signer_name:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "Indicá el nombre de quien firma.",
            details=[{"key": "signerName", "problem": "blank"}],
        )
    strokes = msgspec.to_builtins(data.strokes)
    existing = await session.scalar(select(JobSignature).where(JobSignature.job_id == job.id))
    if existing is not None and existing.signer_name == signer_name and existing.strokes == strokes:
        return _signature_wire(existing)  # a retry of the same signature
    _open_job(job)
    png = await asyncio.to_thread(render_signature, data.strokes)
    png_hash = hashlib.sha256(png).hexdigest()
    png_path = f"orgs/{ctx.org_id}/jobs/{job.id}/signature/{png_hash}.png"
    await storage.put(png_path, png, "image/png")
    if existing is None:
        signature = JobSignature(
            org_id=ctx.org_id, job_id=job.id, signer_name=signer_name, strokes=strokes, png_path=png_path
        )
        session.add(signature)
    else:
        signature = existing
        signature.signer_name, signature.strokes, signature.png_path = signer_name, strokes, png_path
    await session.flush()
    await session.refresh(signature)
    after = {
        "signerName": signer_name,
        "strokeCount": len(strokes),
        "pointCount": points,
        "pngSha256": png_hash,
        "replaced": existing is not None,
    }
    await _audit(session, ctx, "job.signature_saved", job.id, after, trace_id)
    return _signature_wire(signature)


async def _signature(session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID) -> JobSignature:
    job = await get_job(session, ctx, job_id)
    signature = await session.scalar(select(JobSignature).where(JobSignature.job_id == job.id))
    if signature is None:
        raise AppError(ErrorCode.NOT_FOUND, "El trabajo todavía no tiene firma.")
    return signature


async def read_signature(session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID) -> wire.Signature:
    return _signature_wire(await _signature(session, ctx, job_id))


async def signature_png(session: AsyncSession, ctx: RequestContext, storage: Storage, job_id: uuid.UUID) -> bytes:
    return await _read(storage, (await _signature(session, ctx, job_id)).png_path)
