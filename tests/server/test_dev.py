"""`campotech dev` end to end, as a newcomer runs it: `uv run campotech dev --port N` with no
DATABASE_URL / REDIS_URL, on a fresh data folder, then SIGTERM to its process group; then a second
run on the same folder reuses the data. Nothing may keep running after either stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from server.dev import postmaster_pid, stop_leftover_postgres, stop_leftover_redis
from server.settings import PROJECT_ROOT

READY_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 10
BANNER_TITLE = "CampoTech dev server is running"
SERVED_PATHS = ("/api/v1", "/schema", "/schema/openapi.json", "/health", "/health/ready", "/health/live", "/metrics")


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_dev(data_dir: Path, log_path: Path) -> DevRun:
    """`uv run campotech dev --port N` in its own session, with the environment of a fresh checkout."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("CAMPOTECH_")
    }
    env["CAMPOTECH_DATA_DIR"] = str(data_dir)
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["uv", "run", "campotech", "dev", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return DevRun(process=process, port=port, log_path=log_path)


def wait_ready(run: DevRun) -> dict:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            pytest.fail(f"campotech dev exited with {run.process.returncode}:\n{run.output()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{run.base_url}/health/ready", timeout=2)
            if response.status_code == 200:
                return response.json()
        time.sleep(0.2)
    pytest.fail(f"not ready within {READY_TIMEOUT_SECONDS} s:\n{run.output()[-4000:]}")


def wait_for_banner(run: DevRun) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        output = run.output()
        if BANNER_TITLE in output and "Stop " in output.split(BANNER_TITLE, 1)[1]:
            return output.split(BANNER_TITLE, 1)[1]
        time.sleep(0.1)
    pytest.fail(f"no banner printed:\n{run.output()[-4000:]}")


def banner_value(banner: str, label: str) -> str:
    match = re.search(rf"^\s+{re.escape(label)}\s+(.+)$", banner, flags=re.MULTILINE)
    assert match, f"banner has no {label!r} line:\n{banner}"
    return match.group(1).strip()


def is_alive(pid: int) -> bool:
    """Running and not a zombie (exited processes wait a moment for init to reap them)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def server_processes(data_dir: Path) -> list[psutil.Process]:
    """Live PostgreSQL (``-D`` in ``data_dir``) and Redis (working directory in ``data_dir``) servers."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        name = proc.info["name"]
        if name == "postgres":
            ours = str(data_dir) in " ".join(proc.info["cmdline"] or [])
        elif name == "redis-server":
            ours = str(proc.info["cwd"] or "").startswith(str(data_dir))
        else:
            continue
        if ours and is_alive(proc.pid):
            found.append(proc)
    return found


def stop_and_check(run: DevRun, data_dir: Path) -> float:
    """SIGTERM to the process group; assert exit code 0 in time and no server left. Returns seconds."""
    pgdata = data_dir / "postgres"
    postmaster = postmaster_pid(pgdata)
    assert postmaster is not None and is_alive(postmaster)
    postgres_pids = [postmaster, *(child.pid for child in psutil.Process(postmaster).children(recursive=True))]
    redis_pids = [p.pid for p in server_processes(data_dir) if p.info["name"] == "redis-server"]
    assert len(redis_pids) == 1, "the embedded Redis should be running"
    started = time.monotonic()
    os.killpg(run.process.pid, signal.SIGTERM)
    try:
        code = run.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"campotech dev did not stop within {STOP_TIMEOUT_SECONDS} s:\n{run.output()[-4000:]}")
    elapsed = time.monotonic() - started
    assert code == 0, run.output()[-4000:]
    left = [pid for pid in [*postgres_pids, *redis_pids] if is_alive(pid)]
    assert not left, f"still running after stop: {left}"
    assert not server_processes(data_dir)
    assert not (pgdata / "postmaster.pid").exists()
    assert run.output().rstrip().endswith("stopped")
    return elapsed


async def count_organizations(admin_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(admin_url)
    try:
        return await conn.fetch("SELECT name, cuit FROM organizations")
    finally:
        await conn.close()


@pytest.fixture(name="dev_data_dir")
def fixture_dev_data_dir() -> Iterator[Path]:
    """A fresh data folder (short path: PostgreSQL's socket lives in it); whatever is left is stopped."""
    root = Path(tempfile.mkdtemp(prefix="campotech-dev-test-"))
    try:
        yield root / "data"
    finally:
        stop_leftover_redis(root / "data")
        stop_leftover_postgres(root / "data" / "postgres")
        shutil.rmtree(root, ignore_errors=True)


def check_running_instance(run: DevRun, data_dir: Path) -> tuple[str, dict[str, str]]:
    ready = wait_ready(run)
    assert ready["status"] == "ready"
    assert ready["checks"]["postgres"]["ok"] is True
    assert ready["checks"]["redis"]["ok"] is True
    banner = wait_for_banner(run)
    for path in SERVED_PATHS:
        assert f"{run.base_url}{path}\n" in banner, f"banner lacks {path}:\n{banner}"
    values = {label: banner_value(banner, label) for label in ("Admin token", "PostgreSQL", "Redis", "Demo data")}
    assert str(data_dir) in banner_value(banner, "Data folder")
    assert "Ctrl-C" in banner_value(banner, "Stop")
    assert 'organisation "Servicios Demo SRL" (CUIT 30-71234567-1)' in values["Demo data"]
    assert "+5491155550001" in banner and "code 123456" in banner

    docs = httpx.get(f"{run.base_url}/schema", timeout=5)
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "/static/swagger-ui/swagger-ui.css" in docs.text
    asset = httpx.get(f"{run.base_url}/static/swagger-ui/swagger-ui-bundle.js", timeout=5)
    assert asset.status_code == 200
    openapi = httpx.get(f"{run.base_url}/schema/openapi.json", timeout=5)
    assert openapi.status_code == 200
    spec = openapi.json()
    assert spec["openapi"].startswith("3.")
    assert "/health/ready" in spec["paths"]
    metrics = httpx.get(f"{run.base_url}/metrics", timeout=5)
    assert metrics.status_code == 200
    live = httpx.get(f"{run.base_url}/health/live", timeout=5)
    assert live.status_code == 200, live.text
    return banner, values


def sign_in_as_demo_owner(base_url: str) -> None:
    """What the README tells a newcomer to do: a demo phone, its fixed code, then an authenticated call."""
    asked = httpx.post(f"{base_url}/api/v1/auth/otp/request", json={"phone": "+5491155550001"}, timeout=10)
    assert asked.status_code == 202, asked.text
    verified = httpx.post(
        f"{base_url}/api/v1/auth/otp/verify", json={"phone": "011 15-5555-0001", "code": "123456"}, timeout=10
    )
    assert verified.status_code == 200, verified.text
    tokens = verified.json()
    assert tokens["user"]["role"] == "owner"
    refreshed = httpx.post(f"{base_url}/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}, timeout=10)
    assert refreshed.status_code == 200
    sessions = httpx.get(
        f"{base_url}/api/v1/auth/sessions",
        headers={"Authorization": f"Bearer {refreshed.json()['accessToken']}"},
        timeout=10,
    )
    assert sessions.status_code == 200 and len(sessions.json()) == 1
    team = httpx.get(
        f"{base_url}/api/v1/users", headers={"Authorization": f"Bearer {refreshed.json()['accessToken']}"}, timeout=10
    )
    assert {m["role"] for m in team.json()} == {"owner", "admin", "dispatcher", "technician", "accountant"}


def redis_port_of(values: dict[str, str]) -> int:
    match = re.search(r"redis://127\.0\.0\.1:(\d+)/", values["Redis"])
    assert match, values["Redis"]
    port = int(match.group(1))
    assert port < 32768
    return port


def test_dev_starts_embedded_servers_stops_cleanly_and_reuses_its_data(dev_data_dir: Path) -> None:
    timings: dict[str, float] = {}
    logs = dev_data_dir.parent

    # First run: a fresh folder, so PostgreSQL is initialised and the demo organisation created.
    started = time.monotonic()
    first = start_dev(dev_data_dir, logs / "first.log")
    try:
        _, values = check_running_instance(first, dev_data_dir)
        timings["first run ready"] = time.monotonic() - started
        assert "added organization" in values["Demo data"]
        assert values["PostgreSQL"].endswith("(embedded)")
        sign_in_as_demo_owner(first.base_url)
        first_redis_port = redis_port_of(values)
        first_token = values["Admin token"]
        secrets_file = dev_data_dir / "dev-secrets.json"
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        timings["first stop"] = stop_and_check(first, dev_data_dir)
    finally:
        if first.process.poll() is None:
            os.killpg(first.process.pid, signal.SIGKILL)

    # Second run on the same folder: the data, the Redis port and the dev secrets are reused.
    started = time.monotonic()
    second = start_dev(dev_data_dir, logs / "second.log")
    try:
        _, values = check_running_instance(second, dev_data_dir)
        timings["second run ready"] = time.monotonic() - started
        assert values["Demo data"].endswith("already there")
        assert redis_port_of(values) == first_redis_port
        assert values["Admin token"] == first_token
        admin_url = values["PostgreSQL"].removesuffix("(embedded)").strip()
        organizations = asyncio.run(count_organizations(admin_url))
        assert [(o["name"], o["cuit"]) for o in organizations] == [("Servicios Demo SRL", "30712345671")]
        timings["second stop"] = stop_and_check(second, dev_data_dir)
    finally:
        if second.process.poll() is None:
            os.killpg(second.process.pid, signal.SIGKILL)

    print("timings (s): " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings.items()))
