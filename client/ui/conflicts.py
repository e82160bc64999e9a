"""Conflict notices: the technician's (an "Entendido" button each) and the office's on the dispatch board."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import flet as ft

from client.i18n import t
from client.viewmodels.conflicts import ConflictsVM
from client.viewmodels.office_conflicts import OfficeConflictsVM


def conflict_card(title: str, lines: list[ft.Control], button: ft.Control, key: str) -> ft.Card:
    """One conflict: the job in bold, what to read, the button that marks it seen."""
    return ft.Card(
        content=ft.Container(
            ft.Column([ft.Text(title, weight=ft.FontWeight.W_600), *lines, button]),
            padding=12,
        ),
        key=key,
    )


def acknowledger(
    acknowledge: Callable[[Any], Awaitable[None]], conflict_id: Any, render: Callable[[], None]
) -> Callable[..., Awaitable[None]]:
    """The button's handler: acknowledge the conflict, then show the list again."""

    async def ack(e: Any = None) -> None:
        await acknowledge(conflict_id)
        render()

    return ack


class ConflictsView:
    def __init__(self, vm: ConflictsVM) -> None:
        self.vm = vm
        self.empty = ft.Text("", key="conflicts-empty")
        self.list = ft.Column(spacing=8, key="conflicts-list")
        self.control = ft.Column(
            [ft.Text(t("conflicts.title"), size=24, weight=ft.FontWeight.BOLD), self.empty, self.list], spacing=12
        )
        self.render()

    def render(self) -> None:
        self.empty.value = self.vm.empty_text or ""
        self.empty.visible = bool(self.vm.empty_text)
        self.list.controls = [
            conflict_card(
                row.title,
                [ft.Text(row.message)],
                ft.FilledButton(
                    content=t("conflicts.acknowledge"),
                    on_click=acknowledger(self.vm.acknowledge, row.id, self.render),
                    key=f"ack-{row.id}",
                ),
                f"conflict-{row.id}",
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

    def render(self) -> None:
        text = self.vm.error or self.vm.empty_text or ""
        self.status.value = text
        self.status.visible = bool(text)
        self.list.controls = [
            conflict_card(
                row.title,
                [ft.Text(row.message), ft.Text(row.device, italic=True)],
                ft.OutlinedButton(
                    content=t("office_conflicts.acknowledge"),
                    on_click=acknowledger(self.vm.acknowledge, row.id, self.render),
                    key=f"office-ack-{row.id}",
                ),
                f"office-conflict-{row.id}",
            )
            for row in self.vm.rows
        ]
