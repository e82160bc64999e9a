"""`campotech dev` (embedded PostgreSQL + Redis, the AFIP and Mercado Pago sandboxes, migrations, demo data,
API + worker and the web client in one process) and `campotech serve` (the API on DATABASE_URL / REDIS_URL).

The embedded servers live under ``settings.data_dir`` (``postgres/``, ``redis/``) and survive between
runs; ``--reset`` starts them clean. The AFIP sandbox (``server/sandbox/afip``) runs in this process on
127.0.0.1 (its port kept in ``dev-afip.json`` like Redis's), with its CA in ``afip-sandbox/`` so the demo
organisation's certificate stays valid, and what it issued (receipts, tickets) saved there on stop, so
AFIP's last numbers keep matching the database across runs. The Mercado Pago sandbox
(``server/sandbox/mercadopago.py``) runs the same way (port in ``dev-mercadopago.json``, what it remembers —
connected accounts, links, payments — in ``mercadopago-sandbox.json``), with application credentials made
once in the dev secrets; the API's ``public_base_url`` is its own address, so Mercado Pago's notifications
reach the webhook route. The web client (``client.app.asgi_app``, Flet without CDN) is served by a second
uvicorn in this process (port in ``dev-web.json``). On Ctrl-C or SIGTERM the API stops first (its lifespan
stops the queue worker), then the web client, the Mercado Pago and AFIP sandboxes, Redis and PostgreSQL;
the same happens when start-up fails halfway.
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
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import psutil

from server.domain.demo.seed import (
    DEMO_CODE,
    DEMO_MEMBERS,
    DEMO_TEST_OTP,
    DemoAfip,
    DemoSummary,
    ensure_demo_afip,
    seed_demo,
)
from server.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from server.runtime import Resources
from server.settings import ENV_VARS, Settings, load_settings, plain_pg_url
from shared.roles import Role

if TYPE_CHECKING:
    from server.sandbox.afip.app import RunningAfipSandbox
    from server.sandbox.mercadopago import RunningMercadoPagoSandbox

T = TypeVar("T")

DEV_DATABASE = "campotech"
SECRETS_FILE = "dev-secrets.json"
REDIS_STATE_FILE = "dev-redis.json"  # in data_dir: the embedded Redis port (kept across --reset) and its pid
LOCK_FILE = "dev.lock"
AFIP_STATE_FILE = "dev-afip.json"  # in data_dir: the AFIP sandbox's port (kept across runs)
AFIP_SANDBOX_DIR = "afip-sandbox"  # in data_dir: the sandbox CA (ca.key, ca.crt) and its memory
AFIP_MEMORY_FILE = "memory.json"  # in AFIP_SANDBOX_DIR: receipts issued and live tickets, saved on stop
AFIP_URL_SETTINGS = ("afip_wsaa_url", "afip_wsfe_url", "afip_padron_url")
AFIP_SAVE_SECONDS = 2.0  # the sandbox's memory is also saved this often when it changed (a crash loses less)
MERCADOPAGO_STATE_FILE = "dev-mercadopago.json"  # in data_dir: the Mercado Pago sandbox's port
MERCADOPAGO_MEMORY_FILE = "mercadopago-sandbox.json"  # in data_dir: its accounts, links and payments (mode 600)
MERCADOPAGO_SETTINGS = (
    "mercadopago_client_id",
    "mercadopago_client_secret",
    "mercadopago_api_base",
    "mercadopago_auth_base",
    "mercadopago_webhook_secret",
)
WEB_STATE_FILE = "dev-web.json"  # in data_dir: the web client's port
API_STATE_FILE = "dev-api.json"  # in data_dir: the running dev's pid and API address (`campotech dev api off|on`)
API_SWITCH_WAIT_SECONDS = 60.0
WEB_CLIENT_DIR = "web-client"  # in data_dir: the web client's local stores (one a signed-in user)
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


class ApiSwitch:
    """`campotech dev api off|on` from another terminal: SIGUSR1 stops the API (and its in-process worker)
    while the web client, the sandboxes and the databases keep running; SIGUSR2 starts it again. This is
    how a person tries the technician app offline: the phone loses the server, not its own page."""

    OFF, ON = signal.SIGUSR1, signal.SIGUSR2

    def __init__(self) -> None:
        self.off_requested = False
        self.on_requested = False
        self.server: Any = None  # the uvicorn server serving the API now
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> ApiSwitch:
        self._previous = {self.OFF: signal.signal(self.OFF, self._off), self.ON: signal.signal(self.ON, self._on)}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def attach(self, server: Any) -> None:
        self.server = server
        if self.off_requested:  # asked while it was starting
            server.should_exit = True

    def _off(self, signum: int, frame: FrameType | None) -> None:
        self.off_requested, self.on_requested = True, False
        if self.server is not None:
            self.server.should_exit = True

    def _on(self, signum: int, frame: FrameType | None) -> None:
        self.on_requested = True

    def wait_for_on(self, signals: ShutdownSignals) -> bool:
        """Sleep until `dev api on` (True) or Ctrl-C / SIGTERM (False)."""
        while not self.on_requested and not signals.requested:
            time.sleep(0.1)
        if signals.requested:
            return False
        self.off_requested = self.on_requested = False
        self.server = None
        return True


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
    mercadopago_client_id: str  # the dev "application" at the Mercado Pago sandbox
    mercadopago_client_secret: str
    mercadopago_webhook_secret: str


def load_dev_secrets(data_dir: Path) -> DevSecrets:
    """The dev secret key, admin token and Mercado Pago sandbox credentials, made on first run (a value
    missing from an older file is added) and kept in ``data_dir`` (mode 600)."""
    path = data_dir / SECRETS_FILE
    stored = read_state(data_dir, SECRETS_FILE)
    wanted = {
        "secret_key": stored.get("secret_key") or secrets.token_urlsafe(48),
        "admin_token": stored.get("admin_token") or secrets.token_urlsafe(24),
        "mercadopago_client_id": stored.get("mercadopago_client_id") or str(10**15 + secrets.randbelow(9 * 10**15)),
        "mercadopago_client_secret": stored.get("mercadopago_client_secret") or secrets.token_urlsafe(32),
        "mercadopago_webhook_secret": stored.get("mercadopago_webhook_secret") or secrets.token_hex(32),
    }
    if wanted != stored:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(wanted, out, indent=2)
    path.chmod(0o600)
    return DevSecrets(**wanted)


def reset_embedded_data(data_dir: Path) -> None:
    """Stop any server left running on ``data_dir`` and delete its PostgreSQL and Redis folders, what the
    AFIP sandbox remembers (its receipts belong to the deleted database; its CA is kept), what the Mercado
    Pago sandbox remembers (accounts and links of the deleted organisations) and the web client's stores."""
    stop_leftover_redis(data_dir)
    stop_leftover_postgres(data_dir / "postgres")
    for name in ("postgres", "redis", WEB_CLIENT_DIR):
        shutil.rmtree(data_dir / name, ignore_errors=True)
    (data_dir / AFIP_SANDBOX_DIR / AFIP_MEMORY_FILE).unlink(missing_ok=True)
    (data_dir / MERCADOPAGO_MEMORY_FILE).unlink(missing_ok=True)


def dev_is_running(data_dir: Path) -> bool:
    """Whether a `campotech dev` holds ``data_dir`` (its lock is taken)."""
    path = data_dir / LOCK_FILE
    if not path.exists():
        return False
    with open(path) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def with_running_dev(settings: Settings, environ: Mapping[str, str]) -> tuple[Settings, str | None]:
    """For admin commands in another terminal: when DATABASE_URL is unset and a `campotech dev` runs on the
    data folder, its embedded PostgreSQL and Redis (and AFIP sandbox, unless CAMPOTECH_AFIP_*_URL are set).
    Returns the settings and a line saying so (None when nothing was taken from it)."""
    data_dir = settings.data_dir.resolve()
    if settings.database_url or not dev_is_running(data_dir):
        return settings, None
    changes: dict[str, Any] = {"database_url": f"postgresql://postgres:@/{DEV_DATABASE}?host={data_dir / 'postgres'}"}
    redis_port = read_redis_state(data_dir).get("port")
    if not settings.redis_url and redis_port:
        changes["redis_url"] = f"redis://127.0.0.1:{redis_port}/0"
    afip_port = read_port_state(data_dir, AFIP_STATE_FILE).get("port")
    if afip_port and not afip_from_environment(environ):
        from server.sandbox.afip.app import PADRON_PATH, WSAA_PATH, WSFE_PATH

        base = f"http://127.0.0.1:{afip_port}"
        changes.update(
            afip_wsaa_url=base + WSAA_PATH, afip_wsfe_url=base + WSFE_PATH, afip_padron_url=base + PADRON_PATH
        )
    mercadopago_port = read_port_state(data_dir, MERCADOPAGO_STATE_FILE).get("port")
    if mercadopago_port and not mercadopago_from_environment(environ):
        changes.update(mercadopago_sandbox_settings(f"http://127.0.0.1:{mercadopago_port}", load_dev_secrets(data_dir)))
    note = f"using the `campotech dev` running on {data_dir}" + (
        f" (AFIP sandbox http://127.0.0.1:{afip_port})" if "afip_wsfe_url" in changes else ""
    )
    return msgspec.structs.replace(settings, **changes), note


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


def read_state(data_dir: Path, name: str) -> dict[str, Any]:
    """The JSON object in the state file ``name`` of ``data_dir`` ({} when missing or unreadable)."""
    try:
        state = json.loads((data_dir / name).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _ints(state: dict[str, Any], *keys: str) -> dict[str, int]:
    return {k: v for k in keys if isinstance(v := state.get(k), int) and not isinstance(v, bool)}


def read_redis_state(data_dir: Path) -> dict[str, int]:
    return _ints(read_state(data_dir, REDIS_STATE_FILE), "port", "pid")


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
    return choose_port(data_dir, REDIS_STATE_FILE)


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


# --- the AFIP sandbox ---------------------------------------------------------------------------


def variables_set(environ: Mapping[str, str], settings: tuple[str, ...]) -> list[str]:
    """The environment variables of ``settings`` that are set (not empty) in ``environ``."""
    return [ENV_VARS[name] for name in settings if environ.get(ENV_VARS[name])]


def afip_from_environment(environ: Mapping[str, str]) -> list[str]:
    """The CAMPOTECH_AFIP_*_URL variables that are set: then AFIP is theirs and no sandbox is started."""
    return variables_set(environ, AFIP_URL_SETTINGS)


def read_port_state(data_dir: Path, name: str) -> dict[str, int]:
    """``{"port": n}`` from the state file ``name`` in ``data_dir`` ({} when missing or unreadable)."""
    return _ints(read_state(data_dir, name), "port")


def choose_port(data_dir: Path, name: str, host: str = "127.0.0.1") -> int:
    """The port of the previous run (state file ``name``) when still free, else a new free one below 32768."""
    saved = read_port_state(data_dir, name).get("port")
    if saved and saved <= HIGHEST_FIXED_PORT and port_is_free(host, saved):
        return saved
    return free_port()


def write_port_state(data_dir: Path, name: str, port: int) -> None:
    (data_dir / name).write_text(json.dumps({"port": port}))


def start_on_kept_port(
    data_dir: Path,
    state_file: str,
    what: str,
    start: Callable[[int], T],
    host: str = "127.0.0.1",
    errors: tuple[type[Exception], ...] = (RuntimeError,),
) -> T:
    """``start(port)`` on the port of the previous run (``choose_port``), kept in ``state_file`` once it runs;
    a failure is a DevError naming ``what`` and the state file to delete."""
    port = choose_port(data_dir, state_file, host)
    try:
        running = start(port)
    except errors as exc:
        raise DevError(
            f"{what} did not start on {host}:{port} ({exc}); "
            f"delete {data_dir / state_file} to let it choose another port"
        ) from exc
    write_port_state(data_dir, state_file, port)
    return running


class MemoryKeeper:
    """Calls ``save()`` every ``AFIP_SAVE_SECONDS`` when ``signature()`` changed, from a daemon thread, so a run
    that is killed (not stopped) loses at most the last moments of what a sandbox holds."""

    def __init__(self, name: str, signature: Callable[[], object], save: Callable[[], object]) -> None:
        import threading

        self.signature = signature
        self.save = save
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._saved = signature()

    def _run(self) -> None:
        while not self._stop.wait(AFIP_SAVE_SECONDS):
            with contextlib.suppress(OSError, TypeError, ValueError):
                current = self.signature()
                if current != self._saved:
                    self.save()
                    self._saved = current

    def start(self) -> MemoryKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(AFIP_SAVE_SECONDS + 1)


def save_afip_memory(running: RunningAfipSandbox, folder: Path) -> None:
    """Receipts issued and live tickets, so the next run answers AFIP's last numbers as the database expects."""
    wsfe, wsaa = running.sandbox.wsfe, running.sandbox.wsaa
    with wsaa._lock:
        tickets = [
            {
                **{k: getattr(t, k) for k in ("token", "sign", "service", "cuit", "fingerprint")},
                "generatedAt": t.generated_at.isoformat(),
                "expiresAt": t.expires_at.isoformat(),
            }
            for t in wsaa._tickets.values()
            if t.expires_at > wsaa.clock()
        ]
    memory = {
        "receipts": [{**r.as_dict(), "observations": [list(o) for o in r.observations]} for r in wsfe.receipts()],
        "caeSeq": wsfe._cae_seq,
        "tickets": tickets,
    }
    encoded = json.dumps(memory, default=_encode_decimal)  # before touching the file: all or nothing
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / (AFIP_MEMORY_FILE + ".tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(encoded)
    staging.replace(folder / AFIP_MEMORY_FILE)


def _encode_decimal(value: object) -> object:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    raise TypeError(f"{type(value).__name__} cannot be saved")


def _decode_decimal(value: dict[str, Any]) -> object:
    from decimal import Decimal

    return Decimal(value["$decimal"]) if set(value) == {"$decimal"} else value


def restore_afip_memory(running: RunningAfipSandbox, folder: Path) -> int:
    """What ``save_afip_memory`` kept; returns how many receipts. An unreadable file is ignored (a fresh AFIP)."""
    import datetime

    from server.sandbox.afip.wsaa import LiveTicket
    from server.sandbox.afip.wsfe import IssuedReceipt

    try:
        memory = json.loads((folder / AFIP_MEMORY_FILE).read_text(), object_hook=_decode_decimal)
        receipts = [
            IssuedReceipt(
                cuit=str(r["cuit"]),
                pto_vta=int(r["ptoVta"]),
                cbte_tipo=int(r["cbteTipo"]),
                number=int(r["number"]),
                cae=str(r["cae"]),
                cae_due=datetime.date.fromisoformat(r["caeDue"]),
                processed_at=str(r["processedAt"]),
                detail=dict(r["detail"]),
                observations=[(int(code), str(msg)) for code, msg in r.get("observations", [])],
            )
            for r in memory["receipts"]
        ]
        tickets = [
            LiveTicket(
                token=t["token"],
                sign=t["sign"],
                service=t["service"],
                cuit=t["cuit"],
                fingerprint=t["fingerprint"],
                generated_at=datetime.datetime.fromisoformat(t["generatedAt"]),
                expires_at=datetime.datetime.fromisoformat(t["expiresAt"]),
            )
            for t in memory.get("tickets", [])
        ]
        cae_seq = int(memory.get("caeSeq", 0))
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError):
        return 0
    wsfe, wsaa = running.sandbox.wsfe, running.sandbox.wsaa
    with wsfe._lock:
        for receipt in receipts:
            wsfe._receipts.setdefault((receipt.cuit, receipt.pto_vta, receipt.cbte_tipo), {})[receipt.number] = receipt
        wsfe._cae_seq = max(wsfe._cae_seq, cae_seq)
    with wsaa._lock:
        for ticket in tickets:
            wsaa._tickets[ticket.token] = ticket
            wsaa._live[(ticket.fingerprint, ticket.service)] = ticket.token
    return len(receipts)


def afip_signature(running: RunningAfipSandbox) -> tuple[int, int, int]:
    """What changes when the AFIP sandbox issues a receipt or a ticket."""
    sandbox = running.sandbox
    return (len(sandbox.wsfe.receipts()), sandbox.wsfe._cae_seq, len(sandbox.wsaa._tickets))


@contextlib.contextmanager
def afip_sandbox(data_dir: Path, signals: ShutdownSignals) -> Iterator[RunningAfipSandbox]:
    """The AFIP sandbox on 127.0.0.1 (CA and memory in ``data_dir/afip-sandbox``), stopped on the way out."""
    from server.sandbox.afip.app import start_afip_sandbox

    folder = data_dir / AFIP_SANDBOX_DIR
    running: RunningAfipSandbox | None = None
    keeper: MemoryKeeper | None = None
    try:
        with signals.deferred():
            running = start_on_kept_port(
                data_dir,
                AFIP_STATE_FILE,
                "the AFIP sandbox",
                lambda port: start_afip_sandbox("127.0.0.1", port, data_dir=folder),
            )
            sandbox = running
            remembered = restore_afip_memory(sandbox, folder)
            keeper = MemoryKeeper(
                "afip-sandbox-memory", lambda: afip_signature(sandbox), lambda: save_afip_memory(sandbox, folder)
            ).start()
        say(
            f"  AFIP        sandbox on {running.url} (CA in {folder}"
            + (f"; remembers {remembered} receipt{'s' if remembered > 1 else ''})" if remembered else ")")
        )
        yield running
    finally:
        signals.stop_unwinding()  # stopping must not be cut in half by a second Ctrl-C
        if keeper is not None:
            keeper.stop()
        if running is not None:
            try:
                save_afip_memory(running, folder)
            except (OSError, TypeError, ValueError) as exc:
                say(f"  AFIP        could not save what the sandbox issued ({exc}); the next run starts it empty")
            finally:
                running.stop()


# --- the Mercado Pago sandbox --------------------------------------------------------------------


def mercadopago_from_environment(environ: Mapping[str, str]) -> list[str]:
    """The CAMPOTECH_MERCADOPAGO_* variables (credentials, addresses) that are set: then Mercado Pago is
    theirs and no sandbox is started."""
    return variables_set(environ, MERCADOPAGO_SETTINGS)


def mercadopago_sandbox_settings(url: str, dev_secrets: DevSecrets) -> dict[str, str]:
    """The API's Mercado Pago settings for the sandbox at ``url`` (both API and OAuth live there)."""
    return {
        "mercadopago_api_base": url,
        "mercadopago_auth_base": url,
        "mercadopago_client_id": dev_secrets.mercadopago_client_id,
        "mercadopago_client_secret": dev_secrets.mercadopago_client_secret,
        "mercadopago_webhook_secret": dev_secrets.mercadopago_webhook_secret,
    }


def save_mercadopago_memory(running: RunningMercadoPagoSandbox, path: Path) -> dict[str, Any]:
    """What the sandbox remembers, written atomically with mode 600 (it holds the sellers' tokens)."""
    state = running.sandbox.dump()
    staging = path.with_suffix(".tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(state, out)
    staging.replace(path)
    return state


def restore_mercadopago_memory(running: RunningMercadoPagoSandbox, path: Path) -> int:
    """Load what a previous run saved; returns how many payments it remembers (0 when nothing usable)."""
    try:
        state = json.loads(path.read_text())
        if not isinstance(state, dict):
            return 0
        running.sandbox.load(state)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0
    return len(running.sandbox.payments())


def mercadopago_signature(running: RunningMercadoPagoSandbox) -> str:
    """What the Mercado Pago sandbox remembers, but its id counter."""
    return json.dumps({k: v for k, v in running.sandbox.dump().items() if k != "next_id"}, sort_keys=True)


@contextlib.contextmanager
def mercadopago_sandbox(
    data_dir: Path, dev_secrets: DevSecrets, signals: ShutdownSignals
) -> Iterator[RunningMercadoPagoSandbox]:
    """The Mercado Pago sandbox on 127.0.0.1 with the dev application's credentials, its memory loaded
    from ``data_dir`` and saved there on the way out (and whenever it changes)."""
    from server.sandbox.mercadopago import start_mercadopago_sandbox

    memory = data_dir / MERCADOPAGO_MEMORY_FILE
    running: RunningMercadoPagoSandbox | None = None
    keeper: MemoryKeeper | None = None
    try:
        with signals.deferred():
            running = start_on_kept_port(
                data_dir,
                MERCADOPAGO_STATE_FILE,
                "the Mercado Pago sandbox",
                lambda port: start_mercadopago_sandbox(
                    "127.0.0.1",
                    port,
                    webhook_secret=dev_secrets.mercadopago_webhook_secret,
                    client_id=dev_secrets.mercadopago_client_id,
                    client_secret=dev_secrets.mercadopago_client_secret,
                ),
            )
            sandbox = running
            remembered = restore_mercadopago_memory(sandbox, memory)
            keeper = MemoryKeeper(
                "mercadopago-sandbox-memory",
                lambda: mercadopago_signature(sandbox),
                lambda: save_mercadopago_memory(sandbox, memory),
            ).start()
        say(
            f"  Mercado Pago sandbox on {running.url}"
            + (f" (remembers {remembered} payment{'s' if remembered > 1 else ''})" if remembered else "")
        )
        yield running
    finally:
        signals.stop_unwinding()
        if keeper is not None:
            keeper.stop()
        if running is not None:
            try:
                save_mercadopago_memory(running, memory)
            except (OSError, TypeError, ValueError) as exc:
                say(f"  Mercado Pago could not save what the sandbox holds ({exc}); the next run starts it empty")
            finally:
                running.stop()


# --- the web client -----------------------------------------------------------------------------


@dataclass
class RunningWebClient:
    """The Flet web client served by uvicorn in a background thread of this process."""

    url: str
    server: Any
    thread: Any

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(GRACEFUL_SHUTDOWN_SECONDS + PROCESS_STOP_SECONDS)


def start_web_client(host: str, port: int, api_base: str, data_dir: Path, timeout: float = 20.0) -> RunningWebClient:
    """Serve ``client.app.asgi_app(api_base)`` (no CDN: the page loads offline) on ``host:port``."""
    import threading

    import uvicorn

    from client.app import asgi_app

    config = uvicorn.Config(
        asgi_app(api_base, data_dir=data_dir),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = uvicorn.Server(config)  # in a thread: uvicorn leaves the signals to the main thread
    thread = threading.Thread(target=server.run, name="web-client", daemon=True)
    running = RunningWebClient(url=display_base_url(host, port), server=server, thread=thread)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            running.stop()
            raise RuntimeError("it did not answer in time" if thread.is_alive() else "its server exited")
        time.sleep(0.02)
    return running


@contextlib.contextmanager
def web_client(settings: Settings, signals: ShutdownSignals) -> Iterator[RunningWebClient]:
    """The web client next to the API (same host, its own port kept across runs), stopped on the way out."""
    data_dir = settings.data_dir
    running: RunningWebClient | None = None
    try:
        with signals.deferred():
            running = start_on_kept_port(
                data_dir,
                WEB_STATE_FILE,
                "the web client",
                lambda port: start_web_client(
                    settings.host, port, display_base_url(settings.host, settings.port), data_dir / WEB_CLIENT_DIR
                ),
                host=settings.host,
                errors=(RuntimeError, OSError),
            )
        say(f"  Web client  {running.url} (Flet, no CDN)")
        yield running
    finally:
        signals.stop_unwinding()
        if running is not None:
            running.stop()


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
    on_server: Callable[[Any], None] | None = None,
) -> None:
    """Run ``app`` with uvicorn in this event loop until SIGINT/SIGTERM (or ``should_exit`` set on the
    server handed to ``on_server``); the lifespan stops the worker.

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
    if on_server is not None:
        on_server(server)

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


async def load_demo_data(
    settings: Settings, afip: RunningAfipSandbox | None = None
) -> tuple[DemoSummary, DemoAfip | None]:
    """The demo organisation and its team, through the app's own services (as the app role); with the AFIP
    sandbox, also ready to invoice (fiscal data, customers, a certificate its CA signed)."""
    resources = await Resources.open(settings)
    try:
        demo = await seed_demo(resources)
        demo_afip = await ensure_demo_afip(settings, resources, afip.sandbox.wsaa.ca) if afip is not None else None
        return demo, demo_afip
    finally:
        await resources.close()


def afip_rows(settings: Settings, afip: RunningAfipSandbox | None, demo_afip: DemoAfip | None) -> list[tuple[str, str]]:
    if afip is None:
        return [("AFIP", f"from CAMPOTECH_AFIP_*_URL ({settings.afip_wsfe_url})")]
    rows = [("AFIP sandbox", f"{afip.url}  (WSAA, WSFEv1, padrón A5; `campotech afip check --org <CUIT>`)")]
    if demo_afip is not None:
        rows.append(
            (
                "  invoicing",
                f"demo organisation ready: point of sale {demo_afip.point_of_sale}, AFIP certificate until "
                f"{demo_afip.certificate_not_after:%Y-%m-%d}, customers with CUIT and consumidor final",
            )
        )
    return rows


def mercadopago_rows(settings: Settings, mercadopago: RunningMercadoPagoSandbox | None) -> list[tuple[str, str]]:
    if mercadopago is None:
        return [("Mercado Pago", f"from CAMPOTECH_MERCADOPAGO_* ({settings.mercadopago_api_base})")]
    return [
        (
            "Mercado Pago sandbox",
            f"{mercadopago.url}  (connect it as the owner, then a payment link's page pays it; "
            f"webhooks to {settings.public_base_url})",
        )
    ]


def web_client_rows(web: RunningWebClient | None, settings: Settings) -> list[tuple[str, str]]:
    if web is None:
        return []
    technician = next(m for m in DEMO_MEMBERS if m.role is Role.TECHNICIAN)
    code = f", code {DEMO_CODE}" if settings.test_otp == DEMO_TEST_OTP else ""
    return [
        (
            "Técnico (web)",
            f"{web.url}  (a phone-sized window; {technician.full_name} has today's jobs:"
            f" {technician.phone.removeprefix('+549')}{code})",
        ),
        ("  offline", "`campotech dev api off` stops only the API (the app keeps working); `… api on` brings it back"),
    ]


def dev_banner(
    settings: Settings,
    found: Backends,
    demo: DemoSummary,
    *,
    token_from_env: bool,
    afip: RunningAfipSandbox | None = None,
    demo_afip: DemoAfip | None = None,
    mercadopago: RunningMercadoPagoSandbox | None = None,
    web: RunningWebClient | None = None,
) -> str:
    """What `campotech dev` prints once the API answers: every URL, the admin token, where data lives."""
    token = "(from CAMPOTECH_ADMIN_TOKEN)" if token_from_env else settings.admin_token or ""
    rows = [
        *served_urls(settings.host, settings.port).items(),
        *web_client_rows(web, settings),
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
        *afip_rows(settings, afip, demo_afip),
        *mercadopago_rows(settings, mercadopago),
        ("Queue worker", "in this process" if settings.worker_in_process else "off (--no-worker)"),
        ("Data folder", f"{settings.data_dir}  (`campotech dev --reset` starts clean)"),
        (
            "Stop",
            "Ctrl-C (or SIGTERM): stops "
            + what_stops(
                settings, found, afip=afip is not None, mercadopago=mercadopago is not None, web=web is not None
            ),
        ),
    ]
    return format_banner("CampoTech dev server is running", rows)


def what_stops(
    settings: Settings, found: Backends, *, afip: bool = False, mercadopago: bool = False, web: bool = False
) -> str:
    """What Ctrl-C stops in this run, e.g. "the API, the worker, the AFIP sandbox, Redis and PostgreSQL"."""
    parts = ["the API"]
    if settings.worker_in_process:
        parts.append("the worker")
    if web:
        parts.append("the web client")
    if mercadopago:
        parts.append("the Mercado Pago sandbox")
    if afip:
        parts.append("the AFIP sandbox")
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
    environ: Mapping[str, str],
    settings: Settings,
    found: Backends,
    dev_secrets: DevSecrets,
    *,
    worker: bool,
    afip: RunningAfipSandbox | None = None,
    mercadopago: RunningMercadoPagoSandbox | None = None,
) -> Settings:
    """The API's settings in dev: the backends found, the AFIP and Mercado Pago sandboxes (when running; then
    the public address is the API's own unless set, so notifications reach it), the dev secrets unless set,
    readable logs unless set."""
    afip_urls: dict[str, Any] = (
        {"afip_wsaa_url": afip.wsaa_url, "afip_wsfe_url": afip.wsfe_url, "afip_padron_url": afip.padron_url}
        if afip is not None
        else {}
    )
    if mercadopago is not None:
        afip_urls.update(mercadopago_sandbox_settings(mercadopago.url, dev_secrets))
        afip_urls["public_base_url"] = settings.public_base_url or display_base_url(settings.host, settings.port)
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
        **afip_urls,
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
            with backends(settings, signals) as found, contextlib.ExitStack() as sandboxes:
                prepare_database(found.database_url, settings)
                say(f"  Database    migrated; the API connects as role {settings.app_db_role} (no RLS bypass)")
                afip = None
                if not afip_from_environment(environ):
                    afip = sandboxes.enter_context(afip_sandbox(data_dir, signals))
                mercadopago = None
                if not mercadopago_from_environment(environ):
                    mercadopago = sandboxes.enter_context(mercadopago_sandbox(data_dir, dev_secrets, signals))
                app_settings = dev_app_settings(
                    environ, settings, found, dev_secrets, worker=options.worker, afip=afip, mercadopago=mercadopago
                )
                demo, demo_afip = asyncio.run(load_demo_data(app_settings, afip))
                say(f"  Demo data   {demo.describe()}")
                if demo_afip is not None:
                    say(f"              ready to invoice: {demo_afip.describe()}")
                web = sandboxes.enter_context(web_client(app_settings, signals))
                banner = dev_banner(
                    app_settings,
                    found,
                    demo,
                    token_from_env=bool(settings.admin_token),
                    afip=afip,
                    demo_afip=demo_afip,
                    mercadopago=mercadopago,
                    web=web,
                )
                if signals.requested:
                    raise KeyboardInterrupt
                serve_dev_api(app_settings, signals, banner)
                say("API stopped; stopping the web client and the embedded servers …")
        except KeyboardInterrupt:
            say("stopped before the server was ready")
            return 0
    say("stopped")
    return 0


def serve_dev_api(settings: Settings, signals: ShutdownSignals, banner: str) -> None:
    """Serve the API until Ctrl-C / SIGTERM; `campotech dev api off` stops it (the rest keeps running) and
    `campotech dev api on` starts it again, as often as wanted."""
    from server.asgi import create_app  # late: importing the whole app takes seconds

    base = display_base_url(settings.host, settings.port)
    state = settings.data_dir / API_STATE_FILE
    state.write_text(json.dumps({"pid": os.getpid(), "url": base}))
    announce = banner
    try:
        with ApiSwitch() as switch:
            while True:
                app = create_app(settings)
                app.state.echo_otp_codes = True  # sandbox codes are shown on this console
                asyncio.run(
                    serve_api(app, settings, signals, on_started=lambda a=announce: say(a), on_server=switch.attach)
                )
                if signals.requested or not switch.off_requested:
                    return
                say(
                    "API off (and its worker): the web client, the sandboxes and the databases keep running;"
                    " `campotech dev api on` starts it again"
                )
                if not switch.wait_for_on(signals):
                    return
                announce = f"API on again at {base}"
    finally:
        state.unlink(missing_ok=True)


def switch_dev_api(state: str, environ: Mapping[str, str] | None = None, wait: float = API_SWITCH_WAIT_SECONDS) -> str:
    """`campotech dev api off|on`: tell the `campotech dev` running on the data folder to stop or start its API,
    and wait until it has; the line to print."""
    import httpx

    environ = os.environ if environ is None else environ
    data_dir = load_settings(environ).data_dir.resolve()
    running = read_state(data_dir, API_STATE_FILE)
    pid, url = _ints(running, "pid").get("pid"), running.get("url")
    if not dev_is_running(data_dir) or pid is None or not isinstance(url, str):
        raise DevError(f"no `campotech dev` is running on {data_dir} (start it first, or set CAMPOTECH_DATA_DIR)")
    want_up = state == "on"
    os.kill(pid, ApiSwitch.ON if want_up else ApiSwitch.OFF)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            up = httpx.get(f"{url}/health/live", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            up = False
        if up == want_up:
            if want_up:
                return f"API on at {url}: the apps reach the server again and send what they kept"
            return (
                f"API off ({url} does not answer): the web client and the phones work offline;"
                " `campotech dev api on` starts it again"
            )
        time.sleep(0.2)
    raise DevError(f"the API at {url} did not turn {state} within {wait:.0f} s; see the dev console")


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
