"""The app shell: login, then the app of the person's role (technician app, dispatch board, dashboard).

The shell talks to the page through a few members only (``controls``, ``navigation_bar``, ``title``,
``update()``, ``run_task()``), so the in-process tests drive it with the real views over a tiny page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import flet as ft

from client.i18n import t
from client.ui.common import SyncBar
from client.ui.completion import CompletionView
from client.ui.conflicts import ConflictsView, OfficeConflictsPanel
from client.ui.job_detail import JobDetailView
from client.ui.login import LoginView
from client.ui.pricebook import PriceBookView
from client.ui.settings import SettingsView
from client.ui.today import TodayView
from client.viewmodels.app import AppMode, AppVM
from client.viewmodels.completion import CompletionVM
from client.viewmodels.conflicts import ConflictsVM
from client.viewmodels.job_detail import JobDetailVM
from client.viewmodels.login import LoginVM
from client.viewmodels.office_conflicts import OfficeConflictsVM
from client.viewmodels.pricebook import PriceBookVM
from client.viewmodels.sync_state import SyncStateVM
from client.viewmodels.today import TodayVM

log = logging.getLogger("campotech.client.ui")

TICK_SECONDS = 30.0  # "hace 3 min" keeps counting even when nothing syncs


@dataclass
class Services:
    """What a signed-in person's screens work on (the client core)."""

    store: Any
    actions: Any = None
    engine: Any = None  # SyncEngine: status, sync_once(), run(stop, interval), on_change(callback)
    close: Callable[[], Awaitable[None] | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


OpenServices = Callable[[Any], Awaitable[Services]]

TABS = ("today", "conflicts", "pricebook", "settings")
TAB_ICONS = (ft.Icons.TODAY, ft.Icons.REPORT_PROBLEM, ft.Icons.SELL, ft.Icons.SETTINGS)


class Shell:
    def __init__(self, page: Any, app: AppVM, open_services: OpenServices, *, sync_interval: float = 15.0) -> None:
        self.page = page
        self.app = app
        self.open_services = open_services
        self.sync_interval = sync_interval
        self.services: Services | None = None
        self.sync_vm: SyncStateVM | None = None
        self.sync_bar: SyncBar | None = None
        self.today: TodayView | None = None
        self.tab = 0
        self.body = ft.Column(expand=True, scroll=ft.ScrollMode.AUTO, key="body")
        self.screen: Any = None  # the view on the body now
        self._stop: asyncio.Event | None = None

    # --- start and session ----------------------------------------------------------------------

    async def start(self) -> None:
        self.page.title = t("app.title")
        self.app.restore()
        await self.show_mode()

    async def signed_in(self, session: Any) -> None:
        self.app.signed_in(session)
        await self.show_mode()

    async def logout(self) -> None:
        await self.close()
        await self.app.logout()
        await self.show_mode()

    async def close(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None
        if self.services is not None and self.services.close is not None:
            result = self.services.close()
            if result is not None:
                await result
        self.services = None

    async def _ensure_services(self) -> Services:
        if self.services is None:
            self.services = await self.open_services(self.app.session)
            engine = self.services.engine
            self.sync_vm = SyncStateVM(lambda: engine.status if engine is not None else None)
            self.sync_bar = SyncBar(self.sync_vm, self.sync_now if engine is not None else None)
            if engine is not None:
                engine.on_change(self._engine_changed)
                self._stop = asyncio.Event()
                self.page.run_task(engine.run, self._stop, self.sync_interval)
                self.page.run_task(self._tick, self._stop)
        return self.services

    # --- background -----------------------------------------------------------------------------

    def _engine_changed(self, *args: Any) -> None:
        try:
            self.page.run_task(self.live_refresh)
        except (AttributeError, RuntimeError):  # the page's connection is gone (tab closed): nothing to show
            log.debug("page gone; sync status not shown")

    async def _tick(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
            if not stop.is_set():
                await self.live_refresh()

    async def live_refresh(self) -> None:
        """After a sync: the banner, the indicator and today's list (if it is on screen)."""
        engine = self.services.engine if self.services is not None else None
        if engine is not None and getattr(engine.status, "auth_expired", False):
            await self.close()
            self.app.session = None
            await self.show_mode()
            if isinstance(self.screen, LoginView):
                self.screen.vm.error = t("login.session_expired")
                self.screen.render()
            return
        if self.sync_bar is not None:
            self.sync_bar.render()
        if self.today is not None and self.screen is self.today:
            await self.today.vm.refresh()
            self.today.render()
        with contextlib.suppress(RuntimeError):
            self.page.update()

    def local_change(self) -> None:
        """Something was written to the outbox: recount pending work and sync soon (never wait for it)."""
        engine = self.services.engine if self.services is not None else None
        if engine is None:
            return
        for name in ("refresh", "wake"):
            method = getattr(engine, name, None)
            if callable(method):
                method()
        if self.sync_bar is not None:
            self.sync_bar.render()

    async def sync_now(self, e: Any = None) -> None:
        if self.services is None or self.services.engine is None:
            return
        try:
            await self.services.engine.sync_once()
        except Exception:  # the indicator shows the engine's last_error; the app keeps working
            log.warning("manual sync failed", exc_info=True)
        await self.live_refresh()

    # --- screens --------------------------------------------------------------------------------

    def _set(self, screen: Any, *, top: list[ft.Control] | None = None) -> None:
        self.screen = screen
        self.body.controls = [screen.control] if screen is not None else []
        self.page.controls = [*(top or []), self.body]
        with contextlib.suppress(RuntimeError):
            self.page.update()

    async def show_mode(self) -> None:
        self.page.navigation_bar = None
        mode = self.app.mode
        if mode is AppMode.LOGIN:
            await self.close()
            self._set(LoginView(LoginVM(self.app.api, self.signed_in)))
        elif mode is AppMode.TECHNICIAN:
            await self._ensure_services()
            await self.show_technician()
        elif mode is AppMode.DISPATCH_BOARD:
            await self.show_board()
        elif mode is AppMode.OWNER_DASHBOARD:
            await self.show_dashboard()
        else:
            logout = ft.OutlinedButton(content=t("settings.logout"), on_click=self._logout_click, key="logout")
            self._set(_Static([ft.Text(self.app.unsupported_text, size=18), logout], self))

    def _top(self) -> list[ft.Control]:
        return [self.sync_bar.control] if self.sync_bar is not None else []

    async def show_technician(self) -> None:
        if self.app.advanced:
            self.page.navigation_bar = ft.NavigationBar(
                destinations=[
                    ft.NavigationBarDestination(icon=icon, label=t(f"tab.{name}"))
                    for name, icon in zip(TABS, TAB_ICONS, strict=True)
                ],
                selected_index=self.tab,
                on_change=self.change_tab,
                key="tabs",
            )
        else:
            self.page.navigation_bar = None
            self.tab = 0
        await self.show_tab(self.tab)

    async def change_tab(self, e: Any) -> None:
        await self.show_tab(int(e.control.selected_index))

    async def show_tab(self, index: int) -> None:
        self.tab = index
        services = await self._ensure_services()
        name = TABS[index]
        if name == "today":
            await self.show_today()
            return
        if name == "conflicts":
            vm = ConflictsVM(services.store)
            await vm.refresh()
            screen: Any = ConflictsView(vm)
        elif name == "pricebook":
            pvm = PriceBookVM(services.store)
            await pvm.search("")
            screen = PriceBookView(pvm)
        else:
            screen = SettingsView(self.app, on_logout=self.logout, on_mode=self.mode_changed)
        self._set(screen, top=self._top())

    def mode_changed(self) -> None:
        self.page.run_task(self.show_technician)

    async def show_today(self) -> None:
        services = await self._ensure_services()
        vm = TodayVM(services.store, self.sync_vm, technician_id=getattr(self.app.session, "user_id", None))
        await vm.refresh()
        self.today = TodayView(vm, self.open_job)
        extra: list[ft.Control] = []
        if not self.app.advanced:
            extra.append(ft.TextButton(content=t("mode.advanced"), on_click=self.switch_to_advanced, key="to-advanced"))
        self._set(_Stack([self.today.control, *extra], self.today), top=self._top())
        self.screen = self.today

    async def switch_to_advanced(self, e: Any = None) -> None:
        self.app.set_advanced(True)
        await self.show_technician()

    async def open_job(self, job_id: str) -> None:
        services = await self._ensure_services()
        vm = JobDetailVM(
            services.store,
            services.actions,
            job_id,
            role=self.app.role or "",
            user_id=getattr(self.app.session, "user_id", None),
        )
        await vm.load()
        view = JobDetailView(vm, on_back=self.show_today, on_complete=self.open_completion, on_saved=self.local_change)
        self._set(view, top=self._top())

    async def open_completion(self, job_id: str) -> None:
        services = await self._ensure_services()
        width = getattr(self.page, "width", None)
        pad_width = int(min(max((width or 360) - 32, 240), 600))  # the pad fits a phone's screen
        vm = CompletionVM(services.store, services.actions, job_id, pad_size=(pad_width, 200))

        async def done() -> None:
            self.local_change()
            await self.open_job(job_id)

        async def back() -> None:
            await self.open_job(job_id)

        self._set(CompletionView(vm, on_done=done, on_back=back), top=self._top())

    async def show_board(self) -> None:
        """Dispatcher (web): the sync conflicts the office must see (from the server), then today's jobs of the
        organisation (from the device's store)."""
        conflicts = OfficeConflictsVM(self.app.api)
        await conflicts.refresh()
        panel = OfficeConflictsPanel(conflicts)
        rows: list[ft.Control] = []
        try:
            services = await self._ensure_services()
            vm = TodayVM(services.store, self.sync_vm or SyncStateVM(lambda: None))
            await vm.refresh()
            rows = [
                ft.Text(t("board.row", time=r.time_text, title=r.title, status=r.status_label), key=f"board-{r.id}")
                for r in vm.rows
            ]
        except Exception:
            log.warning("board: could not open the local store", exc_info=True)
        controls = [
            ft.Text(t("board.title"), size=24, weight=ft.FontWeight.BOLD),
            panel.control,
            ft.Text(t("board.placeholder")),
            *rows,
            ft.OutlinedButton(content=t("settings.logout"), on_click=self._logout_click, key="logout"),
        ]
        self._set(_Static(controls, self), top=self._top())

    async def show_dashboard(self) -> None:
        """Owner/admin (desktop): a placeholder dashboard."""
        controls = [
            ft.Text(t("dashboard.title"), size=24, weight=ft.FontWeight.BOLD),
            ft.Text(self.app.user_label),
            ft.Text(t("dashboard.placeholder")),
            ft.OutlinedButton(content=t("settings.logout"), on_click=self._logout_click, key="logout"),
        ]
        self._set(_Static(controls, self))

    async def _logout_click(self, e: Any = None) -> None:
        await self.logout()


class _Static:
    def __init__(self, controls: list[ft.Control], shell: Shell) -> None:
        self.control = ft.Column(controls, spacing=12)


class _Stack:
    def __init__(self, controls: list[ft.Control], inner: Any) -> None:
        self.control = ft.Column(controls, spacing=8)
        self.inner = inner
