"""The price book, searchable (advanced mode)."""

from __future__ import annotations

import flet as ft

from client.i18n import t
from client.viewmodels.pricebook import PriceBookVM


class PriceBookView:
    def __init__(self, vm: PriceBookVM) -> None:
        self.vm = vm
        self.query = ft.TextField(label=t("pricebook.search"), on_submit=self.search, key="pricebook-search")
        self.empty = ft.Text("", key="pricebook-empty")
        self.list = ft.Column(spacing=4, key="pricebook-list")
        self.control = ft.Column(
            [ft.Text(t("pricebook.title"), size=24, weight=ft.FontWeight.BOLD), self.query, self.empty, self.list]
        )
        self.render()

    def render(self) -> None:
        self.empty.value = self.vm.empty_text or ""
        self.empty.visible = bool(self.vm.empty_text)
        self.list.controls = [
            ft.Row([ft.Text(r.label, expand=True), ft.Text(r.price)], key=f"price-{r.id}") for r in self.vm.rows
        ]

    async def search(self, e=None) -> None:
        await self.vm.search(self.query.value or "")
        self.render()
