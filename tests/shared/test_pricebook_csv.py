from __future__ import annotations

from decimal import Decimal as D

import pytest

from shared.pricebook_csv import (
    COLUMNS,
    ParseResult,
    PriceBookRow,
    RowError,
    export_pricebook_csv,
    parse_decimal_ar,
    parse_pricebook_csv,
)
from shared.pricing import ItemKind

HEADER = ",".join(COLUMNS)


def csv_of(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234", D("1234")),
        ("0", D("0")),
        ("1234,5", D("1234.5")),
        ("1234,56", D("1234.56")),
        ("0,5", D("0.5")),
        ("1234.5", D("1234.5")),
        ("1234.56", D("1234.56")),
        ("1.23", D("1.23")),  # one dot, two decimals: a decimal point
        ("1.234", D("1234")),  # one dot, three digits: thousands, as Argentines write it
        ("1.500", D("1500")),
        ("10.999", D("10999")),
        ("1.234.567", D("1234567")),
        ("1.234,56", D("1234.56")),
        ("12.345.678,9", D("12345678.9")),
        ("1,234.56", D("1234.56")),  # en-US thousands, only with a decimal point
        ("1,234,567.89", D("1234567.89")),
        ("  1.234,56  ", D("1234.56")),
        ("-5", D("-5")),  # parsed; the caller refuses it as not positive
    ],
)
def test_accepted_number_formats(text: str, value: D) -> None:
    assert parse_decimal_ar(text) == value


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1,234", "más de 2 decimales"),  # three decimals, or en-US thousands: ambiguous
        ("1.2345", "más de 2 decimales"),
        ("1234,567", "más de 2 decimales"),
        ("abc", "no es un número válido"),
        ("", "no es un número válido"),
        (".5", "no es un número válido"),
        (",5", "no es un número válido"),
        ("1 234", "no es un número válido"),
        ("1.234.56", "no es un número válido"),
        ("12.34.567", "no es un número válido"),
        ("1,234,56", "no es un número válido"),
        ("1.234,567", "no es un número válido"),
        ("+5", "no es un número válido"),
        ("1e3", "no es un número válido"),
        ("1234,", "no es un número válido"),
        ("NaN", "no es un número válido"),
    ],
)
def test_refused_number_formats(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_decimal_ar(text)


# --- whole files --------------------------------------------------------------------------------


def test_a_good_file() -> None:
    result = parse_pricebook_csv(
        csv_of(
            "VIS-01,Visita técnica,service,visita,15000,21,,Plomería",
            'MAT-02,"Caño PPN 1/2"", 4 m",material,unidad,"1.234,56",10.5,4011,',
            "MAT-03,Cinta teflón,material,,850.5,21%,,",
        )
    )
    assert result.ok and result.errors == []
    assert result.rows == [
        PriceBookRow(
            "VIS-01", "Visita técnica", ItemKind.SERVICE, D("15000.00"), D("21.00"), "visita", None, "Plomería"
        ),
        PriceBookRow("MAT-02", 'Caño PPN 1/2", 4 m', ItemKind.MATERIAL, D("1234.56"), D("10.50"), "unidad", "4011"),
        PriceBookRow("MAT-03", "Cinta teflón", ItemKind.MATERIAL, D("850.50"), D("21.00")),
    ]


def test_excel_es_ar_file_with_semicolons_bom_spanish_header_and_crlf() -> None:
    text = (
        "\ufeffCódigo;Nombre;Tipo;Unidad;Precio;IVA;Código AFIP;Categoría\r\nA1;Visita;Servicio;;$ 1.234,56;21;;Gas\r\n"
    )
    result = parse_pricebook_csv(text)
    assert result.errors == []
    assert result.rows == [PriceBookRow("A1", "Visita", ItemKind.SERVICE, D("1234.56"), D("21.00"), category="Gas")]


def test_columns_in_any_order_and_optional_ones_left_out() -> None:
    result = parse_pricebook_csv(csv_of("10.5,material,X1,Tornillos,120", header="iva_rate,kind,code,name,base_price"))
    assert result.rows == [PriceBookRow("X1", "Tornillos", ItemKind.MATERIAL, D("120.00"), D("10.50"))]


@pytest.mark.parametrize(
    ("rate", "value"),
    [
        ("0", "0.00"),
        ("2,5", "2.50"),
        ("2.5", "2.50"),
        ("5", "5.00"),
        ("10,5", "10.50"),
        ("21", "21.00"),
        ("27%", "27.00"),
    ],
)
def test_every_afip_rate(rate: str, value: str) -> None:
    result = parse_pricebook_csv(csv_of(f'A,Item,service,,100,"{rate}",,'))
    assert result.errors == []
    assert result.rows[0].iva_rate == D(value)


@pytest.mark.parametrize(
    ("line", "column", "says"),
    [
        (",Visita,service,,100,21,,", "code", "Falta el código"),
        ("A,,service,,100,21,,", "name", "Falta el nombre"),
        ("A,Visita,,,100,21,,", "kind", "Falta el tipo"),
        ("A,Visita,producto,,100,21,,", "kind", "«producto» no es válido"),
        ("A,Visita,service,,,21,,", "base_price", "Falta el precio"),
        ("A,Visita,service,,0,21,,", "base_price", "mayor que cero"),
        ("A,Visita,service,,-100,21,,", "base_price", "mayor que cero"),
        ("A,Visita,service,,diez,21,,", "base_price", "no es un número válido"),
        ('A,Visita,service,,"1,234",21,,', "base_price", "más de 2 decimales"),
        ("A,Visita,service,,10.9999,21,,", "base_price", "más de 2 decimales"),
        ("A,Visita,service,,100,,,", "iva_rate", "Falta la alícuota"),
        ("A,Visita,service,,100,22,,", "iva_rate", "«22» no existe"),
        ("A,Visita,service,,100,0.21,,", "iva_rate", "no existe"),
        ("A,Visita,service,,100,veintiuno,,", "iva_rate", "no es un número válido"),
        ("A," + "x" * 201 + ",service,,100,21,,", "name", "más de 200 caracteres"),
        ("A" * 41 + ",Visita,service,,100,21,,", "code", "más de 40 caracteres"),
        ("A,Visita,service," + "u" * 21 + ",100,21,,", "unit", "La unidad tiene más de 20"),
        ("A,Visita,service,,100,21," + "9" * 41 + ",", "afip_product_code", "más de 40"),
        ("A,Visita,service,,100,21,," + "c" * 121, "category", "La categoría tiene más de 120"),
    ],
)
def test_bad_cells_are_reported_with_line_and_column(line: str, column: str, says: str) -> None:
    result = parse_pricebook_csv(csv_of(line))
    assert result.rows == []
    assert len(result.errors) == 1
    error = result.errors[0]
    assert (error.line, error.column) == (2, column)
    assert says in error.message_es


def test_every_bad_cell_of_every_bad_line_is_reported_and_good_lines_kept() -> None:
    result = parse_pricebook_csv(
        csv_of(
            "A,Visita,service,,100,21,,",
            ",,foo,,0,22,,",
            "B,Otro,material,,50,21,,",
            "C,Tercero,material,,abc,21,,",
        )
    )
    assert [r.code for r in result.rows] == ["A", "B"]
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "code"),
        (3, "name"),
        (3, "kind"),
        (3, "base_price"),
        (3, "iva_rate"),
        (5, "base_price"),
    ]


def test_duplicate_codes_are_reported_by_line() -> None:
    result = parse_pricebook_csv(
        csv_of(
            "A1,Visita,service,,100,21,,",
            "B1,Otro,material,,50,21,,",
            " a1 ,Visita bis,service,,120,21,,",  # same code, other case and spaces
            "A1,Visita ter,service,,130,21,,",
        )
    )
    assert [r.code for r in result.rows] == ["A1", "B1"]
    assert result.errors == [
        RowError(4, "code", "El código «a1» está repetido: ya aparece en la línea 2."),
        RowError(5, "code", "El código «A1» está repetido: ya aparece en la línea 2."),
    ]


def test_line_numbers_count_blank_lines_and_multiline_cells() -> None:
    text = csv_of("", 'A,"Visita\ncon dos líneas",service,,100,21,,', "", "B,Otro,material,,0,21,,")
    result = parse_pricebook_csv(text)
    assert result.rows[0].name == "Visita\ncon dos líneas"
    assert [(e.line, e.column) for e in result.errors] == [(6, "base_price")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [RowError(1, None, "El archivo está vacío.")]),
        ("  \n\n", [RowError(1, None, "El archivo está vacío.")]),
        (",,,\n,,\n", [RowError(1, None, "El archivo está vacío.")]),
        (csv_of(), [RowError(2, None, "El archivo no tiene filas de precios, sólo el encabezado.")]),
    ],
)
def test_empty_files(text: str, expected: list[RowError]) -> None:
    assert parse_pricebook_csv(text) == ParseResult([], expected)


@pytest.mark.parametrize(
    ("header", "column", "says"),
    [
        ("code,name,kind,base_price", "iva_rate", "Falta la columna «iva_rate»"),
        ("code,name,base_price,iva_rate", "kind", "Falta la columna «kind»"),
        ("code,name,kind,base_price,iva_rate,precio", "base_price", "repetida"),
        ("code,name,kind,base_price,iva_rate,stock", None, "«stock» no es conocida"),
    ],
)
def test_bad_headers_stop_the_parse(header: str, column: str | None, says: str) -> None:
    result = parse_pricebook_csv(csv_of("A,Visita,service,100,21", header=header))
    assert result.rows == []
    assert any(e.line == 1 and e.column == column and says in e.message_es for e in result.errors)


def test_extra_cells_and_cells_under_no_header() -> None:
    result = parse_pricebook_csv(
        csv_of(
            "A,Visita,service,100,21,",  # a trailing empty cell is fine
            "B,Otro,service,100,21,sobra",
            "C,Corto,service,100",  # too few cells: the missing ones are empty
            header="code,name,kind,base_price,iva_rate",
        )
    )
    assert [r.code for r in result.rows] == ["A"]
    assert [(e.line, e.column) for e in result.errors] == [(3, None), (4, "iva_rate")]


def test_broken_quotes_are_reported_not_raised() -> None:
    result = parse_pricebook_csv(csv_of('"A"x,Visita,service,,100,21,,', "B,Otro,material,,50,21,,"))
    assert [r.code for r in result.rows] == ["B"]
    assert [(e.line, e.column) for e in result.errors] == [(2, None)]
    unterminated = parse_pricebook_csv(csv_of("A,Visita,service,,100,21,,", 'B,"Otro,material,,50,21,,'))
    assert [r.code for r in unterminated.rows] == ["A"]
    assert [(e.line, e.column) for e in unterminated.errors] == [(3, None)]


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x00\x00",
        "code\n" + "\x00" * 10,
        '"',
        ",,,,\n,,,,",
        "code,name,kind,base_price,iva_rate\n" + ";" * 500,
        "code,name,kind,base_price,iva_rate\n" + "x" * 200_000,
        "\ufeff",
        "\r\r\r",
    ],
)
def test_garbage_never_raises(text: str) -> None:
    result = parse_pricebook_csv(text)
    assert result.errors and result.rows == []


def test_the_kind_also_in_spanish() -> None:
    result = parse_pricebook_csv(csv_of("A,Visita,SERVICIO,,100,21,,", "B,Caño,Material,,100,21,,"))
    assert [r.kind for r in result.rows] == [ItemKind.SERVICE, ItemKind.MATERIAL]


# --- export -------------------------------------------------------------------------------------

ROWS = [
    PriceBookRow("VIS-01", "Visita técnica", ItemKind.SERVICE, D("15000.00"), D("21.00"), "visita", None, "Plomería"),
    PriceBookRow("MAT-02", 'Caño PPN 1/2", 4 m; rosca', ItemKind.MATERIAL, D("1234.56"), D("10.50"), "unidad", "4011"),
    PriceBookRow("MAT-03", '=HYPERLINK("x")', ItemKind.MATERIAL, D("0.01"), D("2.50"), category="-Ofertas"),
    PriceBookRow("+54", "@mención", ItemKind.SERVICE, D("99999999.99"), D("0.00")),
    PriceBookRow("ML", "Línea\ncon salto", ItemKind.SERVICE, D("10.00"), D("27.00")),
    PriceBookRow("NET", "Visita neta", ItemKind.SERVICE, D("5"), D("5")),
    PriceBookRow("'=Q", "'Comillas'", ItemKind.SERVICE, D("1"), D("21"), category="''-x"),
]


@pytest.mark.parametrize("excel_ar", [False, True], ids=["standard", "excel_ar"])
def test_export_round_trips(excel_ar: bool) -> None:
    text = export_pricebook_csv(ROWS, excel_ar=excel_ar)
    result = parse_pricebook_csv(text)
    assert result.errors == []
    assert result.rows == ROWS


def test_export_format() -> None:
    text = export_pricebook_csv(ROWS[:1])
    assert text == f"{HEADER}\r\nVIS-01,Visita técnica,service,visita,15000.00,21,,Plomería\r\n"
    excel = export_pricebook_csv(ROWS[1:2], excel_ar=True)
    assert excel.startswith("\ufeffcode;name;")
    assert ";1234,56;10,5;4011;" in excel


def test_export_defuses_spreadsheet_formulas() -> None:
    text = export_pricebook_csv(ROWS[2:4])
    assert "'=HYPERLINK" in text and "'-Ofertas" in text and "'+54" in text and "'@mención" in text


def test_export_of_parsed_rows_is_stable() -> None:
    once = export_pricebook_csv(parse_pricebook_csv(export_pricebook_csv(ROWS)).rows)
    assert once == export_pricebook_csv(ROWS)
