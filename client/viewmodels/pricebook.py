"""The price book, searched in the local store (read-only on the phone)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.i18n import t
from client.viewmodels._util import Observable, resolve
from client.viewmodels.completion import pricebook_label


@dataclass(frozen=True)
class PriceRow:
    id: str
    label: str
    price: str


def _price(item: dict[str, Any]) -> Any:
    for key in ("price", "base_price", "unit_price"):
        if item.get(key) is not None:
            return item[key]
    return None


class PriceBookVM(Observable):
    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store
        self.query = ""
        self.rows: list[PriceRow] = []

    async def search(self, query: str = "") -> list[PriceRow]:
        self.query = query or ""
        items = await resolve(self.store.pricebook(self.query))
        self.rows = [
            PriceRow(
                id=str(i.get("id")),
                label=pricebook_label(i),
                price=t("pricebook.price", price=_price(i) or "—"),
            )
            for i in list(items)[:100]
        ]
        self.changed()
        return self.rows

    @property
    def empty_text(self) -> str | None:
        return t("pricebook.empty") if not self.rows else None
