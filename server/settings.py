"""One typed settings object, read from the environment (``CAMPOTECH_*``, ``DATABASE_URL``, ``REDIS_URL``).

Settings are injected (``create_app(settings)``); nothing reads the environment after start-up.
Every variable is documented in ``.env.example``.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import msgspec

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_API_VERSION = re.compile(r"^v\d+\.\d+$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(ValueError):
    """A variable is missing or malformed; the message names it and says what is expected."""


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 8000
    # The owner connection: migrations and administrative commands. Never used by request handlers.
    database_url: str | None = None
    # The application's runtime connection: a NOSUPERUSER NOBYPASSRLS role. Derived from
    # database_url (same server and database, user ``app_db_role``) when not given.
    app_database_url: str | None = None
    app_db_role: str = "campotech_app"
    app_db_password: str | None = None
    db_pool_size: int = 10
    redis_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".data"
    secret_key: str | None = None
    # Envelope encryption: base64 of 32 random bytes wrapping the data keys (server/lib/keys.py). Outside
    # production a missing key is made once and kept in data_dir (dev-master-key); production refuses it.
    master_key: str | None = None
    admin_token: str | None = None
    log_level: str = "INFO"
    log_json: bool = True
    # Queue worker inside the API process (``campotech dev``) or only in ``campotech worker``.
    worker_in_process: bool = False
    queue_concurrency: int = 10
    # Fairness: at most this share of a queue's concurrency may run for one organisation at once.
    queue_org_share: float = 0.5
    queue_prefix: str = "campotech"
    api_rate_limit_per_minute: int = 600
    idempotency_ttl_seconds: int = 24 * 3600
    test_otp: str | None = None
    # How login codes reach people: "sandbox" (kept in Redis, shown on the dev console; refused in
    # production) or "whatsapp" (an approved authentication template through the Cloud API).
    otp_delivery: str = "sandbox"
    whatsapp_api_base: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v21.0"
    whatsapp_phone_number_id: str | None = None
    whatsapp_access_token: str | None = None
    whatsapp_otp_template: str = "campotech_codigo"
    whatsapp_otp_language: str = "es_AR"
    # Where job photos and signature images are kept (server/lib/storage.py): "local" (a folder,
    # ``data_dir/files`` unless storage_dir is set) or "s3" (a bucket of S3 or an S3-compatible
    # service: endpoint empty for AWS; no key pair = the AWS environment's own credentials).
    storage_backend: str = "local"
    storage_dir: Path | None = None
    s3_bucket: str | None = None
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Largest photo accepted, in bytes (413 above it); at most PHOTO_MAX_BYTES_CEILING
    photo_max_bytes: int = 10 * 1024 * 1024
    # AFIP web services (server/integrations/afip): homologation by default, production's addresses in
    # AFIP_PRODUCTION_URLS; `campotech dev` points all three at the local AFIP sandbox.
    afip_wsaa_url: str = "https://wsaahomo.afip.gov.ar/ws/services/LoginCms"
    afip_wsfe_url: str = "https://wswhomo.afip.gov.ar/wsfev1/service.asmx"
    afip_padron_url: str = "https://awshomo.afip.gov.ar/sr-padron/webservices/personaServiceA5"
    afip_timeout_seconds: int = 30
    # Mercado Pago (server/domain/payments): the platform's application (OAuth client id/secret; each
    # organisation connects its own seller account), the API and authorisation addresses (the local sandbox
    # in `campotech dev` and tests), the webhook secret of the application (one for the platform: MP signs
    # every notification of the application with it), and the public address MP reaches us at
    # (notification_url, OAuth redirect_uri); default http://host:port.
    mercadopago_client_id: str | None = None
    mercadopago_client_secret: str | None = None
    mercadopago_api_base: str = "https://api.mercadopago.com"
    mercadopago_auth_base: str = "https://auth.mercadopago.com"
    mercadopago_webhook_secret: str | None = None
    mercadopago_timeout_seconds: int = 10
    public_base_url: str | None = None

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SettingsError("DATABASE_URL is not set (e.g. postgresql://user@127.0.0.1:5432/campotech)")
        return self.database_url

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise SettingsError("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
        return self.redis_url

    def runtime_database_url(self) -> str:
        """The URL the application connects with (as the non-superuser application role)."""
        if self.app_database_url:
            return self.app_database_url
        return with_user(self.require_database_url(), self.app_db_role, self.app_db_password)


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}

# field name -> environment variable
ENV_VARS: dict[str, str] = {
    "env": "CAMPOTECH_ENV",
    "host": "CAMPOTECH_HOST",
    "port": "CAMPOTECH_PORT",
    "database_url": "DATABASE_URL",
    "app_database_url": "CAMPOTECH_APP_DATABASE_URL",
    "app_db_role": "CAMPOTECH_APP_DB_ROLE",
    "app_db_password": "CAMPOTECH_APP_DB_PASSWORD",
    "db_pool_size": "CAMPOTECH_DB_POOL_SIZE",
    "redis_url": "REDIS_URL",
    "data_dir": "CAMPOTECH_DATA_DIR",
    "secret_key": "CAMPOTECH_SECRET_KEY",
    "master_key": "CAMPOTECH_MASTER_KEY",
    "admin_token": "CAMPOTECH_ADMIN_TOKEN",
    "log_level": "CAMPOTECH_LOG_LEVEL",
    "log_json": "CAMPOTECH_LOG_JSON",
    "worker_in_process": "CAMPOTECH_WORKER_IN_PROCESS",
    "queue_concurrency": "CAMPOTECH_QUEUE_CONCURRENCY",
    "queue_org_share": "CAMPOTECH_QUEUE_ORG_SHARE",
    "queue_prefix": "CAMPOTECH_QUEUE_PREFIX",
    "api_rate_limit_per_minute": "CAMPOTECH_API_RATE_LIMIT_PER_MINUTE",
    "idempotency_ttl_seconds": "CAMPOTECH_IDEMPOTENCY_TTL_SECONDS",
    "test_otp": "CAMPOTECH_TEST_OTP",
    "otp_delivery": "CAMPOTECH_OTP_DELIVERY",
    "whatsapp_api_base": "CAMPOTECH_WHATSAPP_API_BASE",
    "whatsapp_api_version": "CAMPOTECH_WHATSAPP_API_VERSION",
    "whatsapp_phone_number_id": "CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID",
    "whatsapp_access_token": "CAMPOTECH_WHATSAPP_ACCESS_TOKEN",
    "whatsapp_otp_template": "CAMPOTECH_WHATSAPP_OTP_TEMPLATE",
    "whatsapp_otp_language": "CAMPOTECH_WHATSAPP_OTP_LANGUAGE",
    "storage_backend": "CAMPOTECH_STORAGE_BACKEND",
    "storage_dir": "CAMPOTECH_STORAGE_DIR",
    "s3_bucket": "CAMPOTECH_S3_BUCKET",
    "s3_endpoint": "CAMPOTECH_S3_ENDPOINT",
    "s3_region": "CAMPOTECH_S3_REGION",
    "s3_access_key_id": "CAMPOTECH_S3_ACCESS_KEY_ID",
    "s3_secret_access_key": "CAMPOTECH_S3_SECRET_ACCESS_KEY",
    "photo_max_bytes": "CAMPOTECH_PHOTO_MAX_BYTES",
    "afip_wsaa_url": "CAMPOTECH_AFIP_WSAA_URL",
    "afip_wsfe_url": "CAMPOTECH_AFIP_WSFE_URL",
    "afip_padron_url": "CAMPOTECH_AFIP_PADRON_URL",
    "afip_timeout_seconds": "CAMPOTECH_AFIP_TIMEOUT_SECONDS",
    "mercadopago_client_id": "CAMPOTECH_MERCADOPAGO_CLIENT_ID",
    "mercadopago_client_secret": "CAMPOTECH_MERCADOPAGO_CLIENT_SECRET",
    "mercadopago_api_base": "CAMPOTECH_MERCADOPAGO_API_BASE",
    "mercadopago_auth_base": "CAMPOTECH_MERCADOPAGO_AUTH_BASE",
    "mercadopago_webhook_secret": "CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET",
    "mercadopago_timeout_seconds": "CAMPOTECH_MERCADOPAGO_TIMEOUT_SECONDS",
    "public_base_url": "CAMPOTECH_PUBLIC_BASE_URL",
}

AFIP_PRODUCTION_URLS = {
    "afip_wsaa_url": "https://wsaa.afip.gov.ar/ws/services/LoginCms",
    "afip_wsfe_url": "https://servicios1.afip.gov.ar/wsfev1/service.asmx",
    "afip_padron_url": "https://aws.afip.gov.ar/sr-padron/webservices/personaServiceA5",
}

OTP_DELIVERIES = ("sandbox", "whatsapp")
STORAGE_BACKENDS = ("local", "s3")
# S3 bucket names: 3 to 63 lowercase letters, digits, dots and hyphens, a letter or digit at each end
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
PHOTO_MAX_BYTES_CEILING = 50 * 1024 * 1024  # the upload route's hard body limit leaves room above it


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from an environment mapping (``os.environ`` by default) plus explicit overrides."""
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for field, var in ENV_VARS.items():
        if var in environ and environ[var] != "":
            raw[field] = environ[var]
    raw.update({k: v for k, v in overrides.items() if v is not None})
    for field in (
        "port",
        "db_pool_size",
        "queue_concurrency",
        "api_rate_limit_per_minute",
        "idempotency_ttl_seconds",
        "photo_max_bytes",
        "afip_timeout_seconds",
        "mercadopago_timeout_seconds",
    ):
        if isinstance(raw.get(field), str):
            try:
                raw[field] = int(str(raw[field]))
            except ValueError:
                raise SettingsError(f"{ENV_VARS[field]} must be a whole number, got {raw[field]!r}") from None
    if isinstance(raw.get("otp_delivery"), str):
        raw["otp_delivery"] = str(raw["otp_delivery"]).strip().lower()
    if isinstance(raw.get("queue_org_share"), str):
        try:
            raw["queue_org_share"] = float(str(raw["queue_org_share"]))
        except ValueError:
            raise SettingsError("CAMPOTECH_QUEUE_ORG_SHARE must be a number between 0 and 1") from None
    for field in ("log_json", "worker_in_process"):
        value = raw.get(field)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in _BOOL_TRUE | _BOOL_FALSE:
                raise SettingsError(f"{ENV_VARS[field]} must be true or false, got {value!r}")
            raw[field] = lowered in _BOOL_TRUE
    if "data_dir" in raw:
        raw["data_dir"] = Path(str(raw["data_dir"]))
    if "storage_dir" in raw:
        raw["storage_dir"] = Path(str(raw["storage_dir"]))
    if isinstance(raw.get("storage_backend"), str):
        raw["storage_backend"] = str(raw["storage_backend"]).strip().lower()
    for field in ("s3_bucket", "s3_endpoint", "s3_region"):
        if isinstance(raw.get(field), str):
            raw[field] = str(raw[field]).strip()
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid settings: {exc}") from None
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if not 0 < settings.port < 65536:
        raise SettingsError(f"CAMPOTECH_PORT must be between 1 and 65535, got {settings.port}")
    if not 0 < settings.queue_org_share <= 1:
        raise SettingsError("CAMPOTECH_QUEUE_ORG_SHARE must be greater than 0 and at most 1")
    _validate_otp_delivery(settings)
    _validate_test_otp(settings)
    _validate_master_key(settings)
    _validate_storage(settings)
    _validate_mercadopago(settings)
    if not 0 < settings.photo_max_bytes <= PHOTO_MAX_BYTES_CEILING:
        raise SettingsError(
            f"CAMPOTECH_PHOTO_MAX_BYTES must be between 1 and {PHOTO_MAX_BYTES_CEILING}, got {settings.photo_max_bytes}"
        )
    if settings.is_production:
        if not settings.secret_key or len(settings.secret_key) < 32:
            raise SettingsError("CAMPOTECH_SECRET_KEY must be set to at least 32 characters in production")
        if settings.test_otp:
            raise SettingsError("CAMPOTECH_TEST_OTP (fixed test codes) is refused in production mode")
        if settings.otp_delivery == "sandbox":
            raise SettingsError(
                "CAMPOTECH_OTP_DELIVERY=sandbox is refused in production (login codes would never leave the "
                "server): set CAMPOTECH_OTP_DELIVERY=whatsapp with CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID and "
                "CAMPOTECH_WHATSAPP_ACCESS_TOKEN"
            )


MASTER_KEY_BYTES = 32
MASTER_KEY_MISSING_MESSAGE = (
    "CAMPOTECH_MASTER_KEY must be set in production: base64 of 32 random bytes, e.g. the output of "
    '`python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"` '
    "(it encrypts the AFIP keys and other secrets; keep it out of the database and its backups)"
)


def _validate_master_key(settings: Settings) -> None:
    """A master key, when given, is base64 of 32 bytes. (Production without one is refused where the key is
    first needed, ``server.lib.keys.provider_from_settings``, with ``MASTER_KEY_MISSING_MESSAGE``.)"""
    if settings.master_key is None:
        return
    try:
        raw = base64.b64decode(settings.master_key.strip(), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != MASTER_KEY_BYTES:
        raise SettingsError("CAMPOTECH_MASTER_KEY must be base64 of exactly 32 bytes (44 characters ending in '=')")


def _validate_storage(settings: Settings) -> None:
    if settings.storage_backend not in STORAGE_BACKENDS:
        raise SettingsError(
            f"CAMPOTECH_STORAGE_BACKEND must be one of {', '.join(STORAGE_BACKENDS)}, got {settings.storage_backend!r}"
        )
    if settings.storage_backend != "s3":
        return
    if not settings.s3_bucket:
        raise SettingsError(
            "CAMPOTECH_STORAGE_BACKEND=s3 needs CAMPOTECH_S3_BUCKET: the name of the bucket that keeps the photos "
            "(e.g. campotech-archivos)"
        )
    if not _S3_BUCKET.match(settings.s3_bucket) or ".." in settings.s3_bucket:
        raise SettingsError(
            "CAMPOTECH_S3_BUCKET must be a bucket name (3 to 63 lowercase letters, digits, dots or hyphens; "
            f"no s3:// and no folder), got {settings.s3_bucket!r}"
        )
    if settings.s3_endpoint:
        endpoint = urlsplit(settings.s3_endpoint)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname or endpoint.path.strip("/"):
            raise SettingsError(
                "CAMPOTECH_S3_ENDPOINT must be the service's http(s) URL without a path "
                f"(e.g. https://minio.example:9000; empty for AWS), got {settings.s3_endpoint!r}"
            )
        if settings.is_production and endpoint.scheme != "https" and endpoint.hostname not in _LOOPBACK:
            raise SettingsError("CAMPOTECH_S3_ENDPOINT must use https in production (photos travel through it)")
    if not settings.s3_region.strip():
        raise SettingsError("CAMPOTECH_S3_REGION must not be empty (e.g. us-east-1, sa-east-1)")
    if bool(settings.s3_access_key_id) != bool(settings.s3_secret_access_key):
        raise SettingsError(
            "CAMPOTECH_S3_ACCESS_KEY_ID and CAMPOTECH_S3_SECRET_ACCESS_KEY go together: set both, or neither to use "
            "the AWS environment's own credentials (e.g. an instance role)"
        )


def _validate_test_otp(settings: Settings) -> None:
    """Fixed test codes must parse at start-up (a typo would otherwise be a 500 at the first sign-in)."""
    if not settings.test_otp:
        return
    from server.domain.auth.otp import parse_test_otp

    try:
        parse_test_otp(settings.test_otp)
    except ValueError as exc:
        raise SettingsError(f"{exc} (e.g. +5491155550001:123456,+5491155550002:123456)") from None


def _validate_mercadopago(settings: Settings) -> None:
    """Mercado Pago's addresses are http(s) URLs; production refuses the sandbox (loopback, plain http,
    sandbox credentials) and half a configuration (client id, secret and webhook secret go together)."""
    for field in ("mercadopago_api_base", "mercadopago_auth_base", "public_base_url"):
        value = getattr(settings, field)
        if value is None:
            continue
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise SettingsError(f"{ENV_VARS[field]} must be an http(s) URL, got {value!r}")
    if not 1 <= settings.mercadopago_timeout_seconds <= 120:
        raise SettingsError("CAMPOTECH_MERCADOPAGO_TIMEOUT_SECONDS must be between 1 and 120")
    if not settings.is_production:
        return
    fields = ("mercadopago_client_id", "mercadopago_client_secret", "mercadopago_webhook_secret")
    given = [field for field in fields if getattr(settings, field)]
    if not given:
        return  # Mercado Pago not offered: payments are recorded by hand
    missing = [ENV_VARS[field] for field in fields if field not in given]
    if missing:
        raise SettingsError(f"Mercado Pago needs {', '.join(missing)} too (or none of them to switch it off)")
    for field in ("mercadopago_api_base", "mercadopago_auth_base", "public_base_url"):
        value = getattr(settings, field)
        if value is None:
            raise SettingsError(f"{ENV_VARS[field]} must be set in production (Mercado Pago calls us back there)")
        url = urlsplit(value)
        if url.scheme != "https" or url.hostname in _LOOPBACK:
            raise SettingsError(
                f"{ENV_VARS[field]} must be a public https address in production (the local Mercado Pago sandbox "
                f"is for development), got {value!r}"
            )
    if (
        str(settings.mercadopago_client_id).lower().startswith("sandbox")
        or len(str(settings.mercadopago_webhook_secret)) < 16
    ):
        raise SettingsError(
            "CAMPOTECH_MERCADOPAGO_CLIENT_ID / CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET look like the sandbox's: use the "
            "application's real credentials (Mercado Pago Developers > Tus integraciones)"
        )


def _validate_otp_delivery(settings: Settings) -> None:
    if settings.otp_delivery not in OTP_DELIVERIES:
        raise SettingsError(
            f"CAMPOTECH_OTP_DELIVERY must be one of {', '.join(OTP_DELIVERIES)}, got {settings.otp_delivery!r}"
        )
    if settings.otp_delivery == "whatsapp":
        missing = [
            ENV_VARS[field]
            for field in ("whatsapp_phone_number_id", "whatsapp_access_token")
            if not getattr(settings, field)
        ]
        if missing:
            raise SettingsError(f"CAMPOTECH_OTP_DELIVERY=whatsapp needs {' and '.join(missing)}")
        base = urlsplit(settings.whatsapp_api_base)
        if base.scheme not in ("http", "https") or not base.netloc:
            raise SettingsError(
                f"CAMPOTECH_WHATSAPP_API_BASE must be an http(s) URL, got {settings.whatsapp_api_base!r}"
            )
        if settings.is_production and base.scheme != "https" and base.hostname not in _LOOPBACK:
            raise SettingsError("CAMPOTECH_WHATSAPP_API_BASE must use https in production (it carries the token)")
        if not _API_VERSION.match(settings.whatsapp_api_version):
            raise SettingsError(
                f"CAMPOTECH_WHATSAPP_API_VERSION must look like v21.0, got {settings.whatsapp_api_version!r}"
            )
        if not settings.whatsapp_otp_template.strip() or not settings.whatsapp_otp_language.strip():
            raise SettingsError("CAMPOTECH_WHATSAPP_OTP_TEMPLATE and CAMPOTECH_WHATSAPP_OTP_LANGUAGE must not be empty")


def with_user(url: str, user: str, password: str | None) -> str:
    """The same server and database as ``url``, connecting as another user."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = quote(user, safe="")
    if password:
        netloc += ":" + quote(password, safe="")
    netloc += "@" + host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def asyncpg_url(url: str) -> str:
    """SQLAlchemy URL using the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise SettingsError(f"DATABASE_URL must be a postgresql:// URL, got scheme of {url.split(':', 1)[0]!r}")


def plain_pg_url(url: str) -> str:
    """libpq/asyncpg URL without the SQLAlchemy driver suffix."""
    return "postgresql://" + asyncpg_url(url)[len("postgresql+asyncpg://") :]
