"""One job: facts, maps link, notes and the big buttons for the allowed moves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import flet as ft

from client.i18n import t
from client.ui.common import big_button, error_text, info_text
from client.viewmodels.job_detail import JobDetailVM
from shared.states.job import JobEvent


class JobDetailView:
    def __init__(
        self,
        vm: JobDetailVM,
        *,
        on_back: Callable[[], Awaitable[None] | None],
        on_complete: Callable[[str], Awaitable[None] | None],
        on_saved: Callable[[], None] | None = None,
    ) -> None:
        self.vm = vm
        self.on_saved = on_saved
        self.on_back = on_back
        self.on_complete = on_complete
        self.title = ft.Text("", size=24, weight=ft.FontWeight.BOLD, key="job-title")
        self.facts = ft.Column(spacing=4, key="job-facts")
        self.maps = ft.TextButton(content=t("today.maps"), icon=ft.Icons.MAP, key="job-maps")
        self.buttons = ft.Column(spacing=12, key="job-buttons")
        self.no_moves = ft.Text(t("job.no_moves"), key="job-no-moves")
        self.notes = ft.Column(spacing=4, key="job-notes")
        self.note = ft.TextField(label=t("job.note_label"), multiline=True, min_lines=1, max_lines=4, key="note")
        self.add_note_button = ft.OutlinedButton(content=t("job.add_note"), on_click=self.add_note, key="add-note")
        self.error = error_text(None)
        self.message = info_text(None)
        self.control = ft.Column(
            [
                ft.TextButton(content=t("job.back"), icon=ft.Icons.ARROW_BACK, on_click=self.back, key="back"),
                self.title,
                self.facts,
                self.maps,
                self.error,
                self.message,
                self.buttons,
                self.no_moves,
                ft.Text(t("job.notes"), size=18, weight=ft.FontWeight.W_600),
                self.notes,
                self.note,
                self.add_note_button,
            ],
            spacing=12,
            key="job-detail",
        )
        self.render()

    def _press_handler(self, event: JobEvent):
        async def press(e=None) -> None:
            await self.press(event)

        return press

    def render(self) -> None:
        vm = self.vm
        self.title.value = vm.title
        self.facts.controls = [ft.Text(line, size=16) for line in vm.facts]
        self.maps.url = vm.maps_url
        self.maps.visible = vm.maps_url is not None
        self.buttons.controls = [
            ft.Row([big_button(label, self._press_handler(event), key=f"event-{event.value}")])
            for event, label in vm.buttons
        ]
        self.no_moves.visible = vm.job is not None and not vm.buttons
        self.notes.controls = [ft.Text(n, size=15) for n in vm.notes]
        self.error.value = vm.error or ""
        self.error.visible = bool(vm.error)
        self.message.value = vm.message or ""
        self.message.visible = bool(vm.message)

    async def press(self, event: JobEvent) -> None:
        if self.vm.needs_completion(event):
            result = self.on_complete(self.vm.job_id)
        else:
            if await self.vm.press(event) and self.on_saved is not None:
                self.on_saved()
            self.render()
            return
        if result is not None:
            await result

    async def add_note(self, e=None) -> None:
        if await self.vm.add_note(self.note.value or ""):
            self.note.value = ""
            if self.on_saved is not None:
                self.on_saved()
        self.render()

    async def back(self, e=None) -> None:
        result = self.on_back()
        if result is not None:
            await result
