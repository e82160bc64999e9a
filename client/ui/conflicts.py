"""Conflict notices with an "Entendido" button each."""

from __future__ import annotations

import flet as ft

from client.i18n import t
from client.viewmodels.conflicts import ConflictRow, ConflictsVM


class ConflictsView:
    def __init__(self, vm: ConflictsVM) -> None:
        self.vm = vm
        self.empty = ft.Text("", key="conflicts-empty")
        self.list = ft.Column(spacing=8, key="conflicts-list")
        self.control = ft.Column(
            [ft.Text(t("conflicts.title"), size=24, weight=ft.FontWeight.BOLD), self.empty, self.list], spacing=12
        )
        self.render()

    def _ack(self, row: ConflictRow):
        async def ack(e=None) -> None:
            await self.vm.acknowledge(row.id)
            self.render()

        return ack

    def render(self) -> None:
        self.empty.value = self.vm.empty_text or ""
        self.empty.visible = bool(self.vm.empty_text)
        self.list.controls = [
            ft.Card(
                content=ft.Container(
                    ft.Column(
                        [
                            ft.Text(row.title, weight=ft.FontWeight.W_600),
                            ft.Text(row.message),
                            ft.FilledButton(
                                content=t("conflicts.acknowledge"), on_click=self._ack(row), key=f"ack-{row.id}"
                            ),
                        ]
                    ),
                    padding=12,
                ),
                key=f"conflict-{row.id}",
            )
            for row in self.vm.rows
        ]
