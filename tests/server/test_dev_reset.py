"""`campotech dev --reset`: a running embedded PostgreSQL and Redis are stopped and their data removed."""

from __future__ import annotations

from pathlib import Path

import psutil

from server.dev import (
    AFIP_MEMORY_FILE,
    AFIP_SANDBOX_DIR,
    MERCADOPAGO_MEMORY_FILE,
    SECRETS_FILE,
    WEB_CLIENT_DIR,
    load_dev_secrets,
    reset_embedded_data,
    write_redis_state,
)
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
    afip = data_dir / AFIP_SANDBOX_DIR
    afip.mkdir(parents=True)
    (afip / AFIP_MEMORY_FILE).write_text('{"receipts": [], "tickets": []}')
    (afip / "ca.crt").write_text("the sandbox CA")
    (data_dir / MERCADOPAGO_MEMORY_FILE).write_text('{"tokens": {"APP_USR-x": 1}, "payments": []}')
    (data_dir / WEB_CLIENT_DIR / "users").mkdir(parents=True)
    dev_secrets = load_dev_secrets(data_dir)
    pg_pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    redis_pid = redis.pid
    try:
        reset_embedded_data(data_dir)  # as a new `campotech dev --reset` finds them after a crash
        assert not _running(pg_pid) and not _running(redis_pid)
        assert not (data_dir / "postgres").exists() and not (data_dir / "redis").exists()
        # what the AFIP sandbox issued belonged to the deleted database; its CA stays (certificates stay valid)
        assert not (afip / AFIP_MEMORY_FILE).exists() and (afip / "ca.crt").exists()
        # the Mercado Pago sandbox forgets the deleted organisations' accounts; the web client its local stores
        assert not (data_dir / MERCADOPAGO_MEMORY_FILE).exists() and not (data_dir / WEB_CLIENT_DIR).exists()
        # the dev application's credentials stay (a browser bookmark, a configured webhook keep working)
        assert (data_dir / SECRETS_FILE).exists() and load_dev_secrets(data_dir) == dev_secrets
    finally:
        redis.stop()
        postgres.stop()
