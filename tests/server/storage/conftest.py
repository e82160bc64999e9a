"""Storage tests: a real S3 endpoint (moto's server on 127.0.0.1, over HTTP) and settings for both backends."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from moto.server import ThreadedMotoServer

from server.settings import Settings, load_settings

S3_ACCESS_KEY_ID = "AKIACAMPOTECHTEST01"
S3_SECRET = "s3-secret-Zq7u9WmT0pX4cV2bN8kL"  # must never show up in an error message or a log line


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def create_bucket(self) -> str:
        name = f"campotech-test-{uuid.uuid4().hex[:12]}"
        response = httpx.put(f"{self.endpoint}/{name}")
        assert response.status_code == 200, response.text
        return name

    def env(self, bucket: str) -> dict[str, str]:
        """The environment of a server configured for this bucket (as an operator would write it)."""
        return {
            "CAMPOTECH_STORAGE_BACKEND": "s3",
            "CAMPOTECH_S3_BUCKET": bucket,
            "CAMPOTECH_S3_ENDPOINT": self.endpoint,
            "CAMPOTECH_S3_REGION": "sa-east-1",
            "CAMPOTECH_S3_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
            "CAMPOTECH_S3_SECRET_ACCESS_KEY": S3_SECRET,
        }


@pytest.fixture(name="s3", scope="session")
def fixture_s3() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture(name="s3_bucket")
def fixture_s3_bucket(s3: S3Server) -> str:
    return s3.create_bucket()


@pytest.fixture(name="storage_settings", params=["local", "s3"])
def fixture_storage_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for each backend, loaded from the environment variables an operator sets."""
    env = {"CAMPOTECH_DATA_DIR": str(tmp_path / "data"), "CAMPOTECH_STORAGE_DIR": str(tmp_path / "files")}
    if request.param == "s3":
        s3: S3Server = request.getfixturevalue("s3")
        env |= s3.env(s3.create_bucket())
    return load_settings(env)
