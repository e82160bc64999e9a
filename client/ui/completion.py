"""Completion flow: photos (file picker with data), signature pad (gesture detector + canvas lines),
notes, materials from the price book and minutes worked."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import flet as ft
import flet.canvas as cv

from client.i18n import t, tn
from client.ui.common import big_button, error_text
from client.viewmodels.completion import CompletionVM, pricebook_label

INK = ft.Paint(stroke_width=3, color=ft.Colors.BLACK, style=ft.PaintingStyle.STROKE, stroke_cap=ft.StrokeCap.ROUND)


class SignaturePad:
    def __init__(self, vm: CompletionVM) -> None:
        self.vm = vm
        width, height = vm.pad_size
        self.canvas = cv.Canvas(shapes=[], width=width, height=height, key="signature-canvas")
        self.detector = ft.GestureDetector(
            content=ft.Container(self.canvas, width=width, height=height, bgcolor=ft.Colors.WHITE),
            on_pan_start=self.pan_start,
            on_pan_update=self.pan_update,
            drag_interval=10,
            key="signature-pad",
        )
        self.control = ft.Container(
            self.detector, border=ft.Border.all(1, ft.Colors.GREY_500), width=width, height=height
        )
        self.redraw()

    def redraw(self) -> None:
        shapes: list[cv.Shape] = []
        for stroke in self.vm.signature.strokes:
            for a, b in itertools.pairwise(stroke):
                shapes.append(cv.Line(a["x"], a["y"], b["x"], b["y"], paint=INK))
        self.canvas.shapes = shapes

    def pan_start(self, e: Any) -> None:
        self.vm.begin_stroke(e.local_position.x, e.local_position.y)

    def pan_update(self, e: Any) -> None:
        segment = self.vm.extend_stroke(e.local_position.x, e.local_position.y)
        if segment is not None:
            a, b = segment
            self.canvas.shapes.append(cv.Line(a["x"], a["y"], b["x"], b["y"], paint=INK))


class CompletionView:
    def __init__(
        self,
        vm: CompletionVM,
        *,
        on_done: Callable[[], Awaitable[None] | None],
        on_back: Callable[[], Awaitable[None] | None],
        file_picker: Callable[[], Any] | None = None,
    ) -> None:
        self.vm = vm
        self.on_done = on_done
        self.on_back = on_back
        self._file_picker = file_picker or ft.FilePicker
        self.photos = ft.Column(spacing=4, key="photos")
        self.photo_count = ft.Text("", key="photo-count")
        self.pad = SignaturePad(vm)
        self.notes = ft.TextField(
            label=t("completion.notes"),
            multiline=True,
            min_lines=2,
            max_lines=6,
            on_change=self.notes_changed,
            key="notes",
        )
        self.search = ft.TextField(label=t("completion.search_material"), on_submit=self.search_materials, key="search")
        self.results = ft.Column(spacing=2, key="search-results")
        self.materials = ft.Column(spacing=4, key="materials")
        self.minutes = ft.TextField(
            label=t("completion.minutes"),
            keyboard_type=ft.KeyboardType.NUMBER,
            on_change=self.minutes_changed,
            key="minutes",
        )
        self.error = error_text(None)
        self.submit_button = big_button(t("completion.submit"), self.submit, key="submit")
        self.control = ft.Column(
            [
                ft.TextButton(content=t("job.back"), icon=ft.Icons.ARROW_BACK, on_click=self.back, key="back"),
                ft.Text(t("completion.title"), size=24, weight=ft.FontWeight.BOLD),
                ft.Text(t("completion.photos"), size=18, weight=ft.FontWeight.W_600),
                self.photo_count,
                self.photos,
                ft.OutlinedButton(
                    content=t("completion.add_photo"),
                    icon=ft.Icons.ADD_A_PHOTO,
                    on_click=self.pick_photos,
                    key="add-photo",
                ),
                ft.Text(t("completion.signature"), size=18, weight=ft.FontWeight.W_600),
                self.pad.control,
                ft.TextButton(
                    content=t("completion.clear_signature"), on_click=self.clear_signature, key="clear-signature"
                ),
                self.notes,
                ft.Text(t("completion.materials"), size=18, weight=ft.FontWeight.W_600),
                self.search,
                self.results,
                self.materials,
                self.minutes,
                self.error,
                ft.Row([self.submit_button]),
            ],
            spacing=12,
            key="completion",
        )
        self.render()

    # --- render ---------------------------------------------------------------------------------

    def render(self) -> None:
        vm = self.vm
        self.photo_count.value = tn("completion.photo_count", len(vm.photos))
        self.photos.controls = [
            ft.Row(
                [
                    ft.Text(p.name, expand=True),
                    ft.TextButton(
                        content=t("completion.remove_photo"), on_click=self._remove_photo(i), key=f"rm-photo-{i}"
                    ),
                ]
            )
            for i, p in enumerate(vm.photos)
        ]
        self.results.controls = [
            ft.TextButton(content=pricebook_label(item), on_click=self._add_material(item), key=f"result-{i}")
            for i, item in enumerate(vm.search_results)
        ]
        self.materials.controls = [self._material_row(i, m) for i, m in enumerate(vm.materials)]
        self.pad.redraw()
        self.error.value = vm.error or ""
        self.error.visible = bool(vm.error)

    def _material_row(self, index: int, material: Any) -> ft.Control:
        def changed(e: Any, m=material) -> None:
            m.quantity = e.control.value or ""

        qty = ft.TextField(
            value=material.quantity, label=t("completion.quantity"), width=110, on_change=changed, key=f"qty-{index}"
        )
        return ft.Row(
            [
                ft.Text(material.description, expand=True),
                qty,
                ft.TextButton(content=t("completion.remove_material"), on_click=self._remove_material(index)),
            ]
        )

    # --- handlers -------------------------------------------------------------------------------

    def _remove_photo(self, index: int):
        def remove(e=None) -> None:
            self.vm.remove_photo(index)
            self.render()

        return remove

    def _add_material(self, item: dict[str, Any]):
        def add(e=None) -> None:
            self.vm.add_material(item)
            self.render()

        return add

    def _remove_material(self, index: int):
        def remove(e=None) -> None:
            self.vm.remove_material(index)
            self.render()

        return remove

    async def pick_photos(self, e=None) -> None:
        picker = self._file_picker()
        files = await picker.pick_files(file_type=ft.FilePickerFileType.IMAGE, allow_multiple=True, with_data=True)
        self.add_files(files or [])

    def add_files(self, files: list[Any]) -> None:
        for f in files:
            self.vm.add_photo(f.name, f.bytes)
        self.render()

    def clear_signature(self, e=None) -> None:
        self.vm.clear_signature()
        self.render()

    def notes_changed(self, e: Any) -> None:
        self.vm.notes = e.control.value or ""

    def minutes_changed(self, e: Any) -> None:
        self.vm.minutes_text = e.control.value or ""

    async def search_materials(self, e=None) -> None:
        await self.vm.search(self.search.value or "")
        self.render()

    async def submit(self, e=None) -> None:
        # the text fields' values as shown (on_change may not have fired for the last keystrokes)
        self.vm.notes = self.notes.value or ""
        self.vm.minutes_text = self.minutes.value or ""
        done = await self.vm.submit()
        self.render()
        if done:
            result = self.on_done()
            if result is not None:
                await result

    async def back(self, e=None) -> None:
        result = self.on_back()
        if result is not None:
            await result
