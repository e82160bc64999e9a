"""Blob storage for uploaded files (job photos, thumbnails, signature images).

A small interface of our own rather than advanced-alchemy's ``FileObject`` types: those need
``obstore`` or ``fsspec``, neither of which is a dependency, and the database already records
what we need (``storage_path`` columns), so the interface only moves bytes.

Keys are relative, ``/``-separated paths made by the server (``orgs/<org>/jobs/<job>/...``); never
a client's file name. ``LocalStorage`` keeps them under a folder (``settings.storage_dir``, else
``settings.data_dir / "files"``); writes go to a temporary file first and are renamed into place, so
a reader never sees half a file and a retried write of the same content-addressed key is harmless.

TODO(S3): an S3-compatible backend (``CAMPOTECH_STORAGE_BACKEND=s3``: bucket, endpoint, region,
credentials) implementing the same three methods, e.g. with ``obstore``; add it to
``server.settings.STORAGE_BACKENDS`` and ``storage_for``.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from server.settings import Settings

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class StorageError(Exception):
    """The key is invalid or the object cannot be read."""


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


class LocalStorage:
    """Objects as files under ``root`` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _write(self, key: str, data: bytes) -> None:
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path_of(key).read_bytes)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_of(key).is_file)


def storage_root(settings: Settings) -> Path:
    return settings.storage_dir or settings.data_dir / "files"


def storage_for(settings: Settings) -> Storage:
    if settings.storage_backend == "local":
        return LocalStorage(storage_root(settings))
    raise StorageError(f"unknown storage backend {settings.storage_backend!r}")
