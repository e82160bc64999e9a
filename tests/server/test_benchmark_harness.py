"""Smoke tests of the benchmark harness (tests/benchmarks): the load generator, the registry and the table.

The generator runs for about a second against a tiny HTTP server in a thread; one test starts the real
app under uvicorn in its own process, the way ``python -m tests.benchmarks.run`` does.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.settings import Environment
from tests.benchmarks import run as bench
from tests.benchmarks.loadgen import LoadResult, Target, parse_wrk_output, run_load, wrk_script

_BODY = b'{"status":"ok"}'
_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n"


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """/ok 200, /fail 500, /chunked 200 chunked, /hang never answers."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            if path == b"/hang":
                await asyncio.sleep(3600)
            elif path == b"/chunked":
                writer.write(_CHUNKED)
            else:
                status = b"500 Internal Server Error" if path == b"/fail" else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(_BODY) + _BODY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture(name="tiny_server", scope="module")
def fixture_tiny_server() -> Iterator[str]:
    """A minimal keep-alive HTTP/1.1 server on 127.0.0.1:<port 0>, in a thread with its own event loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def start() -> None:
        server = await asyncio.start_server(_handle, "127.0.0.1", 0)
        box["server"] = server
        box["port"] = server.sockets[0].getsockname()[1]
        started.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:

        async def stop() -> None:
            box["server"].close()  # type: ignore[attr-defined]
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_python_generator_counts_requests_and_latency(tiny_server: str) -> None:
    result = run_load(
        Target(tiny_server + "/ok"), connections=4, duration=1.0, warmup=0.2, generator="python", processes=2
    )
    assert result.generator == "python x2"
    assert result.requests > 100
    assert result.errors == 0
    assert result.statuses == {"200": result.requests}
    assert result.p50_ms is not None and result.p99_ms is not None
    assert 0 < result.p50_ms <= result.p99_ms < 1000
    assert result.rps == pytest.approx(result.requests / 1.0)
    assert result.generator_cpu is not None and result.generator_cpu > 0


def test_python_generator_counts_500s_as_errors(tiny_server: str) -> None:
    result = run_load(Target(tiny_server + "/fail"), connections=4, duration=0.7, generator="python")
    assert result.requests > 0
    assert result.errors == result.requests
    assert result.error_kinds == {"status_500": result.requests}
    assert result.error_rate == 1.0


def test_python_generator_reads_chunked_answers(tiny_server: str) -> None:
    result = run_load(Target(tiny_server + "/chunked"), connections=2, duration=0.5, generator="python")
    assert result.requests > 0 and result.errors == 0


def test_python_generator_counts_timeouts(tiny_server: str) -> None:
    result = run_load(Target(tiny_server + "/hang"), connections=2, duration=1.0, generator="python", timeout=0.2)
    assert result.requests == 0
    assert result.error_kinds.get("timeout", 0) >= 2
    assert result.error_rate == 1.0


def test_wrk_script_and_summary_parsing() -> None:
    target = Target("http://127.0.0.1:1/x", method="POST", headers=(("Authorization", 'Bearer "t"'),), body=b"{}\n")
    script = wrk_script(target)
    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["Authorization"] = "Bearer \\034t\\034"' in script
    assert 'wrk.body = "{}\\010"' in script
    output = (
        "Running 5s test @ http://127.0.0.1:1/x\n"
        'BENCH_JSON {"requests": 50000, "duration_us": 5000000, "p50_us": 1200, "p99_us": 4500, '
        '"connect": 0, "read": 3, "write": 0, "status": 7, "timeout": 0}\n'
    )
    result = parse_wrk_output(output, 5.0)
    assert result.rps == 10000
    assert (result.p50_ms, result.p99_ms) == (1.2, 4.5)
    assert result.errors == 10 and result.error_kinds == {"read": 3, "status": 7}


def test_entry_builds_request_from_setup_data() -> None:
    entry = bench.Entry(
        "job",
        "/api/v1/jobs/{job_id}",
        method="post",
        headers=lambda data: {"Authorization": f"Bearer {data['token']}"},
        body=lambda data: {"id": data["job_id"]},
    )
    target = entry.target("http://127.0.0.1:9", {"job_id": "j1", "token": "tok"})
    assert target.url == "http://127.0.0.1:9/api/v1/jobs/j1"
    assert target.method == "POST"
    assert dict(target.headers) == {"Authorization": "Bearer tok", "Content-Type": "application/json"}
    assert target.body == b'{"id":"j1"}'
    raw = target.raw_request()
    assert raw.startswith(b"POST /api/v1/jobs/j1 HTTP/1.1\r\n") and raw.endswith(b'\r\n\r\n{"id":"j1"}')
    assert b"Content-Length: 11\r\n" in raw


def test_selection_adds_baselines_and_health_entries_exist() -> None:
    assert bench.ENTRIES["health_ready"].baseline == "health"
    assert [e.name for e in bench.select_entries(["health_ready"])] == ["health", "health_ready"]


def _result(rps: float, errors: int = 0) -> LoadResult:
    requests = int(rps)
    kinds = {"status_500": errors} if errors else {}
    return LoadResult("python x1", 1.0, requests, errors, 1.0, 2.0, {}, kinds, 0.5, 0.9)


def test_table_and_failures_for_errors_and_missed_targets() -> None:
    base = bench.Outcome(bench.Entry("base", "/b"), runs=[_result(1000), _result(1200), _result(900)])
    slow = bench.Outcome(
        bench.Entry("slow", "/s", baseline="base", target_ratio=1 / 3),
        runs=[_result(200), _result(250), _result(220)],
        ratios=[0.2, 0.21, 0.24],
    )
    flaky = bench.Outcome(bench.Entry("flaky", "/f"), runs=[_result(1000, errors=20)])
    assert base.rps == 1000 and base.failures() == []
    assert slow.ratio == 0.21
    assert slow.failures() == ["slow: ratio to base 0.210 < target 0.333"]
    assert flaky.failures() == ["flaky: errors 2.0% > 1%"]
    table = bench.render_table([base, slow, flaky])
    assert "0.210 x base" in table and ">= 0.333 MISSED" in table and "20 (2.0%)" in table


def tiny_asgi_factory() -> Any:
    """What the uvicorn test serves: 200 with a small JSON body, 500 on /fail."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        status = 500 if scope["path"] == "/fail" else 200
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": _BODY})

    return app


def test_server_process_runs_uvicorn_in_its_own_process(tmp_path: Path) -> None:
    """The harness's server runner (uvicorn --factory, one worker) measured for a second with 4 connections."""
    app = "tests.server.test_benchmark_harness:tiny_asgi_factory"
    server = bench.ServerProcess(dict(os.environ), tmp_path / "server.log", app=app)
    try:
        server.start(timeout=30)
        assert server.process is not None and server.process.pid != os.getpid()
        result = run_load(
            Target(server.base_url + "/health"),
            connections=4,
            duration=1.0,
            generator="python",
            cpu_probe=server.cpu_seconds,
        )
        failing = run_load(Target(server.base_url + "/fail"), connections=2, duration=0.3, generator="python")
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert result.requests > 0 and result.errors == 0
    assert result.p50_ms is not None and result.p99_ms is not None and result.p50_ms <= result.p99_ms
    assert result.server_cpu is not None and result.server_cpu > 0
    assert failing.requests > 0 and failing.error_kinds == {"status_500": failing.requests}


def test_app_factory_builds_the_app_from_the_harness_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    owner = "postgresql://postgres@127.0.0.1:5432/campotech_bench_x"
    app_url = "postgresql://campotech_app@127.0.0.1:5432/campotech_bench_x"
    stack = bench.Stack(owner, app_url, "redis://127.0.0.1:6379/3", "campotech_bench_x", [])
    monkeypatch.setenv("CAMPOTECH_TEST_OTP", "123456")  # the caller's own settings must not leak in
    env = bench.server_environment(stack, tmp_path, "benchx")
    assert "CAMPOTECH_TEST_OTP" not in env
    for name in [k for k in os.environ if k.startswith("CAMPOTECH_") or k in {"DATABASE_URL", "REDIS_URL"}]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = bench.app_factory().state.settings
    assert settings.env is Environment.PRODUCTION
    assert settings.runtime_database_url() == app_url and settings.database_url == owner
    assert settings.log_level == "WARNING" and settings.queue_prefix == "benchx"
