"""Real-browser trial of issue #7: Debian Chromium (Playwright, no downloaded browser) on a phone-sized window.

The real API (uvicorn, real PostgreSQL and Redis) and the Flet web client (no CDN) each run on a free
port in a thread. A technician signs in with the code the OTP sandbox received and sees today's job; then
the API stops (the phone loses the server). Offline, the offline banner shows and the technician moves the
job en camino → working → completed with a photo, a signature, a note and minutes; the job shows completed
with changes waiting. The API starts again on the same port and, without anyone tapping anything, the
server's job is completed with the note, the minutes, one photo and the signature.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import io
import os
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from server.asgi import create_app
from server.embedded import free_port
from server.runtime import Resources
from server.settings import Settings
from tests.server.auth.conftest import random_cuit, random_phone, sandbox_code

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian chromium (apt-get install chromium)")

API = "/api/v1"
ART = datetime.timezone(datetime.timedelta(hours=-3))


class ThreadServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread (like the AFIP sandbox)."""

    def __init__(self, app: Any, name: str, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            ws="websockets-sansio" if _has_sansio() else "auto",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.thread.name} did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive(), f"{self.thread.name} did not stop"


def _has_sansio() -> bool:
    try:
        import websockets.asyncio  # noqa: F401
    except ImportError:
        return False
    return False  # uvicorn's default websockets implementation is fine


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


async def arrange(api: httpx.AsyncClient, resources: Resources) -> dict[str, Any]:
    """An organisation, a technician and one job of theirs scheduled for today, made through the API."""
    owner_phone = random_phone()
    await _ok(
        await api.post(
            f"{API}/auth/signup",
            json={"cuit": random_cuit(), "businessName": "Gas Sur SRL", "phone": owner_phone, "fullName": "Ana"},
        ),
        202,
    )
    code = await sandbox_code(resources, owner_phone)
    tokens = await _ok(await api.post(f"{API}/auth/otp/verify", json={"phone": owner_phone, "code": code}))
    owner = {"Authorization": f"Bearer {tokens['accessToken']}"}
    tech_phone = random_phone()
    tech = await _ok(
        await api.post(
            f"{API}/users",
            headers=owner,
            json={"phone": tech_phone, "fullName": "Diego Fernández", "role": "technician"},
        ),
        201,
    )
    customer = await _ok(
        await api.post(
            f"{API}/customers",
            headers=owner,
            json={
                "name": "Laura Méndez",
                "addresses": [{"street": "Av. Rivadavia 5000", "city": "CABA", "isDefault": True}],
            },
        ),
        201,
    )
    today = datetime.datetime.now(ART).date()
    start = datetime.datetime(today.year, today.month, today.day, 10, 0, tzinfo=ART)
    title = f"Calefón que no enciende {secrets.token_hex(2)}"
    job = await _ok(
        await api.post(
            f"{API}/jobs",
            headers=owner,
            json={
                "customerId": customer["id"],
                "addressId": customer["addresses"][0]["id"],
                "title": title,
                "scheduledStart": start.isoformat(),
                "scheduledEnd": (start + datetime.timedelta(hours=1)).isoformat(),
                "technicianIds": [tech["id"]],
            },
        ),
        201,
    )
    job = await _ok(await api.post(f"{API}/jobs/{job['id']}/transitions", headers=owner, json={"event": "schedule"}))
    assert job["status"] == "scheduled"
    return {"owner": owner, "tech_phone": tech_phone, "job_id": job["id"], "title": title}


class Servers:
    """The API and the web client, each in its thread; the API can go away and come back on its port."""

    def __init__(self, settings: Settings) -> None:
        from client.app import asgi_app

        self.settings = settings
        self.api = ThreadServer(create_app(settings), "api").start()
        data = Path(tempfile.mkdtemp(prefix="campotech-client-"))
        self.web = ThreadServer(asgi_app(self.api.url, data_dir=data), "flet-web").start()

    def stop_api(self) -> None:
        self.api.stop()
        with pytest.raises(httpx.ConnectError):  # the port is closed: the phone cannot reach the server
            httpx.get(f"{self.api.url}/health/live", timeout=5)

    def restart_api(self) -> None:
        """A new server (a new app, as after a deploy or a reboot) on the same address."""
        self.api = ThreadServer(create_app(self.settings), "api-again", port=self.api.port).start()

    def stop(self) -> None:
        try:
            self.web.stop()
        finally:
            if self.api.thread.is_alive():
                self.api.stop()


@pytest.fixture(name="servers")
def fixture_servers(settings: Settings):
    servers = Servers(settings)
    try:
        yield servers
    finally:
        servers.stop()


OFFLINE_BANNER = "Sin conexión: lo que hagas se guarda en el teléfono y se envía solo al volver la señal."
NOTES = "Cambié el termopar; funciona."


async def test_technician_completes_a_job_offline_in_the_browser(servers: Servers, resources: Resources, tmp_path):
    from playwright.async_api import async_playwright

    photo = tmp_path / "calefon.jpg"
    make_photo(photo)
    async with httpx.AsyncClient(base_url=servers.api.url, timeout=20) as api:
        data = await arrange(api, resources)

    forbidden: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=False)
        page = await context.new_page()

        async def route(request_route):
            await request_route.abort()

        await page.route("**/cdn.jsdelivr.net/**", route)

        def watch(request):
            url = request.url
            if "gstatic.com" in url or "fonts.googleapis.com" in url or "fonts.gstatic" in url:
                forbidden.append(url)

        page.on("request", watch)
        try:
            await page.goto(servers.web.url, wait_until="domcontentloaded")
            await page.wait_for_selector("flutter-view", timeout=30_000)
            await page.locator("flt-semantics-placeholder").dispatch_event("click")

            phone = page.get_by_role("textbox", name="Número de celular")
            await phone.wait_for(timeout=30_000)
            await type_into(page, phone, data["tech_phone"].removeprefix("+549"))
            await page.get_by_role("button", name="Enviar código").click()
            code_box = page.get_by_role("textbox", name="Código de 6 dígitos")
            await code_box.wait_for(timeout=15_000)
            code = await sandbox_code(resources, data["tech_phone"])
            await type_into(page, code_box, code)
            await page.get_by_role("button", name="Ingresar").click()

            # today's list, filled by the first sync
            await shown(page, data["title"]).wait_for(timeout=30_000)
            await snap(page, "1-today")

            # the server goes away; the engine's next round (every 15 s) finds it unreachable
            servers.stop_api()
            await shown(page, OFFLINE_BANNER).wait_for(timeout=45_000)
            await snap(page, "2-offline")

            await page.get_by_role("button", name="Ver trabajo").first.click()
            await page.get_by_role("button", name="Salgo para allá").click()
            await page.get_by_role("button", name="Llegué, empiezo").click()
            await page.get_by_role("button", name="Terminar trabajo").click()

            notes = page.get_by_role("textbox", name="Notas de cierre")
            await notes.wait_for(timeout=10_000)
            await shown(page, "0 fotos").wait_for(timeout=10_000)
            await type_into(page, notes, NOTES)
            await type_into(page, page.get_by_role("textbox", name="Minutos trabajados"), "45")
            # the browser's own file chooser (Flutter's file_picker clicks an <input type=file>)
            async with page.expect_file_chooser(timeout=15_000) as chooser:
                await page.get_by_role("button", name="Agregar foto").click()
            await (await chooser.value).set_files(str(photo))
            await shown(page, "1 foto").wait_for(timeout=15_000)
            await shown(page, photo.name).wait_for(timeout=5_000)
            await sign(page)
            await snap(page, "3-completion")
            await page.get_by_role("button", name="Guardar y terminar").click()
            await shown(page, "Estado: Completado").wait_for(timeout=15_000)
            # still offline: the banner stays and the indicator counts what waits on the phone
            await shown(page, OFFLINE_BANNER).wait_for(timeout=5_000)
            await shown(page, re.compile(r"^(1 cambio|\d+ cambios) sin enviar$")).wait_for(timeout=10_000)
            await snap(page, "4-completed-offline")
            async with httpx.AsyncClient(timeout=5) as probe:
                with pytest.raises(httpx.ConnectError):
                    await probe.get(f"{servers.api.url}/health/live")

            # the server is back: the engine finds it by itself (offline it pings at least every interval) and
            # sends everything; nobody taps anything
            servers.restart_api()
            async with httpx.AsyncClient(base_url=servers.api.url, timeout=20) as api:
                job = await wait_for_status(api, data, "completed", within=60.0)
                photos = await _ok(await api.get(f"{API}/jobs/{data['job_id']}/photos", headers=data["owner"]))
                signature = await _ok(await api.get(f"{API}/jobs/{data['job_id']}/signature", headers=data["owner"]))
                sent = await api.get(photos[0]["url"], headers=data["owner"]) if len(photos) == 1 else None
            await shown(page, "Todo enviado").wait_for(timeout=20_000)
            assert await page.get_by_text(OFFLINE_BANNER).count() == 0
            await snap(page, "5-synced")
        except Exception:
            await page.screenshot(path=str(Path(tempfile.gettempdir()) / "campotech-browser-failure.png"))
            raise
        finally:
            await browser.close()

    assert job["status"] == "completed"
    assert job.get("completionNotes") == NOTES
    assert job.get("actualMinutes") == 45
    assert len(photos) == 1, photos
    assert photos[0]["contentType"] == "image/jpeg"
    # the phone sends its compressed JPEG (client.actions.compress_photo), not the original bytes
    assert sent is not None and sent.status_code == 200, sent
    assert hashlib.sha256(sent.content).hexdigest() == photos[0]["contentHash"]
    with Image.open(io.BytesIO(sent.content)) as image:
        assert (image.format, image.size) == ("JPEG", (320, 240))
    assert signature["strokes"] and len(signature["strokes"][0]) >= 2
    assert forbidden == []


def make_photo(path: Path) -> None:
    """A small real JPEG, as a phone's camera would give (smaller)."""
    from PIL import ImageDraw

    image = Image.new("RGB", (320, 240), (200, 120, 40))
    ImageDraw.Draw(image).rectangle((60, 40, 260, 200), outline=(20, 20, 20), width=6)
    image.save(path, "JPEG", quality=80)


async def snap(page: Any, name: str) -> None:
    """Screenshots for a person to look at, when CAMPOTECH_SCREENSHOTS names a folder."""
    folder = os.environ.get("CAMPOTECH_SCREENSHOTS")
    if folder:
        await asyncio.sleep(0.5)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def shown(page: Any, text: str | re.Pattern[str]) -> Any:
    """Text on screen: Flutter puts it in the accessibility tree as text or as a label (cards merge theirs)."""
    return page.get_by_text(text).or_(page.get_by_label(text)).first


async def type_into(page: Any, box: Any, text: str) -> None:
    """Focus a Flutter text field and type, as a person would (``fill`` can race Flutter's own editing).

    Scrolled into view first and given a moment: Flutter scrolls its own canvas, so a click computed before
    it has repainted lands on whatever was there (another field, with the caret mid-text).
    """
    await box.scroll_into_view_if_needed()
    await asyncio.sleep(0.5)
    await box.click()
    await asyncio.sleep(0.2)
    await page.keyboard.type(text, delay=20)
    await asyncio.sleep(0.2)


async def sign(page: Any) -> None:
    """Draw a signature on the pad (just below its heading) with the mouse."""
    heading = page.get_by_text("Firma del cliente", exact=True)
    box = await heading.bounding_box()
    assert box is not None
    x0, y0 = box["x"] + 30, box["y"] + box["height"] + 40
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    for i in range(1, 12):
        await page.mouse.move(x0 + i * 15, y0 + (20 if i % 2 else 0), steps=3)
        await asyncio.sleep(0.02)
    await page.mouse.up()
    await asyncio.sleep(0.3)


async def wait_for_status(api: httpx.AsyncClient, data: dict[str, Any], status: str, within: float = 40.0):
    deadline = time.monotonic() + within
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = await _ok(await api.get(f"{API}/jobs/{data['job_id']}", headers=data["owner"]))
        if job["status"] == status:
            return job
        await asyncio.sleep(0.5)
    raise AssertionError(f"job still {job.get('status')!r} on the server after {within}s")
