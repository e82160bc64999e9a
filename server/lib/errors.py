"""Errors → responses: every error is ``{"code", "message", "details", "traceId"}``, never a traceback."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DBAPIError

from server.lib.logging import get_logger
from server.lib.tracing import trace_id_of
from shared.errors import ErrorCode, message_of, status_of
from shared.schemas.base import ErrorBody

log = get_logger("campotech.errors")


class AppError(Exception):
    """A failure a person can act on, with a stable code from ``shared.errors``."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
        status_code: int | None = None,
    ) -> None:
        self.code = code
        self.message = message or message_of(code)
        self.details = details
        self.headers = headers or {}
        self.status_code = status_code or status_of(code)
        super().__init__(self.message)


def error_response(
    request: Request[Any, Any, Any],
    code: ErrorCode,
    message: str | None = None,
    details: Any = None,
    status_code: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    body = ErrorBody(
        code=code.value,
        message=message or message_of(code),
        details=details,
        trace_id=trace_id_of(request.scope),
    )
    return Response(content=body, status_code=status_code or status_of(code), headers=headers or {})


_STATUS_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.MALFORMED_REQUEST,
    401: ErrorCode.AUTH_REQUIRED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}

# PostgreSQL SQLSTATE → our code (CTF01 is raised by the invoice fiscal-lock trigger).
_SQLSTATE_CODES: dict[str, ErrorCode] = {
    "CTF01": ErrorCode.FISCAL_FIELDS_LOCKED,
    "23505": ErrorCode.CONFLICT,  # unique_violation
    "23503": ErrorCode.CONFLICT,  # foreign_key_violation
    "23514": ErrorCode.VALIDATION_FAILED,  # check_violation
    "23502": ErrorCode.VALIDATION_FAILED,  # not_null_violation
    "22P02": ErrorCode.VALIDATION_FAILED,  # invalid_text_representation
    "22001": ErrorCode.VALIDATION_FAILED,  # string_data_right_truncation
    "22003": ErrorCode.VALIDATION_FAILED,  # numeric_value_out_of_range
    "42501": ErrorCode.NOT_FOUND,  # row-level security refused the row: as if it did not exist
    "57014": ErrorCode.SERVICE_UNAVAILABLE,  # query_canceled: a statement timeout (try again later)
}


def sqlstate_of(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if state:
            return str(state)
    return None


def handle_app_error(request: Request[Any, Any, Any], exc: AppError) -> Response[ErrorBody]:
    log.info("request refused", code=exc.code.value, status=exc.status_code, path=request.url.path)
    return error_response(request, exc.code, exc.message, exc.details, exc.status_code, exc.headers)


def handle_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    details = exc.extra if isinstance(exc.extra, list | dict) else None
    fields = (
        [d.get("key") for d in details if isinstance(d, dict) and d.get("key")] if isinstance(details, list) else []
    )
    message = message_of(ErrorCode.VALIDATION_FAILED)
    if fields:
        message = f"Hay datos inválidos en: {', '.join(str(f) for f in fields)}."
    elif exc.detail and "JSON" in str(exc.detail):
        return error_response(request, ErrorCode.MALFORMED_REQUEST, details={"reason": str(exc.detail)})
    return error_response(request, ErrorCode.VALIDATION_FAILED, message, details)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    code = _STATUS_CODES.get(
        exc.status_code, ErrorCode.MALFORMED_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
    )
    status = exc.status_code if exc.status_code in _STATUS_CODES or exc.status_code < 500 else 500
    if status >= 500:
        log.error("server error", status=status, path=request.url.path, detail=str(exc.detail))
    return error_response(request, code, None, exc.extra or None, status, dict(exc.headers or {}))


def handle_database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[ErrorBody]:
    state = sqlstate_of(exc)
    code = _SQLSTATE_CODES.get(state or "")
    if code is None:
        log.error("database error", sqlstate=state, path=request.url.path, exc_info=exc)
        return error_response(request, ErrorCode.INTERNAL_ERROR)
    log.info("database refused", sqlstate=state, code=code.value, path=request.url.path)
    headers = {"Retry-After": "30"} if code is ErrorCode.SERVICE_UNAVAILABLE else None
    return error_response(request, code, details={"sqlstate": state}, headers=headers)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    return error_response(request, ErrorCode.INTERNAL_ERROR)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    AppError: handle_app_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    DBAPIError: handle_database_error,
    Exception: handle_unexpected,
}
