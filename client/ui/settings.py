"""Settings: who is signed in, simple/advanced mode, logout."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import flet as ft

from client.i18n import t
from client.viewmodels.app import AppVM


class SettingsView:
    def __init__(self, vm: AppVM, *, on_logout: Callable[[], Awaitable[None]], on_mode: Callable[[], None]) -> None:
        self.vm = vm
        self.on_logout = on_logout
        self.on_mode = on_mode
        self.user = ft.Text(vm.user_label, size=16, key="settings-user")
        self.advanced = ft.Switch(
            label=t("settings.advanced"), value=vm.advanced, on_change=self.toggle, key="advanced"
        )
        self.logout_button = ft.OutlinedButton(
            content=t("settings.logout"), icon=ft.Icons.LOGOUT, on_click=self.logout, key="logout"
        )
        self.control = ft.Column(
            [
                ft.Text(t("settings.title"), size=24, weight=ft.FontWeight.BOLD),
                self.user,
                self.advanced,
                self.logout_button,
            ],
            spacing=16,
        )

    def toggle(self, e=None) -> None:
        self.vm.set_advanced(bool(self.advanced.value))
        self.on_mode()

    async def logout(self, e=None) -> None:
        await self.on_logout()
