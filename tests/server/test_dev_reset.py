"""`campotech dev --reset`: a running embedded PostgreSQL and Redis are stopped and their data removed."""

from __future__ import annotations

from pathlib import Path

import psutil

from server.dev import reset_embedded_data, write_redis_state
from server.embedded import EmbeddedPostgres, EmbeddedRedis


def _running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_reset_stops_leftover_servers_and_deletes_their_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    postgres = EmbeddedPostgres(data_dir / "postgres")
    postgres.start()
    redis = EmbeddedRedis(data_dir / "redis")
    redis.start()
    write_redis_state(data_dir, redis.port, redis.pid)
    pg_pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    redis_pid = redis.pid
    try:
        reset_embedded_data(data_dir)  # as a new `campotech dev --reset` finds them after a crash
        assert not _running(pg_pid) and not _running(redis_pid)
        assert not (data_dir / "postgres").exists() and not (data_dir / "redis").exists()
    finally:
        redis.stop()
        postgres.stop()
