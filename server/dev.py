"""`campotech dev` (embedded PostgreSQL + Redis, migrations, demo data, API + worker in one process)
and `campotech serve` (the API on DATABASE_URL / REDIS_URL).

The embedded servers live under ``settings.data_dir`` (``postgres/``, ``redis/``) and survive between
runs; ``--reset`` starts them clean. On Ctrl-C or SIGTERM the API stops first (its lifespan stops the
queue worker), then Redis, then PostgreSQL; the same happens when start-up fails halfway.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
import psutil

from server.domain.demo.seed import DEMO_CODE, DEMO_TEST_OTP, DemoSummary, seed_demo
from server.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from server.runtime import Resources
from server.settings import Settings, load_settings, plain_pg_url

DEV_DATABASE = "campotech"
SECRETS_FILE = "dev-secrets.json"
REDIS_STATE_FILE = "dev-redis.json"  # in data_dir: the embedded Redis port (kept across --reset) and its pid
LOCK_FILE = "dev.lock"
GRACEFUL_SHUTDOWN_SECONDS = 2.0  # open HTTP connections get this long before being closed
PROCESS_STOP_SECONDS = 5.0
HIGHEST_FIXED_PORT = 32767  # 32768+ is the range for outgoing connections on these machines


class DevError(RuntimeError):
    """A problem the person running the command can fix; the message says how."""


@dataclass(frozen=True)
class DevOptions:
    port: int | None = None
    host: str | None = None
    reset: bool = False
    worker: bool = True


@dataclass(frozen=True)
class Backends:
    """Where PostgreSQL and Redis are, and whether this process started them."""

    database_url: str  # owner/superuser URL of the application database
    redis_url: str
    postgres_embedded: bool
    redis_embedded: bool


def say(line: str = "") -> None:
    """Console output for the person at the terminal (logs go to stderr)."""
    print(line, flush=True)


# --- signals ------------------------------------------------------------------------------------


class ShutdownSignals:
    """SIGINT/SIGTERM while starting: unwind (KeyboardInterrupt), so every started server is stopped.

    While serving, uvicorn handles the signals itself (and re-raises them here afterwards); any signal
    after the first, and any signal once serving began, is only noted so the orderly stop goes on.
    """

    HANDLED = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: list[int] = []
        self.unwinding_allowed = True
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> ShutdownSignals:
        for sig in self.HANDLED:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def requested(self) -> bool:
        return bool(self.received)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside, a signal is only noted (starting a server must not be cut in half); honoured on leaving."""
        allowed = self.unwinding_allowed
        self.unwinding_allowed = False
        try:
            yield
        finally:
            self.unwinding_allowed = allowed
        if allowed and self.requested:
            raise KeyboardInterrupt

    def stop_unwinding(self) -> None:
        """From now on (serving, stopping) signals never interrupt what is running."""
        self.unwinding_allowed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = not self.received
        self.received.append(signum)
        if first and self.unwinding_allowed:
            raise KeyboardInterrupt


# --- the data folder ----------------------------------------------------------------------------


@contextlib.contextmanager
def exclusive_data_dir(data_dir: Path) -> Iterator[None]:
    """One `campotech dev` per data folder: a second one would stop the first one's servers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DevError(
                f"another `campotech dev` is using {data_dir}; stop it, or set CAMPOTECH_DATA_DIR to another folder"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class DevSecrets:
    secret_key: str
    admin_token: str


def load_dev_secrets(data_dir: Path) -> DevSecrets:
    """The dev secret key and admin token, made on first run and kept in ``data_dir`` (mode 600)."""
    path = data_dir / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        with contextlib.suppress(ValueError):
            stored = json.loads(path.read_text())
    wanted = {
        "secret_key": stored.get("secret_key") or secrets.token_urlsafe(48),
        "admin_token": stored.get("admin_token") or secrets.token_urlsafe(24),
    }
    if wanted != stored:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(wanted, out, indent=2)
    path.chmod(0o600)
    return DevSecrets(**wanted)


def reset_embedded_data(data_dir: Path) -> None:
    """Stop any server left running on ``data_dir`` and delete its PostgreSQL and Redis folders."""
    stop_leftover_redis(data_dir)
    stop_leftover_postgres(data_dir / "postgres")
    for name in ("postgres", "redis"):
        shutil.rmtree(data_dir / name, ignore_errors=True)


# --- processes ----------------------------------------------------------------------------------


def _is_gone(process: psutil.Process) -> bool:
    """Exited (a zombie waiting for init to reap it holds nothing: no port, no files)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stop_process(pid: int, first_signal: int, name: str, mentions: str, timeout: float = PROCESS_STOP_SECONDS) -> bool:
    """Send ``first_signal`` to ``pid``, wait, then SIGKILL; only if it is ``name`` and its command line
    ``mentions`` the given text (a stale pid file may name an unrelated process). True if one was stopped."""
    try:
        process = psutil.Process(pid)
        if name not in process.name() or mentions not in " ".join(process.cmdline()) or _is_gone(process):
            return False
        process.send_signal(first_signal)
    except psutil.Error:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _is_gone(process):
            return True
        time.sleep(0.02)
    with contextlib.suppress(psutil.NoSuchProcess):
        process.kill()
    return True


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid in ``postmaster.pid`` (first line), if the file is there."""
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def stop_leftover_postgres(pgdata: Path) -> bool:
    """Fast shutdown (SIGINT) of a PostgreSQL still running on ``pgdata``."""
    pid = postmaster_pid(pgdata)
    return pid is not None and stop_process(pid, signal.SIGINT, "postgres", str(pgdata.resolve()))


def start_embedded_postgres(server: EmbeddedPostgres, pgdata: Path, signals: ShutdownSignals) -> str:
    """Start (initialising on first use) and return the superuser URL; failures say how to recover."""
    try:
        return server.start()
    except Exception as exc:
        if signals.requested:  # a signal to the process group reached initdb / pg_ctl too
            raise KeyboardInterrupt from exc
        raise DevError(
            f"the embedded PostgreSQL in {pgdata} did not start ({type(exc).__name__}); its log is {pgdata / 'log'}. "
            "If an earlier first start was cut short, `campotech dev --reset` starts clean (deleting local data)."
        ) from exc


def stop_embedded_postgres(server: EmbeddedPostgres, pgdata: Path) -> None:
    """``pg_ctl stop -m fast``; then make sure, also when start-up was interrupted before it returned."""
    with contextlib.suppress(Exception):
        server.stop()
    stop_leftover_postgres(pgdata)


def read_redis_state(data_dir: Path) -> dict[str, int]:
    try:
        state = json.loads((data_dir / REDIS_STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {k: int(v) for k, v in state.items() if k in ("port", "pid") and isinstance(v, int)}


def write_redis_state(data_dir: Path, port: int, pid: int | None) -> None:
    (data_dir / REDIS_STATE_FILE).write_text(json.dumps({"port": port, "pid": pid}))


def stop_leftover_redis(data_dir: Path) -> bool:
    """SIGTERM (Redis saves, then exits) the server a previous run on ``data_dir`` left behind."""
    state = read_redis_state(data_dir)
    pid, port = state.get("pid"), state.get("port")
    return bool(pid and port) and stop_process(pid, signal.SIGTERM, "redis-server", f"127.0.0.1:{port}")


def stop_embedded_redis(server: EmbeddedRedis, data_dir: Path) -> None:
    """Stop the embedded Redis (or, when interrupted while starting, the one the state file names)."""
    if server.pid is None:
        stop_leftover_redis(data_dir)
        return
    server.stop(timeout=PROCESS_STOP_SECONDS)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def choose_redis_port(data_dir: Path) -> int:
    """The port of the previous run when still free, else a new free one below 32768."""
    saved = read_redis_state(data_dir).get("port")
    if saved and saved <= HIGHEST_FIXED_PORT and port_is_free("127.0.0.1", saved):
        return saved
    return free_port()


# --- start-up steps -----------------------------------------------------------------------------


def prepare_database(database_url: str, settings: Settings) -> None:
    """Create the database if missing, then the application role, then migrate to head (as the owner)."""
    from server.db import migrate
    from server.db.setup import database_name, ensure_app_role, ensure_database

    async def database_and_role() -> None:
        await ensure_database(database_url, database_name(database_url))
        await ensure_app_role(database_url, settings.app_db_role, settings.app_db_password)

    asyncio.run(database_and_role())
    migrate.upgrade(database_url, app_role=settings.app_db_role)


@contextlib.contextmanager
def backends(settings: Settings, signals: ShutdownSignals) -> Iterator[Backends]:
    """DATABASE_URL / REDIS_URL when set, else the embedded servers, stopped again on the way out."""
    from server.db.setup import with_database

    data_dir = settings.data_dir
    with contextlib.ExitStack() as stack:
        if settings.database_url:
            database_url = plain_pg_url(settings.database_url)
            say(f"  PostgreSQL  from DATABASE_URL ({_hide_password(database_url)})")
        else:
            pgdata = data_dir / "postgres"
            postgres = EmbeddedPostgres(pgdata)
            stack.callback(stop_embedded_postgres, postgres, pgdata)
            started = time.monotonic()
            fresh = not (pgdata / "PG_VERSION").exists()
            say(f"  PostgreSQL  {'creating' if fresh else 'starting'} the embedded server in {pgdata} …")
            with signals.deferred():
                database_url = with_database(start_embedded_postgres(postgres, pgdata, signals), DEV_DATABASE)
            say(f"              ready in {time.monotonic() - started:.1f} s")
        if settings.redis_url:
            redis_url = settings.redis_url
            say(f"  Redis       from REDIS_URL ({_hide_password(redis_url)})")
        else:
            stop_leftover_redis(data_dir)
            redis = EmbeddedRedis(data_dir / "redis", choose_redis_port(data_dir))
            stack.callback(stop_embedded_redis, redis, data_dir)
            with signals.deferred():
                write_redis_state(data_dir, redis.port, None)
                redis_url = redis.start()
                write_redis_state(data_dir, redis.port, redis.pid)
            say(f"  Redis       embedded server on 127.0.0.1:{redis.port} (saves to {redis.data_dir})")
        # runs first on the way out: from here on signals only note that a stop was asked for
        stack.callback(signals.stop_unwinding)
        yield Backends(
            database_url=database_url,
            redis_url=redis_url,
            postgres_embedded=not settings.database_url,
            redis_embedded=not settings.redis_url,
        )


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# --- serving ------------------------------------------------------------------------------------


def display_base_url(host: str, port: int) -> str:
    """The URL to open in a browser for a server bound to ``host``."""
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, host)  # noqa: S104 (a lookup)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def served_urls(host: str, port: int) -> dict[str, str]:
    base = display_base_url(host, port)
    return {
        "API": f"{base}/api/v1",
        "Docs": f"{base}/schema",
        "OpenAPI JSON": f"{base}/schema/openapi.json",
        "Health": f"{base}/health",
        "Ready": f"{base}/health/ready",
        "Live": f"{base}/health/live",
        "Metrics": f"{base}/metrics",
    }


def format_banner(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows) + 2
    lines = ["", title, *(f"  {label.ljust(width)}{value}" for label, value in rows), ""]
    return "\n".join(lines)


async def serve_api(
    app: Any,
    settings: Settings,
    signals: ShutdownSignals,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Run ``app`` with uvicorn in this event loop until SIGINT/SIGTERM; the lifespan stops the worker.

    uvicorn handles the signals while it serves; one that arrived just before it took over is honoured.
    """
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = uvicorn.Server(config)
    signals.stop_unwinding()

    async def announce() -> None:
        if signals.requested:
            server.should_exit = True
            return
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for "started")
            await asyncio.sleep(0.05)
        if on_started is not None:
            on_started()

    announcer = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        announcer.cancel()


async def load_demo_data(settings: Settings) -> DemoSummary:
    """The demo organisation and its team, through the app's own services (as the app role)."""
    resources = await Resources.open(settings)
    try:
        return await seed_demo(resources)
    finally:
        await resources.close()


def dev_banner(settings: Settings, found: Backends, demo: DemoSummary, *, token_from_env: bool) -> str:
    """What `campotech dev` prints once the API answers: every URL, the admin token, where data lives."""
    token = "(from CAMPOTECH_ADMIN_TOKEN)" if token_from_env else settings.admin_token or ""
    rows = [
        *served_urls(settings.host, settings.port).items(),
        ("Admin token", f"{token}  (header X-Admin-Token)"),
        ("Demo data", f"organisation {demo.describe()}"),
        *((f"  {m.role.value}", f"{m.phone}  {m.full_name}") for m in demo.members),
        (
            "Sign in",
            f"POST /api/v1/auth/otp/request {{phone}}, then /otp/verify with code {DEMO_CODE}"
            if settings.test_otp == DEMO_TEST_OTP
            else "codes for other phones are printed here",
        ),
        ("PostgreSQL", _hide_password(found.database_url) + ("  (embedded)" if found.postgres_embedded else "")),
        ("Redis", _hide_password(found.redis_url) + ("  (embedded)" if found.redis_embedded else "")),
        ("Queue worker", "in this process" if settings.worker_in_process else "off (--no-worker)"),
        ("Data folder", f"{settings.data_dir}  (`campotech dev --reset` starts clean)"),
        ("Stop", f"Ctrl-C (or SIGTERM): stops {what_stops(settings, found)}"),
    ]
    return format_banner("CampoTech dev server is running", rows)


def what_stops(settings: Settings, found: Backends) -> str:
    """What Ctrl-C stops in this run, e.g. "the API, the worker, Redis and PostgreSQL"."""
    parts = ["the API"]
    if settings.worker_in_process:
        parts.append("the worker")
    if found.redis_embedded:
        parts.append("Redis")
    if found.postgres_embedded:
        parts.append("PostgreSQL")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def ensure_port_free(host: str, port: int) -> None:
    if not port_is_free(host, port):
        raise DevError(f"port {port} on {host} is already in use: choose another with --port N (or CAMPOTECH_PORT)")


# --- the commands -------------------------------------------------------------------------------


def dev_app_settings(
    environ: Mapping[str, str], settings: Settings, found: Backends, dev_secrets: DevSecrets, *, worker: bool
) -> Settings:
    """The API's settings in dev: the backends found, the dev secrets unless set, readable logs unless set."""
    return load_settings(
        environ,
        port=settings.port,
        host=settings.host,
        data_dir=settings.data_dir,
        database_url=found.database_url,
        redis_url=found.redis_url,
        worker_in_process=worker,
        secret_key=settings.secret_key or dev_secrets.secret_key,
        admin_token=settings.admin_token or dev_secrets.admin_token,
        log_json=settings.log_json if "CAMPOTECH_LOG_JSON" in environ else False,
        test_otp=settings.test_otp or DEMO_TEST_OTP,
    )


def run_dev(options: DevOptions, environ: Mapping[str, str] | None = None) -> int:
    """`campotech dev`: returns the exit code (0 after Ctrl-C / SIGTERM)."""
    environ = os.environ if environ is None else environ
    settings = load_settings(environ, port=options.port, host=options.host)
    data_dir = settings.data_dir.resolve()
    settings = msgspec.structs.replace(settings, data_dir=data_dir)
    ensure_port_free(settings.host, settings.port)
    with ShutdownSignals() as signals, exclusive_data_dir(data_dir):
        try:
            say(f"campotech dev: data folder {data_dir}")
            if options.reset:
                say(f"  --reset: deleting the embedded PostgreSQL and Redis data in {data_dir}")
                reset_embedded_data(data_dir)
            dev_secrets = load_dev_secrets(data_dir)
            with backends(settings, signals) as found:
                prepare_database(found.database_url, settings)
                say(f"  Database    migrated; the API connects as role {settings.app_db_role} (no RLS bypass)")
                app_settings = dev_app_settings(environ, settings, found, dev_secrets, worker=options.worker)
                demo = asyncio.run(load_demo_data(app_settings))
                say(f"  Demo data   {demo.describe()}")
                banner = dev_banner(app_settings, found, demo, token_from_env=bool(settings.admin_token))
                if signals.requested:
                    raise KeyboardInterrupt
                from server.asgi import create_app  # late: importing the whole app takes seconds

                app = create_app(app_settings)
                app.state.echo_otp_codes = True  # sandbox codes are shown on this console
                asyncio.run(serve_api(app, app_settings, signals, on_started=lambda: say(banner)))
                if found.redis_embedded or found.postgres_embedded:
                    say("API stopped; stopping the embedded servers …")
        except KeyboardInterrupt:
            say("stopped before the server was ready")
            return 0
    say("stopped")
    return 0


def run_serve(environ: Mapping[str, str] | None = None, **overrides: Any) -> int:
    """`campotech serve`: the API on DATABASE_URL / REDIS_URL (no embedded servers, no migrations)."""
    from server.asgi import create_app

    environ = os.environ if environ is None else environ
    settings = load_settings(environ, **overrides)
    settings.require_database_url()
    settings.require_redis_url()
    ensure_port_free(settings.host, settings.port)
    rows = [
        *served_urls(settings.host, settings.port).items(),
        ("Queue worker", "in this process" if settings.worker_in_process else "separate (`campotech queue worker`)"),
        ("Stop", "Ctrl-C (or SIGTERM)"),
    ]
    banner = format_banner(f"CampoTech API is running ({settings.env})", rows)
    app = create_app(settings)
    with ShutdownSignals() as signals:
        try:
            asyncio.run(serve_api(app, settings, signals, on_started=lambda: say(banner)))
        except KeyboardInterrupt:
            return 0
    return 0
