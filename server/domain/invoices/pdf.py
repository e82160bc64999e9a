"""The printed invoice: A4 PDF with every field an Argentine electronic receipt must show, and the QR of RG 4291.

``render_invoice_pdf(doc, copies=("ORIGINAL", "DUPLICADO"))`` draws one page set per copy. Each page
repeats the header (copy label, issuer, the letter in its box with "COD. NN", receipt name, point of
sale and number, dates, CUIT, Ingresos Brutos, inicio de actividades), the service period (Concepto 2/3),
the receiver, the lines table, and the footer (QR, CAE and its due date, "Pág. n/m" within the copy).
The totals go on the last page of each copy:

- **A**: lines with their IVA rate; neto gravado, IVA per rate, otros tributos, total (IVA discriminated);
- **B**: prices with IVA included, and the "Régimen de Transparencia Fiscal al Consumidor (Ley 27.743)"
  box with the IVA contenido and the other national indirect taxes;
- **C**: no IVA anywhere (the price is the price).

Pure: no database, no I/O except reading the bundled fonts (``assets/fonts``, DejaVu Sans cut to
Latin). Same input, same bytes (the creation date is the issue date), so a rendered PDF can be cached
and its hash compared. The amounts are shown as given: the service computes them (``shared``'s tax
rules), the PDF never recomputes a fiscal figure except the B prices with IVA included per line.
"""

from __future__ import annotations

import datetime
import io
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import qrcode  # type: ignore[import-untyped]
import qrcode.constants  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from server.lib.logging import get_logger
from shared.fiscal.cuit import format_cuit, is_valid_cuit
from shared.fiscal.iva import IvaCondition
from shared.fiscal.qr import payload_url, qr_payload

log = get_logger("campotech.invoices.pdf")

FONT_DIR = Path(__file__).resolve().parents[3] / "assets" / "fonts"
FONT_REGULAR = FONT_DIR / "DejaVuSans-Latin.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold-Latin.ttf"
FAMILY = "dejavu"

COPY_LABELS = ("ORIGINAL", "DUPLICADO", "TRIPLICADO")

RECEIPT_TYPES: dict[int, tuple[str, str]] = {
    1: ("A", "FACTURA"),
    2: ("A", "NOTA DE DÉBITO"),
    3: ("A", "NOTA DE CRÉDITO"),
    4: ("A", "RECIBO"),
    6: ("B", "FACTURA"),
    7: ("B", "NOTA DE DÉBITO"),
    8: ("B", "NOTA DE CRÉDITO"),
    9: ("B", "RECIBO"),
    11: ("C", "FACTURA"),
    12: ("C", "NOTA DE DÉBITO"),
    13: ("C", "NOTA DE CRÉDITO"),
    15: ("C", "RECIBO"),
}
CONCEPTS = {1: "Productos", 2: "Servicios", 3: "Productos y servicios"}
DOC_TYPES = {80: "CUIT", 86: "CUIL", 87: "CDI", 96: "DNI", 94: "Pasaporte", 99: "Sin identificar"}
IVA_CONDITION_LABELS = {
    IvaCondition.RESPONSABLE_INSCRIPTO: "IVA Responsable Inscripto",
    IvaCondition.MONOTRIBUTISTA: "Responsable Monotributo",
    IvaCondition.EXENTO: "IVA Sujeto Exento",
    IvaCondition.CONSUMIDOR_FINAL: "Consumidor Final",
}
CURRENCY_SYMBOLS = {"PES": "$", "DOL": "US$", "060": "€"}
TRANSPARENCY_TITLE = "Régimen de Transparencia Fiscal al Consumidor (Ley 27.743)"

ZERO = Decimal("0")
CENT = Decimal("0.01")


# ------------------------------------------------------------------------------------------ the data


@dataclass(frozen=True)
class Issuer:
    """The organisation issuing: ``name`` is the trade name shown big, ``legal_name`` the razón social."""

    name: str
    legal_name: str
    cuit: str
    address: str
    iva_condition: IvaCondition | str
    gross_income: str | None = None  # Ingresos Brutos number, or "Exento" / "Convenio Multilateral ..."
    activity_start: datetime.date | None = None
    logo_png: bytes | None = None


@dataclass(frozen=True)
class Receiver:
    """The customer. ``doc_type`` is AFIP's DocTipo (80 CUIT, 86 CUIL, 96 DNI, 99 none with number 0)."""

    name: str
    doc_type: int
    doc_number: str
    iva_condition: IvaCondition | int | str  # int: AFIP's CondicionIVAReceptorId
    address: str | None = None


@dataclass(frozen=True)
class Line:
    """One line. ``unit_price``, ``discount`` (an amount) and ``subtotal`` are net of IVA;
    ``total`` includes it (``subtotal`` + the line's IVA). For C, IVA is 0 and total == subtotal."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    subtotal: Decimal
    total: Decimal
    iva_rate: Decimal = ZERO  # percent: 21, 10.5, 27, 5, 2.5, 0
    discount: Decimal = ZERO
    code: str = ""
    unit: str = "unidad"


@dataclass(frozen=True)
class VatAmount:
    """One IVA rate (AFIP's AlicIva): ``rate`` in percent, its taxable ``base`` and ``amount``."""

    rate: Decimal
    base: Decimal
    amount: Decimal


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything the printed receipt shows; amounts as the service computed and AFIP authorised them.

    ``letter`` and ``receipt_name`` default from ``receipt_type`` (1 → A "FACTURA", 8 → B "NOTA DE
    CRÉDITO", ...). ``net_amount`` is ImpNeto, ``iva_amount`` ImpIVA, ``other_taxes`` ImpTrib and
    ``total`` ImpTotal. ``other_national_indirect_taxes`` is the part of other taxes that Ley 27.743
    asks to show on a B (0 when none).
    """

    issuer: Issuer
    receiver: Receiver
    receipt_type: int
    point_of_sale: int
    number: int
    issue_date: datetime.date
    concept: int
    lines: tuple[Line, ...]
    net_amount: Decimal
    iva_amount: Decimal
    total: Decimal
    cae: str
    cae_due_date: datetime.date
    vat: tuple[VatAmount, ...] = ()
    other_taxes: Decimal = ZERO
    untaxed_amount: Decimal = ZERO  # ImpTotConc
    exempt_amount: Decimal = ZERO  # ImpOpEx
    other_national_indirect_taxes: Decimal = ZERO
    service_from: datetime.date | None = None
    service_to: datetime.date | None = None
    payment_due: datetime.date | None = None
    sale_condition: str = "Contado"
    currency: str = "PES"
    exchange_rate: Decimal = Decimal("1")
    associated_receipt: str | None = None  # for notes: "Factura A 0001-00000042"
    letter: str = ""
    receipt_name: str = ""
    notes: str | None = None

    def __post_init__(self) -> None:
        known = RECEIPT_TYPES.get(self.receipt_type)
        if not self.letter:
            if known is None:
                raise ValueError(f"unknown receipt type {self.receipt_type}: give letter and receipt_name")
            object.__setattr__(self, "letter", known[0])
        if not self.receipt_name:
            object.__setattr__(self, "receipt_name", known[1] if known else "COMPROBANTE")
        if self.letter not in ("A", "B", "C"):
            raise ValueError(f"letter must be A, B or C, not {self.letter!r}")
        if not self.lines:
            raise ValueError("an invoice has at least one line")

    @property
    def display_number(self) -> str:
        return format_receipt_number(self.point_of_sale, self.number)

    def qr_data(self) -> dict[str, object]:
        """The RG 4291 object printed in the QR."""
        return qr_payload(
            issue_date=self.issue_date,
            issuer_cuit=self.issuer.cuit,
            point_of_sale=self.point_of_sale,
            receipt_type=self.receipt_type,
            number=self.number,
            total=self.total,
            doc_type=self.receiver.doc_type,
            doc_number=self.receiver.doc_number or 0,
            cae=self.cae,
            currency=self.currency,
            exchange_rate=self.exchange_rate,
        )

    def qr_url(self) -> str:
        return payload_url(self.qr_data())


# ---------------------------------------------------------------------------------------- formatting


def format_amount(value: Decimal) -> str:
    """Argentine style, two decimals: ``Decimal("1234.5")`` → ``"1.234,50"``."""
    text = f"{Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def format_quantity(value: Decimal) -> str:
    """Two decimals, three when the quantity has them: ``1`` → ``"1,00"``, ``2.125`` → ``"2,125"``."""
    quantity = Decimal(value)
    places = Decimal("0.001") if quantity != quantity.quantize(CENT) else CENT
    text = f"{quantity.quantize(places, rounding=ROUND_HALF_UP):,f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def format_rate(rate: Decimal) -> str:
    """``Decimal("10.50")`` → ``"10,5%"``."""
    return f"{Decimal(rate).normalize():f}".replace(".", ",") + "%"


def format_date(value: datetime.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def format_receipt_number(point_of_sale: int, number: int) -> str:
    """``0001-00000123`` (the point of sale takes five digits from 10000 on)."""
    return f"{point_of_sale:04d}-{number:08d}"


def format_document(doc_type: int, number: str) -> tuple[str, str]:
    """The receiver's document as printed: ``("CUIT", "20-12345678-6")``, ``("DNI", "12.345.678")``."""
    label = DOC_TYPES.get(doc_type, "Documento")
    text = (number or "").strip()
    if doc_type in (80, 86) and is_valid_cuit(text):
        return label, format_cuit(text)
    if doc_type == 96 and text.isdigit():
        return label, f"{int(text):,}".replace(",", ".")
    if doc_type == 99 or not text or text == "0":
        return "Documento", "-"
    return label, text


# CondicionIVAReceptorId (RG 5616) as printed
RECEIVER_CONDITION_LABELS = {
    1: "IVA Responsable Inscripto",
    4: "IVA Sujeto Exento",
    5: "Consumidor Final",
    6: "Responsable Monotributo",
    7: "Sujeto No Categorizado",
    8: "Proveedor del Exterior",
    9: "Cliente del Exterior",
    10: "IVA Liberado - Ley N° 19.640",
    13: "Monotributista Social",
    15: "IVA No Alcanzado",
    16: "Monotributo Trabajador Independiente Promovido",
}


def iva_label(condition: IvaCondition | int | str) -> str:
    """The printed IVA condition: from our ``IvaCondition``, AFIP's CondicionIVAReceptorId, or a label as is."""
    if isinstance(condition, int):
        return RECEIVER_CONDITION_LABELS.get(condition, str(condition))
    try:
        return IVA_CONDITION_LABELS[IvaCondition(condition)]
    except ValueError:
        return str(condition)


@lru_cache(maxsize=1)
def _font_codepoints() -> frozenset[int]:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    with TTFont(FONT_REGULAR, lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str | None) -> str:
    """``text`` with what the bundled font lacks replaced: accents dropped when that helps, else ``?``."""
    if not text:
        return ""
    text = " ".join(text.split()) if ("\n" in text or "\t" in text or "\r" in text) else text
    supported = _font_codepoints()
    if all(ord(ch) in supported for ch in text):
        return text
    out = []
    for ch in text:
        if ord(ch) in supported:
            out.append(ch)
            continue
        plain = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) in supported)
        out.append(plain or "?")
    return "".join(out)


# ------------------------------------------------------------------------------------------- layout

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 10.0
CONTENT_W = PAGE_W - 2 * MARGIN
MID_X = PAGE_W / 2
LINE_H = 3.6  # a text line inside the table (font 7.5)
ROW_PAD = 1.2
FOOTER_TOP = PAGE_H - MARGIN - 36.0  # QR, CAE, page number
TOTALS_ROW_H = 5.2
MIN_FONT_SIZE = 5.0


@dataclass(frozen=True)
class _Column:
    title: str
    width: float
    align: str  # "L" | "R" | "C"


def _columns(letter: str) -> tuple[_Column, ...]:
    if letter == "A":
        return (
            _Column("Código", 14, "L"),
            _Column("Producto / Servicio", 54, "L"),
            _Column("Cantidad", 14, "R"),
            _Column("U. medida", 14, "L"),
            _Column("Precio unit.", 22, "R"),
            _Column("Bonif.", 16, "R"),
            _Column("Subtotal", 22, "R"),
            _Column("Alíc. IVA", 12, "R"),
            _Column("Subtotal c/IVA", 22, "R"),
        )
    return (
        _Column("Código", 16, "L"),
        _Column("Producto / Servicio", 76, "L"),
        _Column("Cantidad", 16, "R"),
        _Column("U. medida", 16, "L"),
        _Column("Precio unit.", 24, "R"),
        _Column("Bonif.", 18, "R"),
        _Column("Subtotal", 24, "R"),
    )


def _with_iva(amount: Decimal, rate: Decimal) -> Decimal:
    return (Decimal(amount) * (1 + Decimal(rate) / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def _line_cells(doc: InvoiceDocument, line: Line) -> list[str]:
    """The texts of one row: A net with its rate; B with IVA included; C as is."""
    qty, unit, code = format_quantity(line.quantity), printable(line.unit), printable(line.code)
    if doc.letter == "A":
        return [
            code,
            printable(line.description),
            qty,
            unit,
            format_amount(line.unit_price),
            format_amount(line.discount),
            format_amount(line.subtotal),
            format_rate(line.iva_rate),
            format_amount(line.total),
        ]
    if doc.letter == "B":
        price, discount, subtotal = (
            _with_iva(line.unit_price, line.iva_rate),
            _with_iva(line.discount, line.iva_rate),
            line.total,
        )
    else:
        price, discount, subtotal = line.unit_price, line.discount, line.subtotal
    return [
        code,
        printable(line.description),
        qty,
        unit,
        format_amount(price),
        format_amount(discount),
        format_amount(subtotal),
    ]


def _totals_rows(doc: InvoiceDocument) -> list[tuple[str, str, bool]]:
    """(label, amount, bold) of the totals box."""
    rows: list[tuple[str, str, bool]] = []
    sym = CURRENCY_SYMBOLS.get(doc.currency, doc.currency)
    if doc.letter == "A":
        rows.append((f"Importe neto gravado: {sym}", format_amount(doc.net_amount), False))
        if doc.untaxed_amount:
            rows.append((f"Importe neto no gravado: {sym}", format_amount(doc.untaxed_amount), False))
        if doc.exempt_amount:
            rows.append((f"Importe exento: {sym}", format_amount(doc.exempt_amount), False))
        for vat in sorted(doc.vat, key=lambda v: Decimal(v.rate), reverse=True):
            rows.append((f"IVA {format_rate(vat.rate)}: {sym}", format_amount(vat.amount), False))
        if not doc.vat:
            rows.append((f"IVA: {sym}", format_amount(doc.iva_amount), False))
    else:
        rows.append((f"Subtotal: {sym}", format_amount(doc.total - doc.other_taxes), False))
    rows.append((f"Importe otros tributos: {sym}", format_amount(doc.other_taxes), False))
    rows.append((f"Importe total: {sym}", format_amount(doc.total), True))
    return rows


class _Renderer:
    def __init__(self, doc: InvoiceDocument) -> None:
        self.doc = doc
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.add_font(FAMILY, "", str(FONT_REGULAR))
        pdf.add_font(FAMILY, "B", str(FONT_BOLD))
        created = datetime.datetime.combine(doc.issue_date, datetime.time(12, 0), tzinfo=datetime.UTC)
        pdf.set_creation_date(created)
        pdf.set_lang("es-AR")
        pdf.set_title(printable(f"{doc.receipt_name} {doc.letter} {doc.display_number}"))
        pdf.set_author(printable(doc.issuer.legal_name))
        pdf.set_creator("CampoTech")
        pdf.set_line_width(0.25)
        self.pdf = pdf
        self.columns = _columns(doc.letter)
        self.qr_modules = self._qr_runs(doc.qr_url())
        self.has_period = doc.concept in (2, 3)
        self._wrapped: dict[str, list[str]] = {}
        self._qr_ops: str | None = None
        self._logo_broken = False
        self._widths: dict[tuple[str, bool], float] = {}
        self.table_top = self._table_top()
        self.rows = [(cells, self._row_height(cells)) for cells in (_line_cells(doc, line) for line in doc.lines)]
        self.totals = _totals_rows(doc)

    # -- measuring ----------------------------------------------------------------------------------

    def _table_top(self) -> float:
        y = 17 + 47  # copy label, header box
        if self.has_period:
            y += 7
        return y + self._receiver_height() + 2

    def _receiver_height(self) -> float:
        height = 16.5
        if self.doc.currency != "PES":
            height += 5
        if self.doc.associated_receipt:
            height += 5
        return height

    def _desc_lines(self, text: str) -> list[str]:
        """The description wrapped to its column (words kept whole unless one alone is too wide)."""
        cached = self._wrapped.get(text)
        if cached is not None:
            return cached
        size = 7.5
        room = self.columns[1].width - 2
        space = self.width(" ", size=size)
        lines: list[str] = []
        current, current_w = "", 0.0
        for word in text.split(" "):
            word_w = self.width(word, size=size)
            if current and current_w + space + word_w <= room:
                current, current_w = f"{current} {word}", current_w + space + word_w
                continue
            if not current and word_w <= room:
                current, current_w = word, word_w
                continue
            if current:
                lines.append(current)
            while self.width(word, size=size) > room:  # a word wider than the column: cut it
                cut = len(word) - 1
                while cut > 1 and self.width(word[:cut], size=size) > room:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current, current_w = word, self.width(word, size=size)
        lines.append(current)
        self._wrapped[text] = lines
        return lines

    def _row_height(self, cells: list[str]) -> float:
        return len(self._desc_lines(cells[1])) * LINE_H + ROW_PAD * 2

    def _totals_height(self) -> float:
        height = len(self.totals) * TOTALS_ROW_H + 4
        if self.doc.letter == "B":
            height = max(height, 24.0)
        if self.doc.notes:
            height += 10
        return height

    def paginate(self) -> list[list[int]]:
        """Row indexes per page; the last page also has room for the totals."""
        body_top = self.table_top + 6.0
        body_bottom = FOOTER_TOP - 2.0
        pages: list[list[int]] = [[]]
        y = body_top
        for index, (_cells, height) in enumerate(self.rows):
            if y + height > body_bottom and pages[-1]:
                pages.append([])
                y = body_top
            pages[-1].append(index)
            y += height
        if y + self._totals_height() + 2 > body_bottom:
            # the totals need a page of their own: carry the last line(s) over with them, so no page
            # shows the totals alone under an empty table
            moved = pages[-1][-1:] if len(pages[-1]) > 1 else []
            pages[-1] = pages[-1][: len(pages[-1]) - len(moved)]
            pages.append(moved)
        return pages

    # -- drawing ------------------------------------------------------------------------------------

    def width(self, text: str, *, size: float, bold: bool = False) -> float:
        """Width in mm of ``text`` at ``size`` (widths scale with the size: measured once at 10 pt, cached)."""
        key = (text, bold)
        unit = self._widths.get(key)
        if unit is None:
            self.pdf.set_font(FAMILY, "B" if bold else "", 10)
            unit = self.pdf.get_string_width(text) / 10
            self._widths[key] = unit
        return unit * size

    def text(
        self, x: float, y: float, w: float, h: float, text: str, *, size: float, bold: bool = False, align: str = "L"
    ) -> None:
        pdf = self.pdf
        text = printable(text)
        room = w - 1 + 1e-6  # the tolerance keeps float rounding from shrinking a text measured to fit
        width = self.width(text, size=size, bold=bold)
        if width > room:  # a long amount or name shrinks rather than overflow its cell...
            size = max(MIN_FONT_SIZE, math.floor(size * room / width * 2) / 2)
            if self.width(text, size=size, bold=bold) > room:  # ...and is cut when still too long at the least size
                while len(text) > 1 and self.width(text + "…", size=size, bold=bold) > room:
                    text = text[:-1]
                text += "…"
        pdf.set_font(FAMILY, "B" if bold else "", size)
        pdf.set_xy(x, y)
        pdf.cell(w, h, text, align=Align.coerce(align), new_x=XPos.RIGHT, new_y=YPos.TOP)

    def labelled(self, x: float, y: float, w: float, label: str, value: str, *, size: float = 8.0) -> None:
        """``label`` in bold then ``value``, on one line of width ``w``."""
        label_w = self.width(printable(label), size=size, bold=True) + 1
        self.text(x, y, label_w, 4.2, label, size=size, bold=True)
        self.text(x + label_w, y, max(w - label_w, 5), 4.2, value, size=size)

    def page(self, copy: str, page_no: int, pages: int, rows: Sequence[int], last: bool) -> None:
        self.pdf.add_page()
        self.header(copy)
        self.table(rows)
        if last:
            self.totals_block()
        elif rows:
            self.text(MARGIN, FOOTER_TOP - 6, CONTENT_W, 4, "Continúa en la página siguiente", size=7, align="R")
        self.footer(page_no, pages)

    def header(self, copy: str) -> None:
        pdf, doc, issuer = self.pdf, self.doc, self.doc.issuer
        pdf.rect(MARGIN, 10, CONTENT_W, 7)
        self.text(MARGIN, 10, CONTENT_W, 7, copy, size=11, bold=True, align="C")
        top, bottom = 17.0, 64.0
        pdf.rect(MARGIN, top, CONTENT_W, bottom - top)
        box_w, box_h = 16.0, 15.0
        box_x = MID_X - box_w / 2
        pdf.set_fill_color(255, 255, 255)
        pdf.rect(box_x, top, box_w, box_h, style="DF")
        self.text(box_x, top + 0.5, box_w, 10, doc.letter, size=26, bold=True, align="C")
        self.text(box_x, top + 10, box_w, 4, f"COD. {doc.receipt_type:02d}", size=7, bold=True, align="C")
        pdf.line(MID_X, top + box_h, MID_X, bottom)
        # issuer, left half
        left_w = MID_X - MARGIN - box_w / 2 - 3
        y = top + 2
        logo = self._logo(x=MARGIN + 2, y=y)
        if logo:
            y += 15
        self.text(MARGIN + 2, y, left_w, 6, issuer.name, size=12 if logo else 14, bold=True)
        y += 7 if logo else 9
        half_w = MID_X - MARGIN - 4
        self.labelled(MARGIN + 2, y, half_w, "Razón social:", issuer.legal_name)
        self.labelled(MARGIN + 2, y + 4.6, half_w, "Domicilio comercial:", issuer.address)
        self.labelled(MARGIN + 2, y + 9.2, half_w, "Condición frente al IVA:", iva_label(issuer.iva_condition))
        # receipt, right half
        rx = MID_X + box_w / 2 + 3
        rw = PAGE_W - MARGIN - rx - 2
        self.text(rx, top + 2, rw, 7, doc.receipt_name, size=15, bold=True)
        pos, number = doc.display_number.split("-")
        self.text(rx, top + 10, rw, 4.5, f"Punto de venta: {pos}    Comp. Nro: {number}", size=9, bold=True)
        x2 = MID_X + 3
        w2 = PAGE_W - MARGIN - x2 - 2
        y = top + 17
        self.labelled(x2, y, w2, "Nro. de comprobante:", doc.display_number)
        self.labelled(x2, y + 4.6, w2, "Fecha de emisión:", format_date(doc.issue_date))
        self.labelled(x2, y + 9.2, w2, "CUIT:", format_cuit(issuer.cuit))
        self.labelled(x2, y + 13.8, w2, "Ingresos Brutos:", issuer.gross_income or "-")
        self.labelled(x2, y + 18.4, w2, "Fecha de inicio de actividades:", format_date(issuer.activity_start) or "-")
        y = bottom
        if self.has_period:
            pdf.rect(MARGIN, y, CONTENT_W, 7)
            self.labelled(MARGIN + 2, y + 1.4, 62, "Período facturado desde:", format_date(doc.service_from))
            self.labelled(MARGIN + 64, y + 1.4, 40, "Hasta:", format_date(doc.service_to))
            self.labelled(MARGIN + 104, y + 1.4, 84, "Fecha de vto. para el pago:", format_date(doc.payment_due) or "-")
            y += 7
        # receiver
        receiver = doc.receiver
        pdf.rect(MARGIN, y, CONTENT_W, self._receiver_height())
        label, number_text = format_document(receiver.doc_type, receiver.doc_number)
        self.labelled(MARGIN + 2, y + 1.5, 70, f"{label}:", number_text)
        self.labelled(MARGIN + 72, y + 1.5, CONTENT_W - 74, "Apellido y nombre / Razón social:", receiver.name)
        self.labelled(MARGIN + 2, y + 6.5, 100, "Condición frente al IVA:", iva_label(receiver.iva_condition))
        self.labelled(MARGIN + 104, y + 6.5, CONTENT_W - 106, "Domicilio:", receiver.address or "-")
        self.labelled(MARGIN + 2, y + 11.5, 100, "Condición de venta:", doc.sale_condition)
        self.labelled(MARGIN + 104, y + 11.5, CONTENT_W - 106, "Concepto:", CONCEPTS.get(doc.concept, str(doc.concept)))
        y += 16.5
        if doc.currency != "PES":
            rate = format_quantity(doc.exchange_rate)
            self.labelled(MARGIN + 2, y, CONTENT_W - 4, "Moneda:", f"{doc.currency} (cotización {rate})")
            y += 5
        if doc.associated_receipt:
            self.labelled(MARGIN + 2, y, CONTENT_W - 4, "Comprobante asociado:", doc.associated_receipt)

    def _logo(self, *, x: float, y: float) -> bool:
        """The organisation's logo in a 40 × 14 mm box; a logo that cannot be read is left out, never fatal."""
        if not self.doc.issuer.logo_png or self._logo_broken:
            return False
        try:
            self.pdf.image(io.BytesIO(self.doc.issuer.logo_png), x=x, y=y, w=40, h=14, keep_aspect_ratio=True)
        except Exception:  # fpdf2/Pillow raise many kinds for a bad image; the invoice prints anyway
            self._logo_broken = True
            log.warning("invoice logo unreadable: printed without it", receipt=self.doc.display_number)
            return False
        return True

    def table(self, rows: Sequence[int]) -> None:
        pdf = self.pdf
        y = self.table_top
        pdf.set_fill_color(225, 225, 225)
        pdf.rect(MARGIN, y, CONTENT_W, 6, style="DF")
        x = MARGIN
        for column in self.columns:
            self.text(
                x,
                y,
                column.width,
                6,
                column.title,
                size=7,
                bold=True,
                align=column.align if column.align != "L" else "L",
            )
            x += column.width
        y += 6
        for index in rows:
            cells, height = self.rows[index]
            x = MARGIN
            for i, (column, value) in enumerate(zip(self.columns, cells, strict=True)):
                if i == 1:
                    for n, text_line in enumerate(self._desc_lines(value)):
                        self.text(x, y + ROW_PAD + n * LINE_H, column.width, LINE_H, text_line, size=7.5)
                else:
                    self.text(x, y + ROW_PAD, column.width, LINE_H, value, size=7.5, align=column.align)
                x += column.width
            y += height
            pdf.set_draw_color(200, 200, 200)
            pdf.line(MARGIN, y, PAGE_W - MARGIN, y)
            pdf.set_draw_color(0, 0, 0)
        self.body_end = y

    def totals_block(self) -> None:
        pdf, doc = self.pdf, self.doc
        height = self._totals_height()
        top = FOOTER_TOP - 2 - height
        pdf.rect(MARGIN, top, CONTENT_W, height)
        x_label, w_label, w_amount = MARGIN + 95, 63.0, 30.0
        y = top + 2
        for label, amount, bold in self.totals:
            size = 9.5 if bold else 8.5
            self.text(x_label, y, w_label, TOTALS_ROW_H, label, size=size, bold=True, align="R")
            self.text(x_label + w_label, y, w_amount, TOTALS_ROW_H, amount, size=size, bold=bold, align="R")
            y += TOTALS_ROW_H
        if doc.letter == "B":
            sym = CURRENCY_SYMBOLS.get(doc.currency, doc.currency)
            bx, bw = MARGIN + 2, 90.0
            pdf.rect(bx, top + 2, bw, 18)
            self.text(bx + 1, top + 3, bw - 2, 4.5, TRANSPARENCY_TITLE, size=7.2, bold=True)
            self.labelled(bx + 1, top + 8.5, bw - 2, f"IVA contenido: {sym}", format_amount(doc.iva_amount))
            self.labelled(
                bx + 1,
                top + 13.5,
                bw - 2,
                f"Otros impuestos nacionales indirectos: {sym}",
                format_amount(doc.other_national_indirect_taxes),
            )
        if doc.notes:
            self.labelled(MARGIN + 2, top + height - 9, CONTENT_W - 4, "Observaciones:", doc.notes)

    def footer(self, page_no: int, pages: int) -> None:
        pdf, doc = self.pdf, self.doc
        top = FOOTER_TOP
        pdf.line(MARGIN, top, PAGE_W - MARGIN, top)
        self.draw_qr(MARGIN, top + 2, 32.0)
        x = MARGIN + 38
        self.text(x, top + 4, 90, 5, "Comprobante autorizado por ARCA (AFIP)", size=9, bold=True)
        self.text(x, top + 9.5, 90, 4, "Esta factura electrónica fue autorizada con el siguiente CAE.", size=7)
        self.labelled(PAGE_W - MARGIN - 72, top + 4, 72, "CAE N°:", doc.cae, size=9)
        self.labelled(
            PAGE_W - MARGIN - 72, top + 9.5, 72, "Fecha de vto. de CAE:", format_date(doc.cae_due_date), size=9
        )
        self.text(PAGE_W - MARGIN - 40, top + 28, 40, 5, f"Pág. {page_no}/{pages}", size=8, bold=True, align="R")

    @staticmethod
    def _qr_runs(url: str) -> tuple[int, tuple[tuple[int, int, int], ...]]:
        """The QR as horizontal runs of dark modules: (size in modules, [(row, first column, length)]).

        Error correction M; a fixed mask pattern (any of the 8 is valid for every reader) spares
        qrcode scoring all eight, which was a third of a render.
        """
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, box_size=1, mask_pattern=2)
        code.add_data(url, optimize=0)
        code.make(fit=True)
        matrix = code.get_matrix()
        runs: list[tuple[int, int, int]] = []
        for r, row in enumerate(matrix):
            c = 0
            while c < len(row):
                if row[c]:
                    start = c
                    while c < len(row) and row[c]:
                        c += 1
                    runs.append((r, start, c - start))
                else:
                    c += 1
        return len(matrix), tuple(runs)

    def draw_qr(self, x: float, y: float, size: float) -> None:
        """Vector modules (sharp at any resolution): one filled path of rectangles, in black.

        Written as raw PDF operators: the ~1,000 rectangles through ``FPDF.rect`` cost more than the
        rest of the page.
        """
        if self._qr_ops is None:
            modules, runs = self.qr_modules
            k = self.pdf.k
            cell = size / modules * k
            left, top = x * k, (PAGE_H - y) * k
            parts = [
                f"{left + c * cell:.2f} {top - (r + 1) * cell:.2f} {n * cell:.2f} {cell:.2f} re" for r, c, n in runs
            ]
            self._qr_ops = "q 0 g " + " ".join(parts) + " f Q"
        self.pdf._out(self._qr_ops)  # fpdf2 own content-stream writer (private, stable since 2.0)

    def render(self, copies: Sequence[str]) -> bytes:
        pages = self.paginate()
        for copy in copies:
            for n, rows in enumerate(pages, start=1):
                self.page(copy, n, len(pages), rows, last=n == len(pages))
        return bytes(self.pdf.output())


def render_invoice_pdf(doc: InvoiceDocument, *, copies: tuple[str, ...] = ("ORIGINAL",)) -> bytes:
    """The receipt as PDF bytes: one page set per copy label ("ORIGINAL", "DUPLICADO", "TRIPLICADO").

    Deterministic: the same document and copies give the same bytes.
    """
    if not copies:
        raise ValueError("at least one copy (ORIGINAL)")
    return _Renderer(doc).render([printable(copy).upper() for copy in copies])


def document_from_records(
    org: Any,
    invoice: Any,
    lines: Sequence[Any],
    *,
    customer_name: str,
    customer_address: str | None = None,
    customer_iva_condition: IvaCondition | int | str | None = None,
    line_codes: Mapping[Any, tuple[str, str]] | None = None,
    logo_png: bytes | None = None,
    associated_receipt: str | None = None,
) -> InvoiceDocument:
    """The document of an issued invoice from the database rows (``server.db.models``: ``Organization``,
    ``Invoice``, its ``InvoiceLine`` rows in order), without importing them here.

    ``line_codes`` maps a line's ``pricebook_item_id`` to the item's (code, unit); free lines print no code
    and "unidad". ``customer_iva_condition`` defaults to the invoice's CondicionIVAReceptorId.
    Raises ``ValueError`` when the invoice has no CAE yet (only an authorised receipt is printed).
    """
    missing = [
        name
        for name in ("cae", "cae_due_date", "number", "point_of_sale", "receipt_type", "issue_date")
        if getattr(invoice, name, None) is None
    ]
    if missing:
        raise ValueError(f"the invoice is not authorised yet (missing {', '.join(missing)})")
    codes = line_codes or {}
    printed = []
    vat: dict[Decimal, list[Decimal]] = {}
    letter = str(getattr(invoice.letter, "value", invoice.letter or ""))
    for line in sorted(lines, key=lambda row: row.position):
        code, unit = codes.get(line.pricebook_item_id, ("", "unidad"))
        printed.append(
            Line(
                code=code,
                unit=unit,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                iva_rate=line.iva_rate if letter != "C" else ZERO,
                subtotal=line.net_amount,
                total=line.total_amount,
            )
        )
        if letter != "C":
            sums = vat.setdefault(Decimal(line.iva_rate), [ZERO, ZERO])
            sums[0] += line.net_amount
            sums[1] += line.iva_amount
    settings = getattr(org, "settings", None) or {}
    return InvoiceDocument(
        issuer=Issuer(
            name=str(settings.get("trade_name") or org.name),
            legal_name=org.name,
            cuit=org.cuit,
            address=org.address or "",
            iva_condition=org.iva_condition or "",
            gross_income=org.gross_income_number,
            activity_start=org.activity_start_date,
            logo_png=logo_png,
        ),
        receiver=Receiver(
            name=customer_name,
            doc_type=invoice.doc_type or 99,
            doc_number=invoice.doc_number or "0",
            iva_condition=customer_iva_condition
            if customer_iva_condition is not None
            else (invoice.receiver_iva_condition_id or IvaCondition.CONSUMIDOR_FINAL),
            address=customer_address,
        ),
        receipt_type=invoice.receipt_type,
        letter=letter,
        point_of_sale=invoice.point_of_sale,
        number=invoice.number,
        issue_date=invoice.issue_date,
        concept=invoice.concept or 1,
        service_from=invoice.service_from,
        service_to=invoice.service_to,
        payment_due=invoice.payment_due,
        lines=tuple(printed),
        net_amount=invoice.net_amount,
        iva_amount=invoice.iva_amount,
        vat=tuple(VatAmount(rate=rate, base=b, amount=a) for rate, (b, a) in sorted(vat.items()) if a or b),
        other_taxes=invoice.other_taxes_amount,
        untaxed_amount=invoice.untaxed_amount,
        exempt_amount=invoice.exempt_amount,
        total=invoice.total_amount,
        currency=invoice.currency or "PES",
        exchange_rate=invoice.exchange_rate or Decimal("1"),
        cae=invoice.cae,
        cae_due_date=invoice.cae_due_date,
        associated_receipt=associated_receipt,
    )


def copies_for(count: int) -> tuple[str, ...]:
    """``1`` → ("ORIGINAL",), ``2`` → + "DUPLICADO", ``3`` → + "TRIPLICADO"."""
    if not 1 <= count <= len(COPY_LABELS):
        raise ValueError("copies must be 1, 2 or 3")
    return COPY_LABELS[:count]


__all__ = [
    "COPY_LABELS",
    "InvoiceDocument",
    "Issuer",
    "Line",
    "Receiver",
    "VatAmount",
    "copies_for",
    "document_from_records",
    "format_amount",
    "format_receipt_number",
    "render_invoice_pdf",
]
