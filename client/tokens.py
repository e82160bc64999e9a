"""Where the session's tokens live: a 0600 file in the app-data folder (Android-safe: no keyring), or memory."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

import msgspec


class StoredTokens(msgspec.Struct, kw_only=True):
    access_token: str
    refresh_token: str
    session_id: str | None = None
    user_id: str | None = None
    org_id: str | None = None
    role: str | None = None
    full_name: str | None = None
    org_name: str | None = None

    def __repr__(self) -> str:  # never print tokens (logs, tracebacks)
        return f"StoredTokens(user_id={self.user_id!r}, org_id={self.org_id!r}, role={self.role!r})"

    __str__ = __repr__


@runtime_checkable
class TokenStore(Protocol):
    def load(self) -> StoredTokens | None: ...

    def save(self, tokens: StoredTokens) -> None: ...

    def clear(self) -> None: ...


class MemoryTokenStore:
    def __init__(self, tokens: StoredTokens | None = None) -> None:
        self._tokens = tokens

    def load(self) -> StoredTokens | None:
        return self._tokens

    def save(self, tokens: StoredTokens) -> None:
        self._tokens = tokens

    def clear(self) -> None:
        self._tokens = None


class FileTokenStore:
    """A JSON file readable only by the app's user (0600), replaced atomically on each save."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> StoredTokens | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return msgspec.json.decode(raw, type=StoredTokens)
        except msgspec.DecodeError:
            return None  # a damaged file is a signed-out device, not a crash

    def save(self, tokens: StoredTokens) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            os.fchmod(fd, 0o600) if hasattr(os, "fchmod") else None
            with os.fdopen(fd, "wb") as f:
                f.write(msgspec.json.encode(tokens))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
