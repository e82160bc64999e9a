"""The Flet app: ``main(page)``, the web server (``run_web``) and an ASGI app for ``campotech dev``.

One app for every role: the shell opens the technician app (Android), the dispatch board (web) or the
owner's dashboard (desktop) after login. The API's address comes from ``CAMPOTECH_API_URL``
(default ``http://127.0.0.1:8000``) unless given.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import flet as ft

from client.api import ApiClient
from client.i18n import t
from client.paths import app_data_dir
from client.tokens import FileTokenStore, MemoryTokenStore
from client.ui.shell import Services, Shell
from client.viewmodels.app import AppVM

log = logging.getLogger("campotech.client")

DEFAULT_API = "http://127.0.0.1:8000"
API_ENV = "CAMPOTECH_API_URL"


def api_base_from_env() -> str:
    return os.environ.get(API_ENV) or DEFAULT_API


def _user_dir(data_dir: Path, session: Any) -> Path:
    safe = "".join(ch for ch in str(session.user_id) if ch.isalnum() or ch == "-") or "anon"
    folder = data_dir / "users" / safe
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def open_core(api: ApiClient, session: Any, data_dir: Path) -> Services:
    """The client core for a signed-in person: local store, outbox, attachments, actions, sync engine."""
    from client.actions import TechnicianActions
    from client.attachments import UploadQueue
    from client.outbox import Outbox
    from client.store import LocalStore
    from client.sync.engine import SyncEngine

    store = LocalStore.open(_user_dir(data_dir, session) / "store.sqlite3")
    store.set_session(user_id=session.user_id, org_id=session.org_id, role=session.role, full_name=session.full_name)
    outbox = Outbox(store)
    uploads = UploadQueue(store, api)
    actions = TechnicianActions(store, outbox, uploads)
    engine = SyncEngine(api, store, outbox, uploads, device_id=store.device_id())

    def close() -> None:
        store.close()

    return Services(store=store, actions=actions, engine=engine, close=close)


def _prefs(path: Path) -> tuple[Callable[[], bool], Callable[[bool], None]]:
    def load() -> bool:
        try:
            return bool(json.loads(path.read_text()).get("advanced", False))
        except (OSError, ValueError, AttributeError):
            return False

    def save(on: bool) -> None:
        try:
            path.write_text(json.dumps({"advanced": on}))
        except OSError:
            log.warning("could not save the UI preferences")

    return load, save


def make_main(
    api_base: str | None = None,
    *,
    data_dir: Path | None = None,
    open_services: Callable[[ApiClient, Any, Path], Awaitable[Services]] = open_core,
) -> Callable[[ft.Page], Awaitable[None]]:
    """A ``main(page)`` bound to an API address (each page: its own API client and shell)."""

    async def main(page: ft.Page) -> None:
        folder = data_dir or app_data_dir()
        page.title = t("app.title")
        page.theme_mode = ft.ThemeMode.LIGHT
        page.padding = 12
        # web: one server serves many browsers, so no token file shared between them (sign in per tab)
        tokens = MemoryTokenStore() if page.web else FileTokenStore(folder / "tokens.json")
        api = ApiClient(api_base or api_base_from_env(), tokens)
        load, save = (lambda: False, lambda on: None) if page.web else _prefs(folder / "ui.json")
        app = AppVM(api, load_advanced=load, save_advanced=save)

        async def services(session: Any) -> Services:
            return await open_services(api, session, folder)

        shell = Shell(page, app, services)

        async def closed(e: Any = None) -> None:
            await shell.close()
            await api.aclose()

        page.on_close = closed
        await shell.start()

    return main


async def main(page: ft.Page) -> None:
    """The entry point of ``flet run`` / ``flet build`` (API address from CAMPOTECH_API_URL)."""
    await make_main()(page)


def run_web(host: str = "127.0.0.1", port: int = 8550, api_base: str | None = None) -> None:
    """Serve the web client (no CDN: it starts without internet) and block."""
    ft.run(make_main(api_base), view=ft.AppView.WEB_BROWSER, host=host, port=port, no_cdn=True)


def asgi_app(api_base: str | None = None, *, data_dir: Path | None = None) -> Any:
    """The web client as an ASGI app (FastAPI) to mount or serve next to the API."""
    return ft.run(make_main(api_base, data_dir=data_dir), export_asgi_app=True, no_cdn=True)
