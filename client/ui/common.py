"""Building blocks of the views: big buttons, the offline banner and the sync indicator."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import flet as ft

from client.i18n import t
from client.viewmodels.sync_state import SyncStateVM

BIG = 64  # a thumb on a cheap phone, maybe with gloves


def big_button(label: str, on_click: Callable[..., Any] | None, *, key: str | None = None, primary: bool = True):
    text = ft.Text(label, size=20, weight=ft.FontWeight.W_600)
    cls = ft.FilledButton if primary else ft.OutlinedButton
    return cls(content=text, on_click=on_click, height=BIG, expand=True, key=key)


def error_text(message: str | None, *, key: str = "error") -> ft.Text:
    return ft.Text(message or "", color=ft.Colors.RED_700, visible=bool(message), key=key, size=16)


def info_text(message: str | None, *, key: str = "message") -> ft.Text:
    return ft.Text(message or "", color=ft.Colors.GREEN_800, visible=bool(message), key=key, size=16)


def push(control: ft.Control) -> None:
    """Send ``control`` to the screen when it is on a page (background changes); a no-op otherwise."""
    with contextlib.suppress(RuntimeError):
        control.update()


class SyncBar:
    """The offline banner above and the sync indicator (pending count, last sync) below it."""

    def __init__(self, vm: SyncStateVM, on_sync_now: Callable[..., Any] | None = None) -> None:
        self.vm = vm
        self.banner_text = ft.Text("", color=ft.Colors.BLACK, size=15)
        self.banner = ft.Container(
            content=ft.Row([ft.Icon(ft.Icons.CLOUD_OFF, color=ft.Colors.BLACK), self.banner_text], wrap=True),
            bgcolor=ft.Colors.AMBER_200,
            padding=10,
            key="offline-banner",
        )
        self.pending = ft.Text("", key="sync-pending", size=14)
        self.last = ft.Text("", key="sync-last", size=14, color=ft.Colors.GREY_700)
        self.problem = ft.Text("", key="sync-error", size=14, color=ft.Colors.RED_700)
        self.sync_now = ft.IconButton(
            icon=ft.Icons.SYNC,
            tooltip=t("sync.now"),
            on_click=on_sync_now,
            key="sync-now",
            visible=on_sync_now is not None,
        )
        self.indicator = ft.Row(
            [ft.Column([self.pending, self.last, self.problem], spacing=0, expand=True), self.sync_now],
            key="sync-indicator",
        )
        self.control = ft.Column([self.banner, self.indicator], spacing=4)
        self.render()

    def render(self) -> None:
        self.banner.visible = self.vm.offline
        self.banner_text.value = self.vm.banner_text or ""
        self.pending.value = self.vm.pending_text
        self.last.value = self.vm.last_sync_text
        problem = self.vm.error_text
        self.problem.value = problem or ""
        self.problem.visible = bool(problem)
