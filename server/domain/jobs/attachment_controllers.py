"""/jobs/{id}/photos and /jobs/{id}/signature: a job's photos (bytes in, bytes out) and the customer's signature."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import Body, FromPath
from multipart import MultipartSegment  # type: ignore[import-untyped]  # litestar's own multipart parser
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.jobs import attachments as services
from server.lib.errors import AppError
from server.lib.storage import Storage, storage_for
from server.lib.tracing import trace_id_of
from server.lib.uploads import content_type_of, multipart_boundary, multipart_parts, read_body
from server.settings import PHOTO_MAX_BYTES_CEILING, Settings
from shared.errors import ErrorCode
from shared.permissions import Permission
from shared.schemas.attachments import Photo, Signature, SignatureInput

READ = [requires(Permission.JOBS_READ_ALL, Permission.JOBS_READ_OWN, any_of=True)]
TRANSITION = [requires(Permission.JOBS_TRANSITION)]

MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around the file in a multipart body
FILE_FIELDS = ("file", "photo")
# bytes are immutable per id (photos are content-addressed; the signature PNG's URL is re-read on change)
PHOTO_CACHE = "private, max-age=31536000, immutable"


def _settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings


def _storage(request: Request[Any, Any, Any]) -> Storage:
    return storage_for(_settings(request))


def _is_file(segment: MultipartSegment) -> bool:
    return segment.filename is not None or segment.name in FILE_FIELDS


def _file_of_multipart(body: bytes, boundary: str, limit: int) -> bytes:
    """The first file part (field ``file`` or ``photo``, else the first part with a file name)."""
    found = multipart_parts(body, boundary, max_parts=20, max_part_bytes=limit, keep=_is_file)
    for name in FILE_FIELDS:
        if name in found:
            return found[name]
    if found:
        return next(iter(found.values()))
    raise AppError(
        ErrorCode.VALIDATION_FAILED,
        "Falta la foto: enviala en el campo 'file'.",
        details=[{"key": "file", "problem": "required"}],
    )


async def read_upload(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The uploaded file: the raw body, or the file part of a multipart/form-data body."""
    media_type, options = content_type_of(request)
    if media_type != "multipart/form-data":
        return await read_body(request, limit)
    boundary = multipart_boundary(options)
    body = await read_body(request, limit + MULTIPART_OVERHEAD)
    return _file_of_multipart(body, boundary, limit)


class JobAttachmentController(Controller):
    path = "/jobs/{job_id:uuid}"
    tags = ["jobs"]

    @post(
        "/photos",
        guards=TRANSITION,
        operation_id="UploadJobPhoto",
        summary="Add a photo: the image bytes as the body, or multipart field 'file' (JPEG, PNG or WebP)",
        description=(
            "The type is read from the bytes (415 otherwise); larger than the limit (10 MB by default) is a 413. "
            "Uploading the same bytes again returns the existing photo with 200 (safe to retry); a new one is 201."
        ),
        request_max_body_size=PHOTO_MAX_BYTES_CEILING + MULTIPART_OVERHEAD,
        status_code=201,
    )
    async def upload_photo(
        self, request: Request[Any, Any, Any], job_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> Response[Photo]:
        ctx = caller(request)
        limit = _settings(request).photo_max_bytes
        # the job first: a job the caller may not see is a 404 whatever the body
        await services.get_job(db_session, ctx, job_id)
        data = await read_upload(request, limit)
        upload = await services.upload_photo(
            db_session, ctx, _storage(request), job_id, data, limit, trace_id_of(request.scope)
        )
        headers = {"Location": upload.photo.url}
        return Response(upload.photo, status_code=201 if upload.created else 200, headers=headers)

    @get("/photos", guards=READ, operation_id="ListJobPhotos", summary="The job's photos, oldest first")
    async def list_photos(
        self, request: Request[Any, Any, Any], job_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> list[Photo]:
        return await services.list_photos(db_session, caller(request), job_id)

    @get(
        "/photos/{photo_id:uuid}",
        guards=READ,
        operation_id="GetJobPhoto",
        summary="The photo's bytes (its own content type)",
        media_type="application/octet-stream",
    )
    async def get_photo(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        photo_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[bytes]:
        data, content_type = await services.photo_bytes(
            db_session, caller(request), _storage(request), job_id, photo_id
        )
        return Response(data, media_type=content_type, headers={"Cache-Control": PHOTO_CACHE})

    @get(
        "/photos/{photo_id:uuid}/thumbnail",
        guards=READ,
        operation_id="GetJobPhotoThumbnail",
        summary="A JPEG of the photo, at most 320 px a side",
        media_type="image/jpeg",
    )
    async def get_thumbnail(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        photo_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[bytes]:
        data, content_type = await services.photo_bytes(
            db_session, caller(request), _storage(request), job_id, photo_id, thumbnail=True
        )
        return Response(data, media_type=content_type, headers={"Cache-Control": PHOTO_CACHE})

    @put(
        "/signature",
        guards=TRANSITION,
        operation_id="PutJobSignature",
        summary="The customer's signature as vector strokes (replaces any earlier one while the job is open)",
    )
    async def put_signature(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        data: Annotated[SignatureInput, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Signature:
        return await services.save_signature(
            db_session, caller(request), _storage(request), job_id, data, trace_id_of(request.scope)
        )

    @get("/signature", guards=READ, operation_id="GetJobSignature", summary="The signature: signer and strokes")
    async def get_signature(
        self, request: Request[Any, Any, Any], job_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> Signature:
        return await services.read_signature(db_session, caller(request), job_id)

    @get(
        "/signature.png",
        guards=READ,
        operation_id="GetJobSignaturePng",
        summary="The signature drawn as a PNG",
        media_type="image/png",
    )
    async def get_signature_png(
        self, request: Request[Any, Any, Any], job_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> Response[bytes]:
        data = await services.signature_png(db_session, caller(request), _storage(request), job_id)
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, no-cache"})


ROUTES = [JobAttachmentController]
