"""HTTP/1.1 keep-alive load generators, always in processes of their own (never the server's).

``wrk`` is used when it is on PATH; otherwise a built-in asyncio generator runs in ``processes`` child
processes (this file, run as a script with ``--worker``). Both report requests/s, p50 and p99 latency and
errors (non-2xx answers, timeouts, connection failures). Only the standard library is used here.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import functools
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CpuProbe = Callable[[], float | None]

WRK_HINT = "wrk is not on PATH: install it (Debian: apt-get install wrk) to measure with wrk instead"


@dataclass(frozen=True)
class Target:
    """One request, sent again and again on every connection."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def raw_request(self) -> bytes:
        """The request as bytes on the wire (HTTP/1.1, keep-alive)."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}", "User-Agent: campotech-bench"]
        names = {name.lower() for name, _ in self.headers}
        if "accept" not in names:
            lines.append("Accept: */*")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if self.body or self.method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class LoadResult:
    """What one measurement saw. ``requests`` counts every answer in the window, errors included."""

    generator: str
    duration: float
    requests: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    statuses: dict[str, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)
    generator_cpu: float | None = None  # CPU seconds per wall second over all generator processes (1.0 = a core)
    server_cpu: float | None = None  # the same for the server process, when a probe was given

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration > 0 else 0.0

    @property
    def error_rate(self) -> float:
        lost = sum(n for kind, n in self.error_kinds.items() if not kind.startswith("status"))
        attempts = self.requests + lost  # answers (any status) plus requests that got none
        return self.errors / attempts if attempts else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "duration": round(self.duration, 3),
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": _round(self.p50_ms),
            "p99_ms": _round(self.p99_ms),
            "errors": self.errors,
            "error_rate": round(self.error_rate, 5),
            "statuses": self.statuses,
            "error_kinds": self.error_kinds,
            "generator_cpu": _round(self.generator_cpu),
            "server_cpu": _round(self.server_cpu),
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def percentile(sorted_values: Any, pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence (None when empty)."""
    if not len(sorted_values):
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_load(
    target: Target,
    *,
    connections: int,
    duration: float,
    warmup: float = 0.0,
    generator: str = "auto",
    processes: int = 1,
    timeout: float = 5.0,
    cpu_probe: CpuProbe | None = None,
) -> LoadResult:
    """Drive ``target`` with ``connections`` keep-alive connections for ``duration`` seconds (after ``warmup``).

    ``cpu_probe`` (CPU seconds used so far by the server) is read at the start and end of the measured window.
    """
    if generator == "auto":
        generator = "wrk" if wrk_path() else "python"
    if generator == "wrk":
        return run_wrk(
            target, connections=connections, duration=duration, warmup=warmup, timeout=timeout, cpu_probe=cpu_probe
        )
    if generator == "python":
        return run_python(
            target,
            connections=connections,
            duration=duration,
            warmup=warmup,
            processes=processes,
            timeout=timeout,
            cpu_probe=cpu_probe,
        )
    raise ValueError(f"unknown load generator {generator!r} (auto, wrk or python)")


# --------------------------------------------------------------------------------------------- wrk


def _lua_string(data: bytes) -> str:
    out = []
    for byte in data:
        char = chr(byte)
        out.append(char if 32 <= byte < 127 and char not in '"\\' else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, "
    .. "\\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_script(target: Target) -> str:
    """A Lua script setting method, headers and body, and printing the summary as one JSON line."""
    lines = [f"wrk.method = {_lua_string(target.method.encode())}"]
    for name, value in target.headers:
        lines.append(f"wrk.headers[{_lua_string(name.encode())}] = {_lua_string(value.encode('latin-1'))}")
    if target.body:
        lines.append(f"wrk.body = {_lua_string(target.body)}")
    return "\n".join(lines) + "\n" + _WRK_DONE


def parse_wrk_output(output: str, duration_hint: float) -> LoadResult:
    """Read the ``BENCH_JSON`` line our ``done`` hook prints. wrk counts answers >= 400 as status errors."""
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    kinds = {k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout") if data[k]}
    duration = data["duration_us"] / 1e6 or duration_hint
    requests = int(data["requests"])
    return LoadResult(
        generator="wrk",
        duration=duration,
        requests=requests,
        errors=sum(kinds.values()),
        p50_ms=data["p50_us"] / 1000 if requests else None,
        p99_ms=data["p99_us"] / 1000 if requests else None,
        error_kinds=kinds,
    )


def run_wrk(
    target: Target,
    *,
    connections: int,
    duration: float,
    warmup: float,
    timeout: float,
    cpu_probe: CpuProbe | None = None,
) -> LoadResult:
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError(WRK_HINT)
    threads = max(1, min(2, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="campotech-bench-", delete=False) as script:
        script.write(wrk_script(target))
    try:

        def wrk_run(seconds: float) -> tuple[str, float, float]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            probes[0] = cpu_probe() if cpu_probe else None
            started = time.perf_counter()
            cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
            cmd += ["--timeout", f"{max(1, round(timeout))}s", "-s", script.name, target.url]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout + 30, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
            probes[1] = cpu_probe() if cpu_probe else None
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            return done.stdout, cpu, time.perf_counter() - started

        probes: list[float | None] = [None, None]
        if warmup > 0:
            wrk_run(warmup)
        output, cpu, wall = wrk_run(duration)
    finally:
        os.unlink(script.name)
    result = parse_wrk_output(output, duration)
    result.generator = f"wrk -t{threads}"
    result.generator_cpu = cpu / wall if wall > 0 else None
    result.server_cpu = _cpu_share(probes, wall)
    return result


def _cpu_share(probes: list[float | None], wall: float) -> float | None:
    start, end = probes
    if start is None or end is None or wall <= 0:
        return None
    return (end - start) / wall


# ------------------------------------------------------------------------------ built-in generator


def run_python(
    target: Target,
    *,
    connections: int,
    duration: float,
    warmup: float,
    processes: int,
    timeout: float,
    cpu_probe: CpuProbe | None = None,
) -> LoadResult:
    """Run the asyncio generator in ``processes`` child processes, started together, and merge what they saw."""
    processes = max(1, min(processes, connections))
    shares = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    spec = {
        "host": target.host,
        "port": target.port,
        "request": base64.b64encode(target.raw_request()).decode(),
        "head": target.method == "HEAD",
        "warmup": warmup,
        "duration": duration,
        "timeout": timeout,
    }
    children: list[tuple[subprocess.Popen[bytes], Any]] = []
    reports: list[dict[str, Any]] = []
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(_reap, children)
        for share in shares:
            errfile = cleanup.enter_context(tempfile.TemporaryFile())
            child = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errfile,
            )
            children.append((child, errfile))
            assert child.stdin is not None
            child.stdin.write((json.dumps({**spec, "connections": share}) + "\n").encode())
            child.stdin.flush()
        for child, errfile in children:  # every child has connected before any sends a request
            assert child.stdout is not None
            if child.stdout.readline().strip() != b"READY":
                raise RuntimeError(f"load generator failed to start: {_stderr(child, errfile)}")
        probes: list[float | None] = [None, None]
        timers = [
            threading.Timer(delay, lambda i=i: probes.__setitem__(i, cpu_probe() if cpu_probe else None))
            for i, delay in enumerate((warmup, warmup + duration))
        ]
        for child, _ in children:
            assert child.stdin is not None
            child.stdin.write(b"GO\n")
            child.stdin.flush()
            child.stdin.close()
        for timer in timers:
            timer.start()
        for timer in timers:
            cleanup.callback(timer.cancel)
        for child, errfile in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            child.wait(timeout=timeout + 30)
            if not line:
                raise RuntimeError(f"load generator died: {_stderr(child, errfile)}")
            reports.append(json.loads(line))
        for timer in timers:
            timer.join()
    result = merge_reports(reports, duration, processes)
    result.server_cpu = _cpu_share(probes, duration)
    return result


def _reap(children: list[tuple[subprocess.Popen[bytes], Any]]) -> None:
    for child, _ in children:
        if child.poll() is None:
            child.kill()
            child.wait()


def _stderr(child: subprocess.Popen[bytes], errfile: Any) -> str:
    if child.poll() is None:
        child.kill()
    child.wait()
    errfile.seek(0)
    return errfile.read().decode(errors="replace")[-4000:]


def merge_reports(reports: list[dict[str, Any]], duration: float, processes: int) -> LoadResult:
    latencies = array.array("d")
    statuses: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    cpu = 0.0
    for report in reports:
        latencies.frombytes(base64.b64decode(report["latencies"]))
        statuses.update(report["statuses"])
        kinds.update(report["errors"])
        cpu += report["cpu"]
    ordered = sorted(latencies)
    p50, p99 = percentile(ordered, 50), percentile(ordered, 99)
    return LoadResult(
        generator=f"python x{processes}",
        duration=duration,
        requests=len(ordered),
        errors=sum(kinds.values()),
        p50_ms=None if p50 is None else p50 * 1000,
        p99_ms=None if p99 is None else p99 * 1000,
        statuses=dict(sorted(statuses.items())),
        error_kinds=dict(sorted(kinds.items())),
        generator_cpu=cpu / duration if duration > 0 else None,
    )


class _Connection(asyncio.Protocol):
    """One keep-alive connection: send, parse the answer (Content-Length, chunked or close), send again."""

    def __init__(self, driver: _Driver, slot: int) -> None:
        self.driver = driver
        self.slot = slot
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.sent_at = 0.0
        self.in_flight = False
        self.aborted = False
        self._reset()

    def _reset(self) -> None:
        self.head_end = -1
        self.length = -1  # >= 0 body length, -2 chunked, -3 until the connection closes
        self.chunk_pos = 0
        self.status = 0
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.in_flight = True
        self.transport.write(self.driver.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.in_flight:
            end = self._complete()
            if end < 0:
                return
            del self.buf[:end]
            self._finish()

    def _finish(self) -> None:
        self.in_flight = False
        status, close = self.status, self.close_after
        self._reset()
        self.driver.on_response(self, status, close)

    def _complete(self) -> int:
        """Where the answer in ``buf`` ends, or -1 while it is incomplete."""
        buf = self.buf
        if self.head_end < 0:
            idx = buf.find(b"\r\n\r\n")
            if idx < 0:
                return -1
            head = bytes(buf[:idx]).lower()
            self.head_end = idx + 4
            try:
                self.status = int(head[9:12])
            except ValueError:
                self.status = 0
            self.close_after = b"\r\nconnection: close" in head
            pos = head.find(b"\r\ncontent-length:")
            if self.driver.head or self.status in (204, 304):
                self.length = 0
            elif pos >= 0:
                eol = head.find(b"\r\n", pos + 2)
                self.length = int(head[pos + 17 : eol if eol >= 0 else len(head)].strip())
            elif b"\r\ntransfer-encoding: chunked" in head:
                self.length, self.chunk_pos = -2, self.head_end
            else:
                self.length = -3
        if self.length >= 0:
            end = self.head_end + self.length
            return end if len(buf) >= end else -1
        if self.length == -3:
            return -1
        while True:  # chunked
            eol = buf.find(b"\r\n", self.chunk_pos)
            if eol < 0:
                return -1
            size = int(bytes(buf[self.chunk_pos : eol]).split(b";")[0], 16)
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", eol)
                if buf[eol + 2 : eol + 4] == b"\r\n":
                    return eol + 4
                return trailer_end + 4 if trailer_end >= 0 else -1
            nxt = eol + 2 + size + 2
            if len(buf) < nxt:
                return -1
            self.chunk_pos = nxt

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight and not self.aborted:
            if self.length == -3 and self.head_end >= 0:
                self._finish()  # a close-delimited body is complete
            else:
                self.in_flight = False
                self.driver.on_error("read")
        self.driver.on_lost(self)


class _Driver:
    """All connections of one generator process and the counts of the measured window."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.host: str = spec["host"]
        self.port: int = spec["port"]
        self.request: bytes = base64.b64decode(spec["request"])
        self.head: bool = spec.get("head", False)
        self.connections: int = spec["connections"]
        self.warmup: float = spec["warmup"]
        self.duration: float = spec["duration"]
        self.timeout: float = spec["timeout"]
        self.latencies = array.array("d")
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.conns: list[_Connection | None] = [None] * self.connections
        self.running = True
        self.window = (math.inf, math.inf)
        self._tasks: set[asyncio.Task[None]] = set()

    def _in_window(self, now: float) -> bool:
        return self.window[0] <= now < self.window[1]

    async def connect(self, slot: int) -> _Connection | None:
        loop = asyncio.get_running_loop()
        while self.running:
            try:
                _, conn = await loop.create_connection(functools.partial(_Connection, self, slot), self.host, self.port)
            except OSError:
                if self._in_window(time.perf_counter()):
                    self.errors["connect"] += 1
                await asyncio.sleep(0.05)
                continue
            self.conns[slot] = conn
            return conn
        return None

    def on_response(self, conn: _Connection, status: int, close: bool) -> None:
        now = time.perf_counter()
        if self._in_window(now):
            self.latencies.append(now - conn.sent_at)
            self.statuses[str(status)] += 1
            if not 200 <= status < 300:
                self.errors[f"status_{status}"] += 1
        if close:
            assert conn.transport is not None
            conn.transport.close()
        elif self.running:
            conn.send()

    def on_error(self, kind: str) -> None:
        if self._in_window(time.perf_counter()):
            self.errors[kind] += 1

    def on_lost(self, conn: _Connection) -> None:
        if self.conns[conn.slot] is conn:
            self.conns[conn.slot] = None
        if self.running:
            self._spawn(self._reconnect(conn.slot))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconnect(self, slot: int) -> None:
        conn = await self.connect(slot)
        if conn is not None and self.running:
            conn.send()

    async def run(self, wait_for_go: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for slot in range(self.connections):
            try:
                _, opened = await asyncio.wait_for(
                    loop.create_connection(functools.partial(_Connection, self, slot), self.host, self.port),
                    self.timeout,
                )
                self.conns[slot] = opened
            except (OSError, TimeoutError):
                pass  # retried (and counted) once the run starts
        await wait_for_go()
        start = time.perf_counter()
        self.window = (start + self.warmup, start + self.warmup + self.duration)
        for slot, maybe in enumerate(self.conns):
            if maybe is not None:
                maybe.send()
            else:
                self._spawn(self._reconnect(slot))
        cpu_start: float | None = None
        while (now := time.perf_counter()) < self.window[1]:
            if cpu_start is None and now >= self.window[0]:
                cpu_start = time.process_time()
            for late in self.conns:
                if late is not None and late.in_flight and now - late.sent_at > self.timeout:
                    late.aborted = True
                    late.in_flight = False
                    self.on_error("timeout")
                    assert late.transport is not None
                    late.transport.abort()
            await asyncio.sleep(min(0.05, max(0.0, self.window[1] - now)))
        cpu = time.process_time() - (cpu_start if cpu_start is not None else time.process_time())
        self.running = False
        for left in self.conns:
            if left is not None and left.transport is not None:
                left.transport.abort()
        await asyncio.sleep(0)
        return {
            "latencies": base64.b64encode(self.latencies.tobytes()).decode(),
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
            "cpu": cpu,
        }


def _worker_main() -> None:
    """Child side: read the spec, connect, say READY, wait for GO, run, print the report as one JSON line."""
    spec = json.loads(sys.stdin.readline())
    driver = _Driver(spec)

    async def wait_for_go() -> None:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if line.strip() != "GO":
            raise SystemExit(1)

    report = asyncio.run(driver.run(wait_for_go))
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker_main()
    else:
        sys.exit("usage: loadgen.py --worker (started by tests.benchmarks.run; not meant to be run by hand)")
