"""Conflict notices: the technician's (an "Entendido" button each) and the office's on the dispatch board."""

from __future__ import annotations

import flet as ft

from client.i18n import t
from client.viewmodels.conflicts import ConflictRow, ConflictsVM
from client.viewmodels.office_conflicts import OfficeConflictRow, OfficeConflictsVM


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


class OfficeConflictsPanel:
    """The dispatch board's conflicts: the job, why the server refused, what the technician did; "Visto" each."""

    def __init__(self, vm: OfficeConflictsVM) -> None:
        self.vm = vm
        self.status = ft.Text("", key="office-conflicts-status")
        self.list = ft.Column(spacing=8, key="office-conflicts-list")
        self.control = ft.Column(
            [ft.Text(t("office_conflicts.title"), size=20, weight=ft.FontWeight.W_600), self.status, self.list],
            spacing=8,
        )
        self.render()

    def _ack(self, row: OfficeConflictRow):
        async def ack(e=None) -> None:
            await self.vm.acknowledge(row.id)
            self.render()

        return ack

    def render(self) -> None:
        text = self.vm.error or self.vm.empty_text or ""
        self.status.value = text
        self.status.visible = bool(text)
        self.list.controls = [
            ft.Card(
                content=ft.Container(
                    ft.Column(
                        [
                            ft.Text(row.title, weight=ft.FontWeight.W_600),
                            ft.Text(row.message),
                            ft.Text(row.device, italic=True),
                            ft.OutlinedButton(
                                content=t("office_conflicts.acknowledge"),
                                on_click=self._ack(row),
                                key=f"office-ack-{row.id}",
                            ),
                        ]
                    ),
                    padding=12,
                ),
                key=f"office-conflict-{row.id}",
            )
            for row in self.vm.rows
        ]
