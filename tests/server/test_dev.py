"""`campotech dev` end to end, as a newcomer runs it: `uv run campotech dev --port N` with no
DATABASE_URL / REDIS_URL, on a fresh data folder, then SIGTERM to its process group; then a second
run on the same folder reuses the data. Nothing may keep running after either stop.

The whole system is there: the banner names the Mercado Pago sandbox and the web client (Flet, served
without a CDN); the demo owner connects Mercado Pago through the sandbox's OAuth consent, sends a payment
link for the issued invoice, the sandbox pays it and the invoice turns paid; after a restart the account is
still connected (the sandbox remembers its tokens) and the next invoice is paid the same way.

Issue #5 as a new user tries it: the demo owner issues an invoice through the API against the AFIP
sandbox `campotech dev` started, downloads the PDF and scans its QR; after a restart the next invoice
gets the next number (the sandbox remembers what it issued), and `campotech afip check` finds the
running instance by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
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
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from server.dev import port_is_free, postmaster_pid, stop_leftover_postgres, stop_leftover_redis
from server.settings import PROJECT_ROOT
from shared.fiscal.qr import decode_qr_url

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


def fresh_checkout_env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("CAMPOTECH_")
    }
    env["CAMPOTECH_DATA_DIR"] = str(data_dir)
    return env


def start_dev(data_dir: Path, log_path: Path) -> DevRun:
    """`uv run campotech dev --port N` in its own session, with the environment of a fresh checkout."""
    env = fresh_checkout_env(data_dir)
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


def sign_in_as_demo_owner(base_url: str) -> str:
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
    return str(refreshed.json()["refreshToken"])


def refresh(base_url: str, refresh_token: str) -> tuple[str, str]:
    """(access token, next refresh token): the session of the first run goes on after a restart."""
    refreshed = httpx.post(f"{base_url}/api/v1/auth/refresh", json={"refreshToken": refresh_token}, timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    return refreshed.json()["accessToken"], refreshed.json()["refreshToken"]


def qr_of_first_page(pdf: bytes, folder: Path) -> str:
    """What a phone reads off the printed invoice: the page rendered (pdftoppm), the QR scanned (zbarimg)."""
    (folder / "invoice.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", str(folder / "invoice.pdf"), str(folder / "page")],
        check=True,
    )
    [png] = sorted(folder.glob("page*.png"))
    scan = subprocess.run(["zbarimg", "--raw", "-q", str(png)], check=True, capture_output=True, text=True)
    return scan.stdout.strip()


def issue_invoice(run: DevRun, access: str, folder: Path) -> dict[str, Any]:
    """The demo owner invoices the demo customer with CUIT: draft, CAE from the AFIP sandbox, PDF, QR."""
    api, headers = f"{run.base_url}/api/v1", {"Authorization": f"Bearer {access}"}
    customers = httpx.get(f"{api}/customers", headers=headers, timeout=10).json()["items"]
    company = next(c for c in customers if c["docType"] == "cuit" and c["ivaCondition"] == "responsable_inscripto")
    lines = [{"description": "Carga de gas R410A y prueba de estanqueidad", "quantity": "1", "unitPrice": "62000.00"}]
    draft = httpx.post(
        f"{api}/invoices", headers=headers, json={"customerId": company["id"], "lines": lines}, timeout=10
    )
    assert draft.status_code == 201, draft.text
    invoice_id = draft.json()["id"]
    asked = httpx.post(f"{api}/invoices/{invoice_id}/cae", headers=headers, timeout=10)
    assert asked.status_code == 202, asked.text
    deadline = time.monotonic() + 30
    while (invoice := httpx.get(f"{api}/invoices/{invoice_id}", headers=headers, timeout=10).json())[
        "status"
    ] == "pending_cae":
        assert time.monotonic() < deadline, f"no CAE within 30 s:\n{run.output()[-4000:]}"
        time.sleep(0.2)
    assert invoice["status"] == "issued", invoice["afipMessages"]
    assert (invoice["letter"], invoice["receiptType"], invoice["pointOfSale"]) == ("A", 1, 1)
    pdf = httpx.get(f"{api}/invoices/{invoice_id}/pdf", headers=headers, timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    qr = decode_qr_url(qr_of_first_page(pdf.content, folder))
    assert qr["cuit"] == 30712345671 and (qr["ptoVta"], qr["tipoCmp"]) == (1, 1)
    assert qr["nroCmp"] == invoice["number"] and qr["codAut"] == int(invoice["cae"])
    assert qr["nroDocRec"] == int(company["docNumber"])
    assert Decimal(str(qr["importe"])) == Decimal(invoice["totalAmount"]) == Decimal("75020.00")
    return invoice


def afip_receipts(sandbox_url: str) -> dict[int, str]:
    """Number → CAE of the demo organisation's Facturas A, as the AFIP sandbox holds them."""
    params = {"cuit": "30712345671", "ptoVta": 1, "cbteTipo": 1}
    answer = httpx.get(f"{sandbox_url}/_sandbox/receipts", params=params, timeout=5)
    return {r["number"]: r["cae"] for r in answer.json()["receipts"]}


def afip_sandbox_url(banner: str) -> tuple[str, int]:
    match = re.match(r"(http://127\.0\.0\.1:(\d+))\s", banner_value(banner, "AFIP sandbox"))
    assert match, banner
    assert int(match.group(2)) < 32768
    return match.group(1), int(match.group(2))


def banner_url(banner: str, label: str) -> tuple[str, int]:
    """The http://127.0.0.1:PORT a banner row starts with (a fixed port, below the ephemeral range)."""
    match = re.match(r"(http://127\.0\.0\.1:(\d+))\s", banner_value(banner, label))
    assert match, banner
    assert int(match.group(2)) < 32768
    return match.group(1), int(match.group(2))


def check_web_client(web_url: str) -> None:
    """The technician's web client answers with Flet's page, whose assets come from this server, not a CDN."""
    page = httpx.get(f"{web_url}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "flet.noCdn=true" in page.text and 'canvasKitBaseUrl="/canvaskit/"' in page.text
    assert not re.findall(r"(?:src|href)=\"https?://", page.text), "the page loads something from the internet"
    for asset in ("flutter_bootstrap.js", "python.js", "canvaskit/canvaskit.js"):
        assert httpx.get(f"{web_url}/{asset}", timeout=10).status_code == 200, asset


def has_payment_links(base_url: str) -> bool:
    paths = httpx.get(f"{base_url}/schema/openapi.json", timeout=10).json()["paths"]
    return "/api/v1/invoices/{invoice_id}/payment-link" in paths and "/api/v1/payments/mercadopago/connect" in paths


def connect_mercadopago(run: DevRun, access: str) -> dict[str, Any]:
    """The owner's "Conectar Mercado Pago": consent at the sandbox, which sends the browser back to the API."""
    headers = {"Authorization": f"Bearer {access}"}
    start = httpx.get(f"{run.base_url}/api/v1/payments/mercadopago/connect", headers=headers, timeout=10)
    assert start.status_code == 200, start.text
    consent = httpx.get(start.json()["authorizationUrl"], follow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = consent.headers["location"]
    assert back.startswith(f"{run.base_url}/api/v1/payments/mercadopago/callback?")
    connected = httpx.get(back, timeout=10)
    assert connected.status_code == 200, connected.text
    return connected.json()


def pay_invoice_through_mercadopago(run: DevRun, access: str, mp_url: str, invoice: dict[str, Any]) -> int:
    """A payment link for the invoice, paid at the sandbox; its webhook reaches the API and the invoice turns
    paid. Returns Mercado Pago's payment id."""
    api, headers = f"{run.base_url}/api/v1", {"Authorization": f"Bearer {access}"}
    link = httpx.post(f"{api}/invoices/{invoice['id']}/payment-link", headers=headers, timeout=15)
    assert link.status_code == 201, link.text
    assert link.json()["initPoint"].startswith(f"{mp_url}/checkout/")
    assert Decimal(link.json()["amount"]) == Decimal(invoice["totalAmount"])
    checkout = httpx.get(link.json()["initPoint"], timeout=10)
    assert checkout.status_code == 200 and "Mercado Pago" in checkout.text
    paid = httpx.post(
        f"{mp_url}/_sandbox/preferences/{link.json()['preferenceId']}/pay",
        json={"status": "approved", "installments": 3},
        timeout=10,
    )
    assert paid.status_code == 201, paid.text
    deadline = time.monotonic() + 30
    while (after := httpx.get(f"{api}/invoices/{invoice['id']}", headers=headers, timeout=10).json())[
        "status"
    ] != "paid":
        assert time.monotonic() < deadline, f"invoice not paid within 30 s: {after}\n{run.output()[-4000:]}"
        time.sleep(0.2)
    assert Decimal(after["paidAmount"]) == Decimal(invoice["totalAmount"])
    return int(paid.json()["id"])


def campotech(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`uv run campotech …` in another terminal, with the environment of a fresh checkout."""
    return subprocess.run(
        ["uv", "run", "campotech", *args],
        cwd=PROJECT_ROOT,
        env=fresh_checkout_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def dev_api(data_dir: Path, state: str) -> str:
    """`campotech dev api off|on`, as a person would type it."""
    done = campotech(data_dir, "dev", "api", state)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def get_as(base_url: str, path: str, access: str) -> httpx.Response:
    return httpx.get(f"{base_url}/api/v1{path}", headers={"Authorization": f"Bearer {access}"}, timeout=10)


async def technician_day_offline(base_url: str, data_dir: Path, folder: Path) -> dict[str, Any]:
    """The demo technician's phone (the client's own store, outbox and sync engine): first sync shows today's
    jobs; with the API off (`campotech dev api off`) a job is driven to completed with a photo and the
    customer's signature; with the API on again everything arrives. Returns the server's job."""
    import io

    from PIL import Image

    from client.actions import TechnicianActions
    from client.api import ApiClient
    from client.attachments import UploadQueue
    from client.outbox import Outbox
    from client.store import LocalStore
    from client.sync.engine import SyncEngine
    from client.tokens import MemoryTokenStore
    from server.domain.demo.seed import DEMO_CODE, DEMO_JOBS, DEMO_MEMBERS
    from server.domain.jobs.services import LOCAL_TZ

    technician = DEMO_MEMBERS[3]
    store = LocalStore.open(folder / "phone" / "campotech.db")
    api = ApiClient(base_url, MemoryTokenStore())
    try:
        await api.request_otp(technician.phone)
        session = await api.verify_otp(technician.phone, DEMO_CODE, "Moto G del técnico")
        store.set_session(
            user_id=session.user_id, org_id=session.org_id, role=session.role, full_name=session.full_name
        )
        outbox, uploads = Outbox(store), UploadQueue(store, api)
        engine = SyncEngine(api, store, outbox, uploads, device_id=store.device_id())
        actions = TechnicianActions(store, outbox, uploads)
        assert (await engine.sync_once()).errors == []
        today = store.jobs_for_day(datetime.datetime.now(LOCAL_TZ).date(), technician_id=session.user_id)
        assert [j["title"] for j in today] == [j.title for j in DEMO_JOBS if j.technician_phone == technician.phone]
        job_id = today[0]["id"]

        assert "API off" in dev_api(data_dir, "off")
        actions.transition(job_id, "start_travel")
        actions.transition(job_id, "start_work")
        photo = io.BytesIO()
        Image.new("RGB", (1600, 1200), (180, 60, 40)).save(photo, "JPEG")
        actions.add_photo(job_id, photo.getvalue(), "image/jpeg")
        actions.set_signature(job_id, [[(10.0, 10.0), (40.0, 30.0), (80.0, 15.0)]], b"\x89PNG\r\n\x1a\n")
        actions.complete(job_id, "Cambié el termopar; enciende bien.", actual_minutes=40)
        offline = await engine.sync_once()
        assert offline.errors == ["offline"] and not engine.status.online, offline
        assert store.job(job_id)["status"] == "completed"  # what the technician sees, kept on the phone
        assert outbox.pending() == 3 and uploads.pending() == 2  # three moves; the photo and the signature

        assert "API on" in dev_api(data_dir, "on")
        for _ in range(5):  # the photo and the signature go first, then the held completion
            if (await engine.sync_once()).errors == [] and outbox.pending() == 0 and uploads.pending() == 0:
                break
        assert outbox.pending() == 0 and uploads.pending() == 0 and engine.status.online
        return {"id": job_id}
    finally:
        await api.aclose()
        store.close()


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
        banner, values = check_running_instance(first, dev_data_dir)
        timings["first run ready"] = time.monotonic() - started
        assert "added organization" in values["Demo data"]
        assert values["PostgreSQL"].endswith("(embedded)")
        refresh_token = sign_in_as_demo_owner(first.base_url)
        sandbox_url, sandbox_port = afip_sandbox_url(banner)
        assert "demo organisation ready: point of sale 1" in banner_value(banner, "invoicing")
        assert "the AFIP sandbox" in banner_value(banner, "Stop")
        mp_url, mp_port = banner_url(banner, "Mercado Pago sandbox")
        web_url, web_port = banner_url(banner, "Técnico (web)")
        assert "phone-sized window" in banner_value(banner, "Técnico (web)")
        assert "the web client" in banner_value(banner, "Stop")
        assert "the Mercado Pago sandbox" in banner_value(banner, "Stop")
        check_web_client(web_url)
        started = time.monotonic()
        access, refresh_token = refresh(first.base_url, refresh_token)
        invoice = issue_invoice(first, access, logs)
        timings["first invoice issued, PDF scanned"] = time.monotonic() - started
        assert afip_receipts(sandbox_url) == {invoice["number"]: invoice["cae"]}
        assert has_payment_links(first.base_url)
        started = time.monotonic()
        connection = connect_mercadopago(first, access)
        assert connection["connected"] is True and connection["mpUserId"]
        first_payment = pay_invoice_through_mercadopago(first, access, mp_url, invoice)
        timings["Mercado Pago connected, link paid"] = time.monotonic() - started
        first_redis_port = redis_port_of(values)
        first_token = values["Admin token"]
        secrets_file = dev_data_dir / "dev-secrets.json"
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        timings["first stop"] = stop_and_check(first, dev_data_dir)
        assert port_is_free("127.0.0.1", sandbox_port), "the AFIP sandbox kept its port after the stop"
        assert port_is_free("127.0.0.1", mp_port), "the Mercado Pago sandbox kept its port after the stop"
        assert port_is_free("127.0.0.1", web_port), "the web client kept its port after the stop"
    finally:
        if first.process.poll() is None:
            os.killpg(first.process.pid, signal.SIGKILL)

    # Second run on the same folder: the data, the Redis port and the dev secrets are reused.
    started = time.monotonic()
    second = start_dev(dev_data_dir, logs / "second.log")
    try:
        banner, values = check_running_instance(second, dev_data_dir)
        timings["second run ready"] = time.monotonic() - started
        assert values["Demo data"].endswith("already there")
        # the same AFIP sandbox address; it remembers the first invoice, so the next one follows it
        assert afip_sandbox_url(banner) == (sandbox_url, sandbox_port)
        access, refresh_token = refresh(second.base_url, refresh_token)
        following = issue_invoice(second, access, logs)
        assert following["number"] == invoice["number"] + 1
        # the web client and the Mercado Pago sandbox come back on their ports
        assert banner_url(banner, "Técnico (web)") == (web_url, web_port)
        assert banner_url(banner, "Mercado Pago sandbox") == (mp_url, mp_port)
        check_web_client(web_url)
        assert "campotech dev api off" in banner_value(banner, "offline")
        # a new user tries the technician app offline: only the API stops (the web client keeps serving)
        started = time.monotonic()
        offline_job = asyncio.run(technician_day_offline(second.base_url, dev_data_dir, logs))
        timings["technician day offline, API off and on"] = time.monotonic() - started
        job_path = f"/jobs/{offline_job['id']}"
        arrived = get_as(second.base_url, job_path, access).json()
        assert arrived["status"] == "completed" and arrived["completionNotes"] == "Cambié el termopar; enciende bien."
        assert len(get_as(second.base_url, f"{job_path}/photos", access).json()) == 1
        signature = get_as(second.base_url, f"{job_path}/signature", access)
        assert signature.status_code == 200, signature.text
        # still connected: the sandbox remembers the account's tokens and the first payment
        status = get_as(second.base_url, "/payments/mercadopago", access).json()
        assert status["connected"] is True and status["mpUserId"] == connection["mpUserId"]
        remembered = httpx.get(f"{mp_url}/_sandbox/payments", timeout=10).json()["payments"]
        assert first_payment in [p["id"] for p in remembered]
        second_payment = pay_invoice_through_mercadopago(second, access, mp_url, following)
        assert second_payment != first_payment
        assert afip_receipts(sandbox_url) == {
            invoice["number"]: invoice["cae"],
            following["number"]: following["cae"],
        }
        # `campotech afip check` in another terminal finds this instance (database and sandbox) by itself
        check = campotech(dev_data_dir, "afip", "check", "--org", "30-71234567-1", timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        assert f"AFIP sandbox {sandbox_url}" in check.stdout
        assert f"point of sale 0001, Factura A (1): {following['number']}" in check.stdout
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


def test_dev_api_switch_says_when_no_dev_is_running(tmp_path: Path) -> None:
    """`campotech dev api off` with nothing running: a sentence saying so (exit 2), no traceback."""
    from server.dev import DevError, switch_dev_api

    with pytest.raises(DevError, match="no `campotech dev` is running"):
        switch_dev_api("off", {"CAMPOTECH_DATA_DIR": str(tmp_path)})
    done = campotech(tmp_path, "dev", "api", "on", timeout=60)
    assert done.returncode == 2 and "no `campotech dev` is running" in done.stderr and "Traceback" not in done.stderr
