"""Reading uploaded bytes: a request body under a size limit, and the file parts of a multipart body.

Shared by the controllers that take files (AFIP certificates, job photos); each keeps its own rules
about which part is the file and what to say when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from multipart import (  # type: ignore[import-untyped]  # litestar's own multipart parser
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
    parse_options_header,
)

from server.lib.errors import AppError
from shared.errors import ErrorCode


def too_large(max_bytes: int) -> AppError:
    """413 ``payload_too_large`` with the limit the client may retry under."""
    return AppError(ErrorCode.PAYLOAD_TOO_LARGE, details={"maxBytes": max_bytes})


def content_type_of(request: Request[Any, Any, Any]) -> tuple[str, dict[str, str]]:
    """The media type (lower case, without parameters) and its parameters."""
    return parse_options_header(request.headers.get("content-type", ""))


def multipart_boundary(options: dict[str, str]) -> str:
    """The boundary of a multipart/form-data content type; 400 ``malformed_request`` without one."""
    boundary = options.get("boundary")
    if not boundary:
        raise AppError(ErrorCode.MALFORMED_REQUEST, "Falta el boundary del formulario multipart.")
    return boundary


async def read_body(request: Request[Any, Any, Any], limit: int, *, max_bytes: int | None = None) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes (declared or streamed).

    ``max_bytes`` is the limit the 413 reports (``limit`` when not given)."""
    reported = limit if max_bytes is None else max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(reported)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large(reported)
    return bytes(body)


def multipart_parts(
    body: bytes,
    boundary: str,
    *,
    max_parts: int,
    max_part_bytes: int,
    keep: Callable[[MultipartSegment], bool] = lambda segment: True,
) -> dict[str, bytes]:
    """The parts of a multipart body by field name (the first of a repeated name), those ``keep`` accepts.

    More than ``max_parts`` parts or a part over ``max_part_bytes`` is a 413; an unreadable body a 400."""
    found: dict[str, bytes] = {}
    segment: MultipartSegment | None = None
    data = bytearray()
    try:
        with PushMultipartParser(boundary, max_segment_count=max_parts, max_segment_size=max_part_bytes + 1) as parser:
            for part in parser.parse(body):
                if isinstance(part, MultipartSegment):
                    segment, data = part, bytearray()
                elif part:
                    data.extend(part)
                elif segment is not None:
                    if keep(segment):
                        found.setdefault(segment.name or "", bytes(data))
                    segment = None
            parser.parse(b"")
    except ParserLimitReached:
        raise too_large(max_part_bytes) from None
    except ParserError:
        raise AppError(ErrorCode.MALFORMED_REQUEST, "El formulario multipart no se pudo leer.") from None
    return found
