"""Storage settings: what an operator may write in the environment, and the messages for what is refused."""

from __future__ import annotations

import pytest

from server.settings import SettingsError, load_settings

S3 = {"CAMPOTECH_STORAGE_BACKEND": "s3", "CAMPOTECH_S3_BUCKET": "campotech-fotos"}
PRODUCTION = {
    "CAMPOTECH_ENV": "production",
    "CAMPOTECH_SECRET_KEY": "x" * 40,
    "CAMPOTECH_OTP_DELIVERY": "whatsapp",
    "CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID": "1234567890",
    "CAMPOTECH_WHATSAPP_ACCESS_TOKEN": "EAAG-test-token",
}


def test_local_is_the_default_and_needs_no_s3_settings() -> None:
    settings = load_settings({})
    assert settings.storage_backend == "local" and settings.s3_bucket is None


def test_s3_settings_are_read_from_the_environment() -> None:
    settings = load_settings(
        {
            "CAMPOTECH_STORAGE_BACKEND": " S3 ",
            "CAMPOTECH_S3_BUCKET": " campotech-fotos ",
            "CAMPOTECH_S3_ENDPOINT": "http://127.0.0.1:9000",
            "CAMPOTECH_S3_REGION": "sa-east-1",
            "CAMPOTECH_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "CAMPOTECH_S3_SECRET_ACCESS_KEY": "very-secret",
        }
    )
    assert settings.storage_backend == "s3"
    assert settings.s3_bucket == "campotech-fotos"
    assert settings.s3_endpoint == "http://127.0.0.1:9000"
    assert settings.s3_region == "sa-east-1"
    assert (settings.s3_access_key_id, settings.s3_secret_access_key) == ("AKIAEXAMPLE", "very-secret")
    # AWS itself: no endpoint, credentials from the environment (instance role), default region
    aws = load_settings(S3)
    assert aws.s3_endpoint is None and aws.s3_access_key_id is None and aws.s3_region == "us-east-1"


def test_s3_without_a_bucket_is_refused_with_a_clear_message() -> None:
    with pytest.raises(SettingsError, match="CAMPOTECH_STORAGE_BACKEND=s3 needs CAMPOTECH_S3_BUCKET"):
        load_settings({"CAMPOTECH_STORAGE_BACKEND": "s3"})


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(SettingsError, match="CAMPOTECH_STORAGE_BACKEND must be one of local, s3, got 'gcs'"):
        load_settings({"CAMPOTECH_STORAGE_BACKEND": "gcs"})


@pytest.mark.parametrize(
    "bucket", ["s3://campotech-fotos", "Campotech", "fotos/2026", "ab", "-fotos", "a..b", "x" * 64]
)
def test_a_malformed_bucket_name_is_refused(bucket: str) -> None:
    with pytest.raises(SettingsError, match="CAMPOTECH_S3_BUCKET must be a bucket name"):
        load_settings(S3 | {"CAMPOTECH_S3_BUCKET": bucket})


@pytest.mark.parametrize("endpoint", ["minio:9000", "ftp://minio:9000", "http://", "http://minio:9000/campotech-fotos"])
def test_a_malformed_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(SettingsError, match="CAMPOTECH_S3_ENDPOINT must be the service's http\\(s\\) URL"):
        load_settings(S3 | {"CAMPOTECH_S3_ENDPOINT": endpoint})


def test_production_needs_https_except_on_this_machine() -> None:
    with pytest.raises(SettingsError, match="CAMPOTECH_S3_ENDPOINT must use https in production"):
        load_settings(PRODUCTION | S3 | {"CAMPOTECH_S3_ENDPOINT": "http://minio.internal:9000"})
    for endpoint in ("https://minio.internal:9000", "http://127.0.0.1:9000"):
        assert load_settings(PRODUCTION | S3 | {"CAMPOTECH_S3_ENDPOINT": endpoint}).s3_endpoint == endpoint
    assert load_settings({"CAMPOTECH_S3_ENDPOINT": "http://minio.internal:9000"} | S3).storage_backend == "s3"


@pytest.mark.parametrize(
    "pair",
    [{"CAMPOTECH_S3_ACCESS_KEY_ID": "AKIAEXAMPLE"}, {"CAMPOTECH_S3_SECRET_ACCESS_KEY": "only-the-secret-123"}],
)
def test_half_a_key_pair_is_refused_without_echoing_it(pair: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="go together: set both, or neither") as caught:
        load_settings(S3 | pair)
    assert "only-the-secret-123" not in str(caught.value)


def test_s3_settings_are_ignored_by_the_local_backend() -> None:
    settings = load_settings({"CAMPOTECH_S3_BUCKET": "Not A Bucket", "CAMPOTECH_S3_ACCESS_KEY_ID": "AKIA"})
    assert settings.storage_backend == "local"
