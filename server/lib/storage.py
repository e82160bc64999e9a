"""Blob storage for uploaded files (job photos, thumbnails, signature images).

Callers see one small protocol (``Storage``: put/get/exists); behind it are advanced-alchemy's
file-object backends (``ObstoreBackend`` over ``obstore``), chosen by ``CAMPOTECH_STORAGE_BACKEND``:

``local`` (default)
    a folder (``settings.storage_dir``, else ``settings.data_dir / "files"``). obstore's
    ``LocalStore`` writes each object to a staging file beside it and renames it into place, so a
    reader never sees half a file; the file and its folder are then fsync'ed before ``put`` returns
    (the database row that names the file is committed only after that).
``s3``
    a bucket of AWS S3 or any S3-compatible service (MinIO, R2, ...): ``CAMPOTECH_S3_BUCKET``,
    ``CAMPOTECH_S3_ENDPOINT`` (empty for AWS), ``CAMPOTECH_S3_REGION`` and the access key pair
    (empty: the AWS environment's own credentials, e.g. an instance role). An S3 PUT is atomic.

The database already records what we need (``storage_path`` columns), so the protocol only moves
bytes; the ``FileObject`` column type is not used. Keys are relative, ``/``-separated paths made by
the server (``orgs/<org>/jobs/<job>/...``), checked by ``check_key``; never a client's file name.
Writing a key again replaces it (keys are content-addressed, so a retried upload is harmless).

``get`` of a missing object raises ``FileNotFoundError``; any other failure of the storage itself
(unreachable, missing bucket, refused credentials) is ``StorageUnavailable``, an ``AppError``: the API
answers 503 ``service_unavailable`` and the cause is logged (without credentials).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from advanced_alchemy.types.file_object import FileObject
from advanced_alchemy.types.file_object.backends.obstore import ObstoreBackend
from obstore.store import LocalStore, S3Store

from server.lib.errors import AppError
from server.lib.logging import get_logger
from server.settings import Settings
from shared.errors import ErrorCode

if TYPE_CHECKING:  # typing-only names of obstore
    from obstore.store import ClientConfig, RetryConfig, S3Config

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
# a storage outage should fail a request in seconds, not hang it for obstore's default three minutes
_S3_CONNECT_TIMEOUT = timedelta(seconds=5)
_S3_TIMEOUT = timedelta(seconds=60)
_S3_MAX_RETRIES = 3
_S3_RETRY_TIMEOUT = timedelta(seconds=30)


log = get_logger("campotech.storage")


class StorageError(Exception):
    """The key is invalid, or the storage could not write or read the object (other than "missing")."""


class StorageUnavailable(StorageError, AppError):
    """The storage failed (unreachable, missing bucket, refused credentials): the API answers 503.

    ``detail`` says what failed, for operators (it is logged; never credentials); the person using the
    app gets a Spanish message to try again.
    """

    def __init__(self, detail: str) -> None:
        AppError.__init__(
            self,
            ErrorCode.SERVICE_UNAVAILABLE,
            "No pudimos guardar ni leer el archivo en este momento. Probá de nuevo en unos minutos.",
        )
        self.detail = detail


def _unavailable(action: str, key: str, where: str, exc: BaseException) -> StorageUnavailable:
    detail = f"could not {action} {key!r} in {where}: {_cause(exc)}"
    log.warning("storage unavailable", action=action, object_path=key, storage=where, cause=_cause(exc))
    return StorageUnavailable(detail)


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; ``FileNotFoundError`` when there is none."""
        ...

    async def exists(self, key: str) -> bool: ...


def check_key(key: str) -> str:
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise StorageError(f"invalid storage key {key!r}")
    return key


def _cause(exc: BaseException) -> str:
    """The first line of an obstore error (the rest is a debug dump of the HTTP exchange)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first[:300]


class ObjectStorage:
    """``Storage`` over an advanced-alchemy ``ObstoreBackend``."""

    def __init__(self, backend: ObstoreBackend, *, description: str) -> None:
        self.backend = backend
        self.description = description  # for messages: never carries credentials

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        file = FileObject(backend=self.backend, filename=check_key(key), content_type=content_type, content=data)
        try:
            await file.save_async()
            await self._after_put(key)
        except Exception as exc:  # obstore reports e.g. a missing bucket as FileNotFoundError: not "no object"
            raise _unavailable("store", key, self.description, exc) from exc

    async def _after_put(self, key: str) -> None:
        return None

    async def get(self, key: str) -> bytes:
        check_key(key)
        try:
            return await self.backend.get_content_async(key)
        except FileNotFoundError:
            raise FileNotFoundError(f"no object {key!r} in {self.description}") from None
        except Exception as exc:
            raise _unavailable("read", key, self.description, exc) from exc

    async def exists(self, key: str) -> bool:
        check_key(key)
        try:
            await self.backend.fs.head_async(key)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise _unavailable("look up", key, self.description, exc) from exc
        return True


class LocalStorage(ObjectStorage):
    """Objects as files under ``root`` (created when the storage is made)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        store = LocalStore(prefix=self.root, mkdir=True)
        super().__init__(ObstoreBackend(key="campotech-local", fs=store), description=f"local folder {self.root}")

    def path_of(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    async def _after_put(self, key: str) -> None:
        await asyncio.to_thread(_fsync_file_and_folder, self.path_of(key))


def _fsync_file_and_folder(path: Path) -> None:
    for target in (path, path.parent):
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class S3Storage(ObjectStorage):
    """Objects in an S3 (or S3-compatible) bucket."""

    def __init__(
        self,
        bucket: str,
        *,
        region: str,
        endpoint: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        endpoint = endpoint.rstrip("/") if endpoint else None
        config: S3Config = {"region": region}
        if endpoint:
            config["endpoint"] = endpoint
        if access_key_id and secret_access_key:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        client_options: ClientConfig = {"connect_timeout": _S3_CONNECT_TIMEOUT, "timeout": _S3_TIMEOUT}
        if endpoint and urlsplit(endpoint).scheme == "http":
            client_options["allow_http"] = True
        retry: RetryConfig = {"max_retries": _S3_MAX_RETRIES, "retry_timeout": _S3_RETRY_TIMEOUT}
        store = S3Store(bucket, config=config, client_options=client_options, retry_config=retry)
        self.bucket = bucket
        where = f" at {endpoint}" if endpoint else ""
        super().__init__(ObstoreBackend(key="campotech-s3", fs=store), description=f"S3 bucket {bucket}{where}")


def storage_root(settings: Settings) -> Path:
    return settings.storage_dir or settings.data_dir / "files"


def storage_for(settings: Settings) -> Storage:
    """The storage the settings name (one instance per configuration, so S3 connections are reused)."""
    return _storage(
        settings.storage_backend,
        storage_root(settings),
        settings.s3_bucket,
        settings.s3_endpoint,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
    )


@functools.lru_cache(maxsize=8)
def _storage(
    backend: str,
    root: Path,
    bucket: str | None,
    endpoint: str | None,
    region: str,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> Storage:
    if backend == "local":
        return LocalStorage(root)
    if backend == "s3":
        if not bucket:
            raise StorageError("CAMPOTECH_STORAGE_BACKEND=s3 needs CAMPOTECH_S3_BUCKET")
        return S3Storage(
            bucket,
            region=region,
            endpoint=endpoint,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
    raise StorageError(f"unknown storage backend {backend!r}")
