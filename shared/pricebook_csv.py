"""Price book CSV import and export, pure: the parser never raises on bad input, it reports every bad
cell with its line (the server decides all-or-nothing).

Columns: ``code, name, kind, unit, base_price, iva_rate, afip_product_code, category`` in any order;
the header may also use Spanish names (``código, nombre, tipo, unidad, precio, iva, código_afip,
categoría``, accents and case ignored). Required: code, name, kind, base_price, iva_rate. Unknown
columns are refused (a typo would otherwise drop data silently). The delimiter is ``,`` or ``;``
(whichever the header line has more of: Excel in es-AR writes ``;``). A UTF-8 BOM is ignored.

Numbers (``parse_decimal_ar``), after trimming spaces, an optional ``$`` before prices and ``%``
after rates:

========================  =============================================  ===========
form                      examples                                       value
========================  =============================================  ===========
digits                    ``1234``                                       1234
decimal comma             ``1234,5`` ``1234,56``                         1234.56
decimal point             ``1234.5`` ``1234.56``                         1234.56
dot thousands (es-AR)     ``1.234`` ``1.234.567`` ``1.234,56``           1234, …
comma thousands (en-US)   ``1,234.56`` (only with a decimal point)       1234.56
========================  =============================================  ===========

At most 2 decimals; thousands groups have exactly 3 digits. So ``1.234`` and ``1.500`` are
thousands (as Argentines write them), ``1.23`` is a decimal, and ``1,234`` (three decimals, or
thousands without decimals in en-US) is refused as ambiguous. Nothing else is accepted: no spaces
inside, no ``+``, no exponent, no ``.5``. Prices must be > 0; rates one of AFIP's 0, 2.5, 5, 10.5, 21, 27.

Text cells starting with ``= + - @`` (after any ``'``) are written with one more leading ``'`` so a
spreadsheet does not run them as formulas; the parser removes that one again, so export and import
round-trip.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from shared.pricing import IVA_RATES, ItemKind

COLUMNS = ("code", "name", "kind", "unit", "base_price", "iva_rate", "afip_product_code", "category")
REQUIRED_COLUMNS = frozenset({"code", "name", "kind", "base_price", "iva_rate"})
MAX_LENGTHS = {"code": 40, "name": 200, "unit": 20, "afip_product_code": 40, "category": 120}
DEFAULT_UNIT = "unidad"
MAX_DECIMALS = 2

HEADER_ALIASES = {
    "codigo": "code",
    "nombre": "name",
    "descripcion": "name",
    "tipo": "kind",
    "unidad": "unit",
    "precio": "base_price",
    "precio_base": "base_price",
    "iva": "iva_rate",
    "alicuota_iva": "iva_rate",
    "codigo_afip": "afip_product_code",
    "categoria": "category",
    "rubro": "category",
}

KIND_ALIASES = {
    "service": ItemKind.SERVICE,
    "servicio": ItemKind.SERVICE,
    "material": ItemKind.MATERIAL,
}

COLUMN_LABELS = {  # with their article, for the messages
    "code": "el código",
    "name": "el nombre",
    "kind": "el tipo",
    "unit": "la unidad",
    "base_price": "el precio",
    "iva_rate": "la alícuota de IVA",
    "afip_product_code": "el código AFIP",
    "category": "la categoría",
}

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_FORMS = re.compile(
    rf"""
    \d+ (?: [.,] \d{{1,{MAX_DECIMALS}}} )?                # 1234 · 1234,56 · 1234.56
    | \d{{1,3}} (?: \.\d{{3}} )+ (?: ,\d{{1,{MAX_DECIMALS}}} )?  # 1.234 · 1.234,56
    | \d{{1,3}} (?: ,\d{{3}} )+ \.\d{{1,{MAX_DECIMALS}}}        # 1,234.56
    """,
    re.VERBOSE,
)
_TOO_MANY_DECIMALS = re.compile(r"\d+[.,]\d+")


@dataclass(frozen=True, slots=True)
class PriceBookRow:
    code: str
    name: str
    kind: ItemKind
    base_price: Decimal  # net of IVA, 2 decimals
    iva_rate: Decimal  # percentage, 2 decimals (21.00)
    unit: str = DEFAULT_UNIT
    afip_product_code: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # 1-based line of the file (the header is line 1)
    column: str | None  # canonical column name, None for the whole line
    message_es: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    rows: list[PriceBookRow]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_decimal_ar(text: str) -> Decimal:
    """A number as Argentines (or spreadsheets) type it; see the module's table. ValueError in es-AR."""
    raw = text.strip()
    body = raw[1:] if raw.startswith("-") else raw
    if _NUMBER_FORMS.fullmatch(body):
        last = max(body.rfind(","), body.rfind("."))
        decimal_sep = body[last] if last >= 0 and len(body) - last - 1 <= MAX_DECIMALS else None
        digits = body
        if decimal_sep is None:
            digits = digits.replace(".", "")  # dots as thousands: 1.234
        else:
            thousands = "." if decimal_sep == "," else ","
            digits = digits.replace(thousands, "").replace(decimal_sep, ".")
        number = Decimal(digits)
        return -number if raw.startswith("-") else number
    if _TOO_MANY_DECIMALS.fullmatch(body):
        raise ValueError(f"«{raw}» tiene más de {MAX_DECIMALS} decimales o es ambiguo: escribí por ejemplo 1234,56.")
    raise ValueError(
        f"«{raw}» no es un número válido: usá coma para los decimales y punto para los miles, "
        "por ejemplo 1.234,56 o 1234.56."
    )


def _fold(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[\s\-]+", "_", plain.strip().lower())


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _is_formula(cell: str) -> bool:
    return cell.lstrip("'").startswith(_FORMULA_STARTS)


def _unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and _is_formula(cell) else cell


def _escape(cell: str) -> str:
    return "'" + cell if _is_formula(cell) else cell


def _detect_delimiter(text: str) -> str:
    first = next((line for line in io.StringIO(text) if any(ch.isalnum() for ch in line)), "")
    return ";" if first.count(";") > first.count(",") else ","


def _header(cells: list[str], line: int) -> tuple[list[str | None], list[RowError]]:
    errors: list[RowError] = []
    columns: list[str | None] = []
    seen: set[str] = set()
    for cell in cells:
        folded = _fold(cell)
        name = folded if folded in COLUMNS else HEADER_ALIASES.get(folded)
        if not folded:
            columns.append(None)  # an empty header cell: its cells must stay empty
            continue
        if name is None:
            known = ", ".join(COLUMNS)
            errors.append(RowError(line, None, f"La columna «{cell.strip()}» no es conocida. Columnas: {known}."))
        elif name in seen:
            errors.append(RowError(line, name, f"La columna «{cell.strip()}» está repetida."))
        else:
            seen.add(name)
        columns.append(name)
    for name in COLUMNS:
        if name in REQUIRED_COLUMNS and name not in seen:
            errors.append(RowError(line, name, f"Falta la columna «{name}» ({COLUMN_LABELS[name].split(' ', 1)[1]})."))
    return columns, errors


def _text(values: dict[str, str], name: str, line: int, errors: list[RowError]) -> str | None:
    value = _unescape(values.get(name, "").strip())
    label = COLUMN_LABELS[name]
    if not value:
        if name in REQUIRED_COLUMNS:
            errors.append(RowError(line, name, f"Falta {label}."))
        return None
    if len(value) > MAX_LENGTHS[name]:
        errors.append(RowError(line, name, f"{_cap(label)} tiene más de {MAX_LENGTHS[name]} caracteres."))
        return None
    return value


def _price(values: dict[str, str], line: int, errors: list[RowError]) -> Decimal | None:
    raw = values.get("base_price", "").strip()
    if not raw:
        errors.append(RowError(line, "base_price", "Falta el precio."))
        return None
    try:
        price = parse_decimal_ar(raw.removeprefix("$").lstrip())
    except ValueError as exc:
        errors.append(RowError(line, "base_price", f"Precio: {exc}"))
        return None
    if price <= 0:
        errors.append(RowError(line, "base_price", f"El precio debe ser mayor que cero (dice «{raw}»)."))
        return None
    return price.quantize(Decimal("0.01"))


def _iva(values: dict[str, str], line: int, errors: list[RowError]) -> Decimal | None:
    raw = values.get("iva_rate", "").strip()
    if not raw:
        errors.append(RowError(line, "iva_rate", "Falta la alícuota de IVA (por ejemplo 21)."))
        return None
    try:
        rate = parse_decimal_ar(raw.removesuffix("%").rstrip())
    except ValueError as exc:
        errors.append(RowError(line, "iva_rate", f"IVA: {exc}"))
        return None
    if rate not in IVA_RATES:
        errors.append(
            RowError(line, "iva_rate", f"La alícuota de IVA «{raw}» no existe: usá 0, 2,5, 5, 10,5, 21 o 27.")
        )
        return None
    return rate.quantize(Decimal("0.01"))


def _row(values: dict[str, str], line: int, errors: list[RowError]) -> PriceBookRow | None:
    before = len(errors)
    code = _text(values, "code", line, errors)
    name = _text(values, "name", line, errors)
    raw_kind = values.get("kind", "").strip()
    kind = KIND_ALIASES.get(_fold(raw_kind))
    if kind is None:
        message = "Falta el tipo" if not raw_kind else f"El tipo «{raw_kind}» no es válido"
        errors.append(RowError(line, "kind", f"{message}: usá service (servicio) o material."))
    unit = _text(values, "unit", line, errors)
    base_price = _price(values, line, errors)
    iva_rate = _iva(values, line, errors)
    afip_code = _text(values, "afip_product_code", line, errors)
    category = _text(values, "category", line, errors)
    if len(errors) > before or code is None or name is None or kind is None:
        return None
    assert base_price is not None and iva_rate is not None
    return PriceBookRow(
        code=code,
        name=name,
        kind=kind,
        base_price=base_price,
        iva_rate=iva_rate,
        unit=unit or DEFAULT_UNIT,
        afip_product_code=afip_code,
        category=category,
    )


def parse_pricebook_csv(text: str) -> ParseResult:
    """Every valid row, and an error for every bad cell or line; never raises on bad input.

    Blank lines (and lines of empty cells) are skipped. Codes are compared ignoring case and
    surrounding spaces: a repeated code is reported on each later line, naming the first.
    """
    rows: list[PriceBookRow] = []
    errors: list[RowError] = []
    text = (text or "").removeprefix("\ufeff")
    if not text.strip():
        return ParseResult(rows, [RowError(1, None, "El archivo está vacío.")])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_detect_delimiter(text), strict=True)
    columns: list[str | None] | None = None
    first_line: dict[str, int] = {}
    data_rows = 0
    header_line = line = 1
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            errors.append(
                RowError(
                    start,
                    None,
                    "La línea no se puede leer: revisá las comillas (un valor entre comillas debe cerrarlas "
                    "justo antes del separador).",
                )
            )
            if columns is None or reader.line_num < start:
                return ParseResult(rows, errors)
            data_rows += 1
            continue
        line = start
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            header_line = line
            columns, header_errors = _header(cells, line)
            errors.extend(header_errors)
            if header_errors:
                return ParseResult([], errors)
            continue
        data_rows += 1
        if any(cell.strip() for cell in cells[len(columns) :]):
            errors.append(RowError(line, None, f"La fila tiene más columnas que el encabezado ({len(columns)})."))
            continue
        values: dict[str, str] = {}
        for name, cell in zip(columns, cells, strict=False):
            if name is None:
                if cell.strip():
                    errors.append(RowError(line, None, "Hay un valor en una columna sin nombre."))
                continue
            values[name] = cell
        row = _row(values, line, errors)
        if row is None:
            continue
        key = row.code.casefold()
        if key in first_line:
            errors.append(
                RowError(
                    line, "code", f"El código «{row.code}» está repetido: ya aparece en la línea {first_line[key]}."
                )
            )
            continue
        first_line[key] = line
        rows.append(row)
    if columns is None:
        errors.append(RowError(1, None, "El archivo está vacío."))
    elif data_rows == 0:
        errors.append(RowError(header_line + 1, None, "El archivo no tiene filas de precios, sólo el encabezado."))
    return ParseResult(rows, errors)


def _number(value: Decimal, decimal_comma: bool) -> str:
    text = f"{value:f}"
    return text.replace(".", ",") if decimal_comma else text


def _rate(value: Decimal) -> Decimal:
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral_value() else normalized


def export_pricebook_csv(rows: Iterable[PriceBookRow], *, excel_ar: bool = False) -> str:
    """The rows as CSV that ``parse_pricebook_csv`` reads back to the same rows.

    Default: ``,`` delimiter and decimal point (``1234.56``). ``excel_ar=True``: what Excel in es-AR
    opens directly, ``;`` delimiter, decimal comma (``1234,56``) and a UTF-8 BOM.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if excel_ar else ",", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _escape(row.code),
                _escape(row.name),
                str(row.kind),
                _escape(row.unit),
                _number(row.base_price.quantize(Decimal("0.01")), excel_ar),
                _number(_rate(row.iva_rate), excel_ar),
                _escape(row.afip_product_code or ""),
                _escape(row.category or ""),
            ]
        )
    return ("\ufeff" if excel_ar else "") + out.getvalue()
