"""Settings: read from a plain mapping (never the real environment), validated, documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.settings import (
    ENV_VARS,
    PROJECT_ROOT,
    Environment,
    SettingsError,
    load_settings,
    with_user,
)

LONG_SECRET = "s" * 32
# what production needs to deliver login codes (sandbox delivery is refused there)
WHATSAPP = {
    "CAMPOTECH_OTP_DELIVERY": "whatsapp",
    "CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID": "123456789012345",
    "CAMPOTECH_WHATSAPP_ACCESS_TOKEN": "a-system-user-token",
}


def test_defaults_from_an_empty_environment() -> None:
    settings = load_settings({})
    assert settings.env is Environment.DEVELOPMENT
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.app_db_role == "campotech_app"
    assert settings.data_dir == PROJECT_ROOT / ".data"
    assert settings.worker_in_process is False
    assert settings.log_json is True
    assert settings.test_otp is None


def test_whole_numbers_fractions_bools_and_paths_are_parsed() -> None:
    settings = load_settings(
        {
            "CAMPOTECH_PORT": "8123",
            "CAMPOTECH_DB_POOL_SIZE": "3",
            "CAMPOTECH_QUEUE_CONCURRENCY": "7",
            "CAMPOTECH_API_RATE_LIMIT_PER_MINUTE": "120",
            "CAMPOTECH_IDEMPOTENCY_TTL_SECONDS": "60",
            "CAMPOTECH_QUEUE_ORG_SHARE": "0.25",
            "CAMPOTECH_WORKER_IN_PROCESS": "yes",
            "CAMPOTECH_LOG_JSON": "OFF",
            "CAMPOTECH_DATA_DIR": "/tmp/campotech-data",
            "CAMPOTECH_ENV": "test",
        }
    )
    assert settings.port == 8123
    assert settings.db_pool_size == 3
    assert settings.queue_concurrency == 7
    assert settings.api_rate_limit_per_minute == 120
    assert settings.idempotency_ttl_seconds == 60
    assert settings.queue_org_share == 0.25
    assert settings.worker_in_process is True
    assert settings.log_json is False
    assert settings.data_dir == Path("/tmp/campotech-data")
    assert settings.env is Environment.TEST


def test_empty_variables_count_as_unset_and_overrides_win() -> None:
    settings = load_settings({"CAMPOTECH_PORT": "", "CAMPOTECH_HOST": "0.0.0.0"}, host="127.0.0.2", port=None)
    assert settings.port == 8000
    assert settings.host == "127.0.0.2"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"CAMPOTECH_PORT": "eighty"}, "CAMPOTECH_PORT"),
        ({"CAMPOTECH_PORT": "0"}, "CAMPOTECH_PORT"),
        ({"CAMPOTECH_PORT": "70000"}, "CAMPOTECH_PORT"),
        ({"CAMPOTECH_DB_POOL_SIZE": "ten"}, "CAMPOTECH_DB_POOL_SIZE"),
        ({"CAMPOTECH_WORKER_IN_PROCESS": "maybe"}, "CAMPOTECH_WORKER_IN_PROCESS"),
        ({"CAMPOTECH_LOG_JSON": "2"}, "CAMPOTECH_LOG_JSON"),
        ({"CAMPOTECH_QUEUE_ORG_SHARE": "half"}, "CAMPOTECH_QUEUE_ORG_SHARE"),
        ({"CAMPOTECH_QUEUE_ORG_SHARE": "1.5"}, "CAMPOTECH_QUEUE_ORG_SHARE"),
    ],
)
def test_malformed_values_name_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(environ)


def test_production_refuses_a_missing_or_short_secret() -> None:
    with pytest.raises(SettingsError, match="CAMPOTECH_SECRET_KEY"):
        load_settings({"CAMPOTECH_ENV": "production"})
    with pytest.raises(SettingsError, match="CAMPOTECH_SECRET_KEY"):
        load_settings({"CAMPOTECH_ENV": "production", "CAMPOTECH_SECRET_KEY": "short"})
    assert load_settings({"CAMPOTECH_ENV": "production", "CAMPOTECH_SECRET_KEY": LONG_SECRET, **WHATSAPP}).is_production


def test_production_refuses_fixed_test_codes() -> None:
    environ = {
        "CAMPOTECH_ENV": "production",
        "CAMPOTECH_SECRET_KEY": LONG_SECRET,
        "CAMPOTECH_TEST_OTP": "+5491155550001:123456",
    }
    with pytest.raises(SettingsError, match="CAMPOTECH_TEST_OTP"):
        load_settings(environ)
    # the same codes are fine outside production
    assert load_settings({**environ, "CAMPOTECH_ENV": "development"}).test_otp == "+5491155550001:123456"


def test_missing_urls_are_reported_by_name() -> None:
    settings = load_settings({})
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings.require_database_url()
    with pytest.raises(SettingsError, match="REDIS_URL"):
        settings.require_redis_url()
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings.runtime_database_url()


@pytest.mark.parametrize(
    ("database_url", "password", "expected"),
    [
        (
            "postgresql://postgres:secret@db.example:5433/campotech",
            None,
            "postgresql://campotech_app@db.example:5433/campotech",
        ),
        (
            "postgresql://postgres@127.0.0.1/campotech?sslmode=disable",
            "p@ss:word/1",
            "postgresql://campotech_app:p%40ss%3Aword%2F1@127.0.0.1/campotech?sslmode=disable",
        ),
        (
            "postgresql+asyncpg://owner@[::1]:5432/campotech",
            None,
            "postgresql+asyncpg://campotech_app@[::1]:5432/campotech",
        ),
        # pgserver's Unix-socket URLs: no host in the authority, the socket folder in ?host=
        (
            "postgresql://postgres:@/campotech?host=/work/main/.data/postgres",
            None,
            "postgresql://campotech_app@/campotech?host=/work/main/.data/postgres",
        ),
    ],
)
def test_runtime_database_url_connects_as_the_app_role(database_url: str, password: str | None, expected: str) -> None:
    environ = {"DATABASE_URL": database_url}
    if password:
        environ["CAMPOTECH_APP_DB_PASSWORD"] = password
    assert load_settings(environ).runtime_database_url() == expected


def test_runtime_database_url_uses_the_role_named_in_settings() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql://postgres@h/db", "CAMPOTECH_APP_DB_ROLE": "ct_runtime"})
    assert settings.runtime_database_url() == "postgresql://ct_runtime@h/db"


def test_an_explicit_app_database_url_is_used_as_is() -> None:
    explicit = "postgresql://runtime:pw@replica:5432/campotech"
    settings = load_settings({"DATABASE_URL": "postgresql://postgres@h/db", "CAMPOTECH_APP_DATABASE_URL": explicit})
    assert settings.runtime_database_url() == explicit


def test_with_user_keeps_the_socket_folder_query() -> None:
    url = with_user("postgresql://postgres:@/postgres?host=/tmp/pg%20data", "someone", None)
    assert url == "postgresql://someone@/postgres?host=/tmp/pg%20data"


def test_every_variable_is_documented_in_env_example() -> None:
    text = (PROJECT_ROOT / ".env.example").read_text()
    assigned = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE))
    missing = [var for var in ENV_VARS.values() if var not in assigned]
    assert not missing, f"add to .env.example: {missing}"
    lines = text.splitlines()
    for var in ENV_VARS.values():
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{var}="))
        assert index > 0 and lines[index - 1].startswith("# "), f"{var} needs a one-line comment above it"
    # the documented examples must themselves be valid settings (development mode)
    example = {k: v for k, v in assigned.items() if k in ENV_VARS.values()}
    load_settings(example)


def test_otp_delivery_defaults_to_the_sandbox_and_whatsapp_settings_to_meta() -> None:
    settings = load_settings({})
    assert settings.otp_delivery == "sandbox"
    assert settings.whatsapp_api_base == "https://graph.facebook.com"
    assert settings.whatsapp_api_version == "v21.0"
    assert settings.whatsapp_phone_number_id is None and settings.whatsapp_access_token is None
    assert settings.whatsapp_otp_template == "campotech_codigo"
    assert settings.whatsapp_otp_language == "es_AR"


def test_whatsapp_delivery_is_read_from_the_environment() -> None:
    settings = load_settings(
        {
            **WHATSAPP,
            "CAMPOTECH_OTP_DELIVERY": " WhatsApp ",
            "CAMPOTECH_WHATSAPP_API_BASE": "http://127.0.0.1:20001",
            "CAMPOTECH_WHATSAPP_API_VERSION": "v22.0",
            "CAMPOTECH_WHATSAPP_OTP_TEMPLATE": "codigo_acceso",
            "CAMPOTECH_WHATSAPP_OTP_LANGUAGE": "es",
        }
    )
    assert settings.otp_delivery == "whatsapp"
    assert settings.whatsapp_api_base == "http://127.0.0.1:20001" and settings.whatsapp_api_version == "v22.0"
    assert settings.whatsapp_phone_number_id == "123456789012345"
    assert settings.whatsapp_access_token == "a-system-user-token"
    assert settings.whatsapp_otp_template == "codigo_acceso" and settings.whatsapp_otp_language == "es"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"CAMPOTECH_OTP_DELIVERY": "sms"}, "CAMPOTECH_OTP_DELIVERY"),
        ({"CAMPOTECH_OTP_DELIVERY": "whatsapp"}, "CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID"),
        ({**WHATSAPP, "CAMPOTECH_WHATSAPP_ACCESS_TOKEN": ""}, "CAMPOTECH_WHATSAPP_ACCESS_TOKEN"),
        ({**WHATSAPP, "CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID": ""}, "CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID"),
        ({**WHATSAPP, "CAMPOTECH_WHATSAPP_API_BASE": "graph.facebook.com"}, "CAMPOTECH_WHATSAPP_API_BASE"),
        ({**WHATSAPP, "CAMPOTECH_WHATSAPP_API_VERSION": "21"}, "CAMPOTECH_WHATSAPP_API_VERSION"),
    ],
)
def test_otp_delivery_problems_name_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(environ)


def test_production_refuses_sandbox_otp_delivery() -> None:
    environ = {"CAMPOTECH_ENV": "production", "CAMPOTECH_SECRET_KEY": LONG_SECRET}
    with pytest.raises(SettingsError, match="CAMPOTECH_OTP_DELIVERY"):
        load_settings(environ)
    with pytest.raises(SettingsError, match="CAMPOTECH_OTP_DELIVERY=sandbox is refused in production"):
        load_settings({**environ, "CAMPOTECH_OTP_DELIVERY": "sandbox"})
    settings = load_settings({**environ, **WHATSAPP})
    assert settings.is_production and settings.otp_delivery == "whatsapp"
    # the sandbox stays the default everywhere else
    assert load_settings({**environ, "CAMPOTECH_ENV": "test"}).otp_delivery == "sandbox"


def test_production_sends_the_whatsapp_token_over_https_only() -> None:
    environ = {"CAMPOTECH_ENV": "production", "CAMPOTECH_SECRET_KEY": LONG_SECRET, **WHATSAPP}
    with pytest.raises(SettingsError, match="CAMPOTECH_WHATSAPP_API_BASE"):
        load_settings({**environ, "CAMPOTECH_WHATSAPP_API_BASE": "http://graph.example"})
    # a local stand-in (the sandbox, a benchmark) may be plain http
    assert load_settings({**environ, "CAMPOTECH_WHATSAPP_API_BASE": "http://127.0.0.1:20001"}).is_production


def test_a_malformed_test_otp_is_refused_at_start_up() -> None:
    with pytest.raises(SettingsError, match="PHONE:6-DIGIT-CODE"):
        load_settings({"CAMPOTECH_TEST_OTP": "123456"})
    assert load_settings({"CAMPOTECH_TEST_OTP": "+5491155550001:123456"}).test_otp
