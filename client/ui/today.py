"""Today's jobs: one card per job, ordered by schedule, with the address, a maps link and a big button."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import flet as ft

from client.i18n import t
from client.ui.common import big_button
from client.viewmodels.today import JobRow, TodayVM


class TodayView:
    def __init__(self, vm: TodayVM, on_open_job: Callable[[str], Awaitable[None] | None]) -> None:
        self.vm = vm
        self.on_open_job = on_open_job
        self.empty = ft.Text("", size=18, key="today-empty")
        self.list = ft.Column(spacing=12, key="today-list")
        self.control = ft.Column(
            [ft.Text(t("today.title"), size=24, weight=ft.FontWeight.BOLD), self.empty, self.list], spacing=12
        )
        self.render()

    def _card(self, row: JobRow) -> ft.Control:
        async def open_job(e=None, job_id=row.id):
            result = self.on_open_job(job_id)
            if result is not None:
                await result

        details = [
            ft.Text(f"{row.time_text} · {row.status_label}", size=16, color=ft.Colors.GREY_800),
            ft.Text(row.title, size=20, weight=ft.FontWeight.W_600),
            ft.Text(row.customer, size=16),
            ft.Text(row.address, size=16),
        ]
        if row.maps_url:
            details.append(
                ft.TextButton(content=t("today.maps"), icon=ft.Icons.MAP, url=row.maps_url, key=f"maps-{row.id}")
            )
        details.append(ft.Row([big_button(t("today.open"), open_job, key=f"open-{row.id}")]))
        return ft.Card(content=ft.Container(ft.Column(details, spacing=6), padding=14), key=f"job-{row.id}")

    def render(self) -> None:
        self.empty.value = self.vm.empty_text or ""
        self.empty.visible = bool(self.vm.empty_text)
        self.list.controls = [self._card(r) for r in self.vm.rows]
