"""The storage protocol (put/get/exists) on both backends: a local folder and a real S3 endpoint over HTTP."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from obstore.store import S3Store

from server.lib.redaction import redact
from server.lib.storage import LocalStorage, S3Storage, Storage, StorageError, StorageUnavailable, storage_for
from server.settings import ENV_VARS, Settings, load_settings
from tests.server.storage.conftest import S3_ACCESS_KEY_ID, S3_SECRET, S3Server

KEY = "orgs/0193a1b2-0000-7000-8000-000000000001/jobs/0193a1b2-0000-7000-8000-000000000002/photos/ab12.jpg"


@pytest.fixture(name="storage")
def fixture_storage(storage_settings: Settings) -> Storage:
    return storage_for(storage_settings)


def s3_client(s3: S3Server, bucket: str) -> S3Store:
    """The bucket seen from outside the application (as an operator's tool would)."""
    return S3Store(
        bucket,
        endpoint=s3.endpoint,
        region="sa-east-1",
        access_key_id=S3_ACCESS_KEY_ID,
        secret_access_key=S3_SECRET,
        client_options={"allow_http": True},
    )


def test_settings_choose_the_backend(storage_settings: Settings, storage: Storage) -> None:
    expected = S3Storage if storage_settings.storage_backend == "s3" else LocalStorage
    assert isinstance(storage, expected)
    assert storage_for(storage_settings) is storage  # one instance (and one S3 connection pool) per configuration


async def test_put_then_get_and_exists(storage: Storage) -> None:
    assert not await storage.exists(KEY)
    data = bytes(range(256)) * 1000
    await storage.put(KEY, data, "image/jpeg")
    assert await storage.exists(KEY)
    assert await storage.get(KEY) == data
    # a folder-like prefix of a key is not an object
    assert not await storage.exists(KEY.rsplit("/", 1)[0])


async def test_writing_a_key_again_replaces_it(storage: Storage) -> None:
    await storage.put(KEY, b"first version", "image/jpeg")
    await storage.put(KEY, b"second", "image/jpeg")
    assert await storage.get(KEY) == b"second"
    await storage.put(KEY, b"second", "image/jpeg")  # a retried upload of the same content is harmless
    assert await storage.get(KEY) == b"second"


async def test_missing_key_is_file_not_found(storage: Storage) -> None:
    await storage.put(KEY, b"x", "image/jpeg")
    missing = KEY.replace("ab12", "cd34")
    assert not await storage.exists(missing)
    with pytest.raises(FileNotFoundError):
        await storage.get(missing)


def _listing(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.mark.parametrize(
    "key",
    ["../escape.txt", "orgs/../../escape.txt", "/etc/passwd", "orgs//a", "orgs/./a", "orgs/a/", "", "a b", "a\\b", "ñ"],
)
async def test_invalid_keys_are_refused_and_nothing_is_written(storage: Storage, tmp_path: Path, key: str) -> None:
    before = _listing(tmp_path)
    with pytest.raises(StorageError, match="invalid storage key"):
        await storage.put(key, b"payload", "image/jpeg")
    with pytest.raises(StorageError, match="invalid storage key"):
        await storage.get(key)
    with pytest.raises(StorageError, match="invalid storage key"):
        await storage.exists(key)
    assert _listing(tmp_path) == before


async def test_a_reader_never_sees_half_a_file(storage: Storage) -> None:
    first, second = b"a" * (6 << 20), b"b" * (6 << 20)
    await storage.put(KEY, first, "image/jpeg")
    seen: list[bytes] = []
    done = asyncio.Event()

    async def read_while_writing() -> None:
        while not done.is_set():
            seen.append(await storage.get(KEY))

    reader = asyncio.create_task(read_while_writing())
    for round_ in range(4):
        await storage.put(KEY, second if round_ % 2 == 0 else first, "image/jpeg")
        await asyncio.sleep(0)
    done.set()
    await reader
    assert seen and all(data in (first, second) for data in seen)


async def test_local_files_live_under_the_configured_folder(tmp_path: Path) -> None:
    storage = storage_for(load_settings({"CAMPOTECH_STORAGE_DIR": str(tmp_path / "fotos")}))
    await storage.put("orgs/o/jobs/j/photos/h.png", b"png bytes", "image/png")
    assert (tmp_path / "fotos/orgs/o/jobs/j/photos/h.png").read_bytes() == b"png bytes"
    # written to a staging file and renamed: nothing else is left beside it
    assert [p.name for p in (tmp_path / "fotos/orgs/o/jobs/j/photos").iterdir()] == ["h.png"]

    default = storage_for(load_settings({"CAMPOTECH_DATA_DIR": str(tmp_path / "data")}))
    await default.put("orgs/o/x.jpg", b"jpeg", "image/jpeg")
    assert (tmp_path / "data/files/orgs/o/x.jpg").read_bytes() == b"jpeg"


async def test_s3_objects_land_in_the_configured_bucket_with_their_content_type(s3: S3Server) -> None:
    bucket, other = s3.create_bucket(), s3.create_bucket()
    storage = storage_for(load_settings(s3.env(bucket)))
    await storage.put(KEY, b"\x89PNG signature", "image/png")
    stored = await s3_client(s3, bucket).get_async(KEY)
    assert (await stored.bytes_async()).to_bytes() == b"\x89PNG signature"
    assert stored.attributes.get("Content-Type") == "image/png"
    assert not await storage_for(load_settings(s3.env(other))).exists(KEY)


async def test_s3_missing_bucket_is_a_storage_error_not_a_missing_file(s3: S3Server) -> None:
    storage = storage_for(load_settings(s3.env("campotech-no-such-bucket")))
    with pytest.raises(StorageUnavailable) as caught:
        await storage.put(KEY, b"x", "image/jpeg")
    assert not isinstance(caught.value, FileNotFoundError)
    assert caught.value.status_code == 503 and caught.value.code.value == "service_unavailable"
    assert "Probá de nuevo" in caught.value.message  # what the person sees
    assert "campotech-no-such-bucket" in caught.value.detail  # what the operator reads in the log
    assert S3_SECRET not in caught.value.detail and S3_SECRET not in repr(storage)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_s3_unreachable_fails_fast_without_the_secret(s3: S3Server) -> None:
    env = s3.env("campotech-fotos") | {"CAMPOTECH_S3_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"}
    storage = storage_for(load_settings(env))
    started = time.monotonic()
    for operation in (storage.put(KEY, b"x", "image/jpeg"), storage.get(KEY), storage.exists(KEY)):
        with pytest.raises(StorageUnavailable) as caught:
            await operation
        assert S3_SECRET not in caught.value.detail
    assert time.monotonic() - started < 30


def test_the_secret_is_redacted_in_logs() -> None:
    event = {"s3_secret_access_key": S3_SECRET, ENV_VARS["s3_secret_access_key"]: S3_SECRET, "bucket": "fotos"}
    assert S3_SECRET not in str(redact(event))
    assert redact(event)["bucket"] == "fotos"
