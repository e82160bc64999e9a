"""The benchmark harness: ``uv run python -m tests.benchmarks.run [--duration S] [--connections C] [--only NAME...]``.

Starts the real stack (a fresh, migrated database; Redis; uvicorn serving ``create_app`` in its own process,
connecting as the application role), measures every registered entry with a load generator in processes of
its own, alternating entries round after round, and prints req/s, p50, p99, errors and the ratio of each entry
to its baseline (medians of the rounds). Exits non-zero when an entry had more than 1% errors or missed its
target ratio (``--no-fail`` only reports). Results go to ``tests/benchmarks/results/latest.json``.

Entries: ``register(Entry(...))`` here, or in a module ``tests/benchmarks/entries_<topic>.py`` (imported
automatically). See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import importlib
import importlib.util
import json
import os
import pkgutil
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.benchmarks.loadgen import WRK_HINT, LoadResult, Target, run_load, wrk_path

if TYPE_CHECKING:
    import asyncpg
    import httpx
    from litestar import Litestar

    from server.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent.parent
RESULTS_DIR = BENCH_DIR / "results"
APP_ROLE = "campotech_app"
MAX_ERROR_RATE = 0.01


# ------------------------------------------------------------------------------------------ registry


@dataclass
class BenchContext:
    """What a setup hook gets: the running server and the benchmark database behind it."""

    base_url: str  # http://127.0.0.1:<port> of the server under test
    owner_url: str  # owner (superuser) connection to the benchmark database: row-level security does not apply
    app_url: str  # the application role's connection (row-level security applies)
    redis_url: str
    settings: Settings  # exactly what the server runs with (secret_key, admin_token, ...)
    state: dict[str, Any] = field(default_factory=dict)  # shared by every hook of a run (e.g. a seeded org)
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run at the end (e.g. stop a reference server)

    @contextlib.asynccontextmanager
    async def owner_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """An asyncpg connection as the owner, for seeding data."""
        import asyncpg

        conn = await asyncpg.connect(self.owner_url)
        try:
            yield conn
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def http(self) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client to the server under test (e.g. to log in and obtain a token)."""
        import httpx

        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as client:
            yield client


Data = dict[str, Any]
Setup = Callable[[BenchContext], Awaitable[Data | None]]


@dataclass(frozen=True)
class Entry:
    """One measured request. ``setup`` runs once after the server is up; what it returns (a dict) is given
    to ``path`` (``str.format_map`` or a callable), ``headers`` and ``body`` when they are callables.

    ``baseline`` names the entry whose req/s this one is compared with (measured in the same rounds);
    ``target_ratio`` is the least acceptable ratio (e.g. ``1 / 3`` for "at least a third of /health").
    """

    name: str
    path: str | Callable[[Data], str]
    method: str = "GET"
    headers: Mapping[str, str] | Callable[[Data], Mapping[str, str]] | None = None
    body: bytes | str | Mapping[str, Any] | list[Any] | Callable[[Data], Any] | None = None
    setup: Setup | None = None
    baseline: str | None = None
    target_ratio: float | None = None
    description: str = ""

    def target(self, base_url: str, data: Data) -> Target:
        """The concrete request for the load generator."""
        path = self.path(data) if callable(self.path) else (self.path.format_map(data) if data else self.path)
        url = path if path.startswith(("http://", "https://")) else base_url + path  # absolute: another server
        headers = dict(self.headers(data) if callable(self.headers) else (self.headers or {}))
        body = self.body(data) if callable(self.body) else self.body
        if isinstance(body, Mapping | list):
            body = json.dumps(body, separators=(",", ":"), default=str).encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        return Target(url=url, method=self.method.upper(), headers=tuple(headers.items()), body=body or b"")


ENTRIES: dict[str, Entry] = {}


def register(entry: Entry) -> Entry:
    """Add an entry to the registry (names are unique)."""
    if entry.name in ENTRIES:
        raise ValueError(f"benchmark entry {entry.name!r} is registered twice")
    ENTRIES[entry.name] = entry
    return entry


register(Entry("health", "/health", description="GET /health: no I/O, the floor of every request"))
register(
    Entry(
        "health_ready",
        "/health/ready",
        baseline="health",
        description="GET /health/ready: one PostgreSQL and one Redis round trip",
    )
)


def load_entry_modules() -> None:
    """Import ``tests/benchmarks/entries_*.py``: each registers its entries when imported."""
    # run as `python -m tests.benchmarks.run` this module is __main__: entries must register here, not
    # in a second copy imported under its package name
    sys.modules.setdefault("tests.benchmarks.run", sys.modules[__name__])
    for module in sorted(pkgutil.iter_modules([str(BENCH_DIR)]), key=lambda m: m.name):
        if module.name.startswith("entries_"):
            importlib.import_module(f"tests.benchmarks.{module.name}")


def select_entries(only: Sequence[str] | None) -> list[Entry]:
    """The entries to run, in registry order, each preceded by its baseline (added when not asked for)."""
    for entry in ENTRIES.values():
        if entry.baseline is not None and entry.baseline not in ENTRIES:
            raise SystemExit(f"entry {entry.name!r} names an unknown baseline {entry.baseline!r}")
    if not only:
        return list(ENTRIES.values())
    unknown = [name for name in only if name not in ENTRIES]
    if unknown:
        raise SystemExit(f"unknown entries {unknown}; known: {', '.join(ENTRIES)}")
    wanted: set[str] = set()
    for name in only:
        while name and name not in wanted:
            wanted.add(name)
            name = ENTRIES[name].baseline or ""
    return [entry for entry in ENTRIES.values() if entry.name in wanted]


# ---------------------------------------------------------------------------------------- the stack


def app_factory() -> Litestar:
    """What uvicorn serves (``--factory``): settings come from the environment the harness passes."""
    from server.asgi import create_app
    from server.settings import load_settings

    return create_app(load_settings())


@dataclass(frozen=True)
class Stack:
    owner_url: str
    app_url: str
    redis_url: str
    database: str
    embedded: list[str]


def _run(coro: Awaitable[Any]) -> Any:
    async def wrap() -> Any:
        return await coro

    return asyncio.run(wrap())


@contextlib.contextmanager
def bench_stack(work_dir: Path) -> Iterator[Stack]:
    """A fresh, migrated database and Redis: ``DATABASE_URL`` / ``REDIS_URL`` when set, else embedded servers."""
    from server.db import migrate
    from server.db.setup import drop_database, ensure_app_role, ensure_database, with_database
    from server.embedded import EmbeddedPostgres, EmbeddedRedis
    from server.settings import plain_pg_url, with_user

    embedded: list[str] = []
    with contextlib.ExitStack() as cleanup:
        if os.environ.get("DATABASE_URL"):
            server_url = plain_pg_url(os.environ["DATABASE_URL"])
        else:
            pg = EmbeddedPostgres(work_dir / "pgdata", delete_on_stop=True)
            server_url = pg.start()
            cleanup.callback(pg.stop)
            embedded.append("postgresql")
        if os.environ.get("REDIS_URL"):
            from urllib.parse import urlsplit, urlunsplit

            parts = urlsplit(os.environ["REDIS_URL"])
            db = 1 + (os.getpid() % 15)  # a database number of our own, like the test session's
            redis_url = urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))
        else:
            redis = EmbeddedRedis(work_dir / "redis")
            redis_url = redis.start()
            cleanup.callback(redis.stop)
            embedded.append("redis")
        name = f"campotech_bench_{uuid.uuid4().hex[:10]}"
        _run(ensure_database(server_url, name))
        cleanup.callback(lambda: _run(drop_database(server_url, name)))
        password = os.environ.get("CAMPOTECH_APP_DB_PASSWORD") or None
        _run(ensure_app_role(server_url, APP_ROLE, password))
        owner_url = with_database(server_url, name)
        migrate.upgrade(owner_url, app_role=APP_ROLE)
        yield Stack(
            owner_url=owner_url,
            app_url=with_user(owner_url, APP_ROLE, password),
            redis_url=redis_url,
            database=name,
            embedded=embedded,
        )


def server_environment(stack: Stack, data_dir: Path, queue_prefix: str) -> dict[str, str]:
    """The server's environment: ours only (no CAMPOTECH_* of the caller), production mode, app role."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPOTECH_")}
    env.update(
        {
            "DATABASE_URL": stack.owner_url,
            "CAMPOTECH_APP_DATABASE_URL": stack.app_url,
            "REDIS_URL": stack.redis_url,
            "CAMPOTECH_ENV": "production",
            # login codes: production refuses sandbox delivery; benchmarks never request a code
            "CAMPOTECH_OTP_DELIVERY": "whatsapp",
            "CAMPOTECH_WHATSAPP_API_BASE": "http://127.0.0.1:9",
            "CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID": "benchmark",
            "CAMPOTECH_WHATSAPP_ACCESS_TOKEN": "benchmark-no-codes-are-sent",
            "CAMPOTECH_SECRET_KEY": secrets.token_urlsafe(48),
            "CAMPOTECH_ADMIN_TOKEN": secrets.token_urlsafe(32),
            "CAMPOTECH_LOG_LEVEL": "WARNING",
            "CAMPOTECH_LOG_JSON": "true",
            "CAMPOTECH_DATA_DIR": str(data_dir),
            "CAMPOTECH_QUEUE_PREFIX": queue_prefix,
            "CAMPOTECH_WORKER_IN_PROCESS": "false",
            # the per-client rate limit would turn a benchmark into 429s: measured, never triggered
            "CAMPOTECH_API_RATE_LIMIT_PER_MINUTE": str(10**9),
            # Mercado Pago configured as production requires (nothing is called: no worker runs)
            "CAMPOTECH_MERCADOPAGO_CLIENT_ID": "benchmark",
            "CAMPOTECH_MERCADOPAGO_CLIENT_SECRET": secrets.token_urlsafe(24),
            "CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET": secrets.token_urlsafe(32),
            "CAMPOTECH_PUBLIC_BASE_URL": "https://campotech.invalid",
            "CAMPOTECH_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
    )
    return env


class ServerProcess:
    """uvicorn serving ``app_factory`` in a process of its own: one worker, no access log, level WARNING."""

    def __init__(self, env: Mapping[str, str], log_path: Path, app: str = "tests.benchmarks.run:app_factory") -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.app = app
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, attempts: int = 3) -> None:
        from server.embedded import free_port

        for _ in range(attempts):
            self.port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "uvicorn",
                self.app,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "5",
            ]
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=log)
            if self._wait_ready(timeout):
                return
            in_use = "address already in use" in self.log_path.read_text(errors="replace").lower()
            self.stop()
            if not in_use:
                break
        raise RuntimeError(f"the server did not become ready; its log:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/health/ready", timeout=2).status_code == 200:
                    return True
            time.sleep(0.1)
        return False

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (Linux ``/proc``), None elsewhere."""
        if self.process is None:
            return None
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ----------------------------------------------------------------------------------------- measuring


@dataclass
class Outcome:
    """Every round of one entry and what they add up to."""

    entry: Entry
    target: Target | None = None
    runs: list[LoadResult] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # req/s over the baseline's, round by round
    other_cpu: list[float | None] = field(default_factory=list)  # cores used by all other processes, per round
    problem: str | None = None  # set when the entry could not be measured

    def _median(self, values: Sequence[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    @property
    def rps(self) -> float | None:
        return self._median([r.rps for r in self.runs])

    @property
    def p50_ms(self) -> float | None:
        return self._median([r.p50_ms for r in self.runs])

    @property
    def p99_ms(self) -> float | None:
        return self._median([r.p99_ms for r in self.runs])

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    @property
    def error_rate(self) -> float:
        if not self.runs:
            return 1.0
        lost = sum(n for r in self.runs for kind, n in r.error_kinds.items() if not kind.startswith("status"))
        attempts = sum(r.requests for r in self.runs) + lost
        return self.errors / attempts if attempts else 1.0

    @property
    def ratio(self) -> float | None:
        return self._median(self.ratios)

    @property
    def server_cpu(self) -> float | None:
        return self._median([r.server_cpu for r in self.runs])

    @property
    def generator_cpu(self) -> float | None:
        return self._median([r.generator_cpu for r in self.runs])

    @property
    def others_cpu(self) -> float | None:
        return self._median(self.other_cpu)

    def failures(self) -> list[str]:
        if self.problem:
            return [f"{self.entry.name}: {self.problem}"]
        out = []
        if self.error_rate > MAX_ERROR_RATE:
            out.append(f"{self.entry.name}: errors {self.error_rate:.1%} > {MAX_ERROR_RATE:.0%}")
        target = self.entry.target_ratio
        if target is not None and (self.ratio is None or self.ratio < target):
            got = "n/a" if self.ratio is None else f"{self.ratio:.3f}"
            out.append(f"{self.entry.name}: ratio to {self.entry.baseline} {got} < target {target:.3f}")
        return out

    def to_dict(self) -> dict[str, Any]:
        entry = self.entry
        return {
            "name": entry.name,
            "method": entry.method,
            "path": self.target.path if self.target else None,
            "description": entry.description,
            "baseline": entry.baseline,
            "target_ratio": entry.target_ratio,
            "rps": _r(self.rps, 1),
            "p50_ms": _r(self.p50_ms),
            "p99_ms": _r(self.p99_ms),
            "errors": self.errors,
            "error_rate": round(self.error_rate, 5),
            "ratio": _r(self.ratio),
            "ratios": [round(r, 4) for r in self.ratios],
            "server_cpu": _r(self.server_cpu),
            "generator_cpu": _r(self.generator_cpu),
            "other_cpu": _r(self.others_cpu),
            "problem": self.problem,
            "failures": self.failures(),
            "runs": [r.to_dict() for r in self.runs],
        }


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


async def prepare(entries: Sequence[Entry], ctx: BenchContext) -> dict[str, Outcome]:
    """Run the setup hooks, build each request and check it answers 2xx once before load is applied."""
    import httpx

    outcomes: dict[str, Outcome] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for entry in entries:
            outcome = outcomes[entry.name] = Outcome(entry)
            try:
                data = (await entry.setup(ctx) if entry.setup else None) or {}
                outcome.target = entry.target(ctx.base_url, data)
                t = outcome.target
                response = await client.request(t.method, t.url, headers=dict(t.headers), content=t.body or None)
            except Exception as exc:
                outcome.problem = f"setup failed: {type(exc).__name__}: {exc}"
                continue
            if not 200 <= response.status_code < 300:
                outcome.problem = f"answers {response.status_code} before any load: {response.text[:300]}"
    return outcomes


def measure(
    outcomes: dict[str, Outcome],
    server: ServerProcess,
    *,
    repeats: int,
    duration: float,
    warmup: float,
    connections: int,
    generator: str,
    processes: int,
    timeout: float,
) -> None:
    """Round after round, every entry once (order rotated each round), so drift on the machine hits all alike."""
    ready = [o for o in outcomes.values() if o.problem is None and o.target is not None]
    for round_no in range(repeats):
        shift = round_no % len(ready) if ready else 0
        order = ready[shift:] + ready[:shift]
        this_round: dict[str, LoadResult] = {}
        for outcome in order:
            assert outcome.target is not None
            usage = _cpu_usage(server)
            result = run_load(
                outcome.target,
                connections=connections,
                duration=duration,
                warmup=warmup,
                generator=generator,
                processes=processes,
                timeout=timeout,
                cpu_probe=server.cpu_seconds,
            )
            outcome.runs.append(result)
            outcome.other_cpu.append(_others_share(usage, _cpu_usage(server)))
            this_round[outcome.entry.name] = result
            print(
                f"  round {round_no + 1}/{repeats}  {outcome.entry.name:<24} {result.rps:>10,.0f} req/s"
                f"  p50 {_fmt(result.p50_ms)} ms  p99 {_fmt(result.p99_ms)} ms  errors {result.errors}",
                flush=True,
            )
            if server.process is not None and server.process.poll() is not None:
                raise RuntimeError(f"the server died during the run; its log:\n{server.log_tail()}")
        for outcome in ready:
            base = this_round.get(outcome.entry.baseline or "")
            mine = this_round.get(outcome.entry.name)
            if base is not None and mine is not None and base.rps > 0:
                outcome.ratios.append(mine.rps / base.rps)


# ------------------------------------------------------------------------------------------ reporting


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def render_table(outcomes: Sequence[Outcome]) -> str:
    """The results as an aligned text table."""
    header = ["entry", "req/s", "p50 ms", "p99 ms", "errors", "ratio", "target", "srv cpu", "gen cpu", "other cpu"]
    rows = [header]
    for o in outcomes:
        if o.problem:
            rows.append([o.entry.name, "-", "-", "-", "-", "-", "-", "-", "-", f"NOT MEASURED: {o.problem[:60]}"])
            continue
        ratio = "-" if o.ratio is None else f"{o.ratio:.3f} x {o.entry.baseline}"
        target = "-"
        if o.entry.target_ratio is not None:
            met = o.ratio is not None and o.ratio >= o.entry.target_ratio
            target = f">= {o.entry.target_ratio:.3f} {'ok' if met else 'MISSED'}"
        errors = f"{o.errors} ({o.error_rate:.1%})" if o.errors else "0"
        rps = "-" if o.rps is None else f"{o.rps:,.0f}"
        rows.append(
            [
                o.entry.name,
                rps,
                _fmt(o.p50_ms),
                _fmt(o.p99_ms),
                errors,
                ratio,
                target,
                _pct(o.server_cpu),
                _pct(o.generator_cpu),
                _pct(o.others_cpu),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 2, 3, 4, 7, 8, 9}
    lines = []
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def server_stack_description() -> str:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    import uvicorn

    return f"uvicorn {uvicorn.__version__} ({loop} + {http}), 1 worker, access log off, level WARNING"


def notes(generator_name: str, observed: Mapping[str, Any]) -> list[str]:
    """What the reader should know to judge the figures."""
    out = []
    others = observed.get("other_cpu_median")
    if others is not None and others > 0.3:
        out.append(
            f"other processes used {others:.2f} of the {os.cpu_count()} cores (median) while measuring: the machine "
            "is shared, absolute figures are noisy; the alternating rounds keep the ratios comparable."
        )
    if observed.get("server_log_lines"):
        out.append(
            f"the server wrote {observed['server_log_lines']} log lines while measured (level WARNING should write "
            "none): their cost is in the figures; see tests/benchmarks/results/server.log."
        )
    if generator_name.startswith("python"):
        out.append(
            "load generator: the built-in Python one. On 2 cores it shares the machine with the server and can be "
            "the bottleneck for very fast endpoints (low 'srv cpu' on /health is the sign): ratios to /health are "
            f"then higher than a wrk run would show. {WRK_HINT}."
        )
    if not (importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools")):
        out.append(
            "uvicorn runs without uvloop/httptools here (pure asyncio + h11), so absolute req/s are below the "
            "~15,000 req/s reference for a bare JSON endpoint; compare ratios, not absolute figures."
        )
    out.append(
        "srv cpu / gen cpu / other cpu: CPU seconds per wall second of the server / the load generator / every "
        "other process, PostgreSQL and Redis included (100% = one core)."
    )
    return out


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per entry and round (5)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections (64)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these entries (their baselines are added)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the table shows medians (3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each measurement (1)")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto", help="auto: wrk if on PATH")
    parser.add_argument("--processes", type=int, default=1, help="processes of the Python generator (1)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a request counts as an error (5)")
    parser.add_argument("--no-fail", action="store_true", help="report only: exit 0 even if an entry failed")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json", help="where the JSON goes")
    parser.add_argument("--list", action="store_true", help="list the entries and exit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_entry_modules()
    if args.list:
        for entry in ENTRIES.values():
            path = entry.path if isinstance(entry.path, str) else "<computed>"
            against = f"  vs {entry.baseline}" if entry.baseline else ""
            target = f" (target >= {entry.target_ratio:.3f})" if entry.target_ratio is not None else ""
            print(f"{entry.name:<24} {entry.method} {path}{against}{target}  {entry.description}")
        return 0
    entries = select_entries(args.only)
    if args.generator == "wrk" and wrk_path() is None:
        print(WRK_HINT, file=sys.stderr)
        return 2
    generator = args.generator if args.generator != "auto" else ("wrk" if wrk_path() else "python")
    if generator == "python":
        print(f"note: {WRK_HINT}; using the built-in Python generator", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on SIGTERM as on Ctrl-C
    work_dir = Path(tempfile.mkdtemp(prefix="campotech-bench-"))
    started_at = dt.datetime.now(dt.UTC)
    outcomes: dict[str, Outcome] = {}
    observed: dict[str, Any] = {}
    try:
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(shutil.rmtree, work_dir, True)
            t0 = time.monotonic()
            stack = cleanup.enter_context(bench_stack(work_dir))
            prefix = f"bench{uuid.uuid4().hex[:8]}"
            cleanup.callback(_drop_redis_keys, stack.redis_url, prefix)
            env = server_environment(stack, work_dir / "data", prefix)
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            log_path = RESULTS_DIR / "server.log"
            log_path.write_text("")
            server = ServerProcess(env, log_path)
            cleanup.callback(server.stop)
            server.start()
            where = ", ".join(f"embedded {name}" for name in stack.embedded) or "DATABASE_URL / REDIS_URL"
            print(
                f"stack ready in {time.monotonic() - t0:.1f} s: database {stack.database} ({where}); "
                f"{server_stack_description()}; {server.base_url}",
                flush=True,
            )
            from server.settings import load_settings

            ctx = BenchContext(
                base_url=server.base_url,
                owner_url=stack.owner_url,
                app_url=stack.app_url,
                redis_url=stack.redis_url,
                settings=load_settings(env),
            )
            cleanup.callback(lambda: [stop() for stop in reversed(ctx.cleanups)])
            outcomes = _run(prepare(entries, ctx))
            log_size = _line_count(log_path)
            print(
                f"measuring {len(entries)} entries x {args.repeats} rounds: {args.duration:g} s each after "
                f"{args.warmup:g} s warm-up, {args.connections} connections, generator {generator}",
                flush=True,
            )
            measure(
                outcomes,
                server,
                repeats=args.repeats,
                duration=args.duration,
                warmup=args.warmup,
                connections=args.connections,
                generator=generator,
                processes=args.processes,
                timeout=args.timeout,
            )
            observed["other_cpu_median"] = statistics.median(
                [x for o in outcomes.values() for x in o.other_cpu if x is not None] or [0.0]
            )
            observed["server_log_lines"] = _line_count(log_path) - log_size
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("the harness failed (see above); everything it started was stopped", file=sys.stderr)
        return 2
    ordered = [outcomes[e.name] for e in entries if e.name in outcomes]
    generator_name = next((r.generator for o in ordered for r in o.runs), generator)
    failures = [f for o in ordered for f in o.failures()]
    print()
    print(render_table(ordered))
    print()
    for line in notes(generator_name, observed):
        print(f"note: {line}")
    report = {
        "started_at": started_at.isoformat(),
        "settings": {
            "duration": args.duration,
            "warmup": args.warmup,
            "connections": args.connections,
            "repeats": args.repeats,
            "generator": generator_name,
            "timeout": args.timeout,
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "server": server_stack_description(),
        "observed": observed,
        "entries": [o.to_dict() for o in ordered],
        "failures": failures,
        "passed": not failures,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {args.output}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 0 if args.no_fail else 1
    print("passed")
    return 0


def _cpu_usage(server: ServerProcess) -> tuple[float, float, float] | None:
    """(wall, CPU seconds of the whole machine, CPU seconds of ours: server, harness, generators); Linux only."""
    import resource

    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    machine = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    ours = server.cpu_seconds() or 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):  # children: the finished generator processes
        usage = resource.getrusage(who)
        ours += usage.ru_utime + usage.ru_stime
    return time.monotonic(), machine, ours


def _others_share(before: tuple[float, float, float] | None, after: tuple[float, float, float] | None) -> float | None:
    """Cores used on average by processes that are not the benchmark's own."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    others = (after[1] - before[1]) - (after[2] - before[2])
    return round(max(0.0, others) / (after[0] - before[0]), 3)


def _line_count(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _drop_redis_keys(redis_url: str, prefix: str) -> None:
    """Remove what the run left in a shared Redis under its own queue prefix."""
    from redis import Redis

    with contextlib.suppress(Exception):
        client = Redis.from_url(redis_url, socket_timeout=5)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


if __name__ == "__main__":
    sys.exit(main())
