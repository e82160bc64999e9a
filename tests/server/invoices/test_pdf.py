"""The printed invoice, read back the way a person or AFIP's app would: poppler's text and image of the page,
zbar scanning the QR. Needs poppler-utils (pdftotext, pdftoppm, pdfinfo, pdfimages) and zbar-tools."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from server.domain.invoices.pdf import InvoiceDocument, Line, render_invoice_pdf
from shared.fiscal.qr import decode_qr_url
from tests.server.invoices.pdf_samples import CAE, ISSUER_MONO_CUIT, ISSUER_RI_CUIT, RECEIVER_CUIT, make_document

TOOLS = ("pdftotext", "pdftoppm", "pdfinfo", "pdfimages", "zbarimg")


@pytest.fixture(autouse=True)
def _tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:  # fail, not skip: CI installs them (.ci/run), a skipped PDF test would hide a broken invoice
        pytest.fail(f"missing {', '.join(missing)}: apt-get install poppler-utils zbar-tools")


def ar(value: Decimal) -> str:
    """Argentine number format, written independently of the renderer: 1234.5 → 1.234,50."""
    return f"{value:,.2f}".translate(str.maketrans(",.", ".,"))


def pages_text(pdf: bytes) -> list[str]:
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return out.stdout.decode().split("\f")[:-1]


def page_count(pdf: bytes) -> int:
    out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    match = re.search(r"^Pages:\s+(\d+)", out, re.M)
    assert match
    return int(match.group(1))


def scan_qr_codes(pdf: bytes) -> list[list[str]]:
    """Every page at 150 dpi → PNG → zbar: the QR texts found on each page."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "invoice.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-png", "-r", "150", str(path), str(Path(tmp) / "page")], check=True)
        found = []
        for png in sorted(Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1])):
            out = subprocess.run(
                ["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(png)], capture_output=True, check=False
            )
            found.append([line for line in out.stdout.decode().splitlines() if line])
        return found


def squeeze(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


def test_qr_scans_to_the_rg4291_json_of_the_invoice() -> None:
    doc = make_document("A", lines=4, with_logo=True)
    codes = scan_qr_codes(render_invoice_pdf(doc))
    assert len(codes) == 1 and len(codes[0]) == 1
    url = codes[0][0]
    assert url.startswith("https://www.afip.gob.ar/fe/qr/?p=")
    assert decode_qr_url(url) == {
        "ver": 1,
        "fecha": "2026-11-20",
        "cuit": int(ISSUER_RI_CUIT),
        "ptoVta": 1,
        "tipoCmp": 1,
        "nroCmp": 123,
        "importe": doc.total,
        "moneda": "PES",
        "ctz": 1,
        "tipoDocRec": 80,
        "nroDocRec": int(RECEIVER_CUIT),
        "tipoCodAut": "E",
        "codAut": int(CAE),
    }
    assert doc.total == sum((line.total for line in doc.lines), Decimal(0))


def test_qr_of_a_consumidor_final_without_document() -> None:
    doc = make_document("B", lines=2, receiver_doc=(99, "0"))
    [[url]] = scan_qr_codes(render_invoice_pdf(doc))
    data = decode_qr_url(url)
    assert (data["tipoCmp"], data["tipoDocRec"], data["nroDocRec"], data["importe"]) == (6, 99, 0, doc.total)
    text = squeeze(pages_text(render_invoice_pdf(doc))[0])
    assert "Documento: -" in text and "Domicilio: -" in text


def test_factura_a_shows_every_mandatory_field() -> None:
    doc = make_document("A", lines=4, with_logo=True)
    [text] = [squeeze(page) for page in pages_text(render_invoice_pdf(doc))]
    for expected in (
        "ORIGINAL",
        "FACTURA",
        "COD. 01",
        "Punto de venta: 0001",
        "Comp. Nro: 00000123",
        "Nro. de comprobante: 0001-00000123",
        "Fecha de emisión: 20/11/2026",
        "Climatización Núñez",
        "Razón social: Climatización Núñez S.R.L.",
        "Domicilio comercial: Av. Corrientes 1550, Piso 3º, CABA",
        "Condición frente al IVA: IVA Responsable Inscripto",
        "CUIT: 30-71234567-1",
        "Ingresos Brutos: 901-123456-7",
        "Fecha de inicio de actividades: 01/03/2019",
        "Período facturado desde: 01/11/2026",
        "Hasta: 30/11/2026",
        "Fecha de vto. para el pago: 10/12/2026",
        "CUIT: 30-50001091-2",
        "Razón social: Consorcio Edificio Güemes 1234",
        "Domicilio: Av. Güemes 1234, Avellaneda, Buenos Aires",
        "Condición de venta: Contado",
        "Concepto: Servicios",
        f"CAE N°: {CAE}",
        "Fecha de vto. de CAE: 30/11/2026",
        "Pág. 1/1",
        "Alíc. IVA",
    ):
        assert expected in text, expected
    assert re.search(r"^\s*A\s+FACTURA", text, re.M)  # the letter in its box beside the receipt name
    # lines: net unit price, the rate, net and with-IVA subtotals
    for line in doc.lines:
        row = next(r for r in text.splitlines() if line.code in r)
        rate = f"{line.iva_rate.normalize():f}".replace(".", ",") + "%"
        for cell in (ar(line.unit_price), ar(line.subtotal), rate, ar(line.total), ar(line.quantity)):
            assert cell in row, (cell, row)
    # totals: net, IVA per rate (21 and 10.5 in this invoice), other taxes, total
    assert f"Importe neto gravado: $ {ar(doc.net_amount)}" in text
    rates = {vat.rate: vat.amount for vat in doc.vat}
    assert set(rates) == {Decimal("21"), Decimal("10.5")}
    assert f"IVA 21%: $ {ar(rates[Decimal('21')])}" in text
    assert f"IVA 10,5%: $ {ar(rates[Decimal('10.5')])}" in text
    assert f"Importe otros tributos: $ {ar(Decimal(0))}" in text
    assert f"Importe total: $ {ar(doc.total)}" in text
    assert "Ley 27.743" not in text
    assert doc.total > 1000 and "." in ar(doc.total) and "," in ar(doc.total)  # thousands and cents shown


def test_factura_b_shows_prices_with_iva_and_the_transparency_regime() -> None:
    doc = make_document("B", lines=4)
    [text] = [squeeze(page) for page in pages_text(render_invoice_pdf(doc))]
    for expected in ("COD. 06", "FACTURA", "DNI: 23.456.789", "Apellido y nombre / Razón social: María José Peña"):
        assert expected in text, expected
    assert "Condición frente al IVA: Consumidor Final" in text
    assert "Alíc. IVA" not in text and "IVA 21%" not in text and "Importe neto gravado" not in text
    for line in doc.lines:
        row = next(r for r in text.splitlines() if line.code in r)
        with_iva = (line.unit_price * (1 + line.iva_rate / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert ar(with_iva) in row and ar(line.total) in row, row
        assert ar(line.unit_price) not in row  # the net price is not what a consumer reads
    assert "Régimen de Transparencia Fiscal al Consumidor (Ley 27.743)" in text
    assert f"IVA contenido: $ {ar(doc.iva_amount)}" in text
    assert "Otros impuestos nacionales indirectos: $ 0,00" in text
    assert f"Importe total: $ {ar(doc.total)}" in text
    assert doc.iva_amount > 0


def test_factura_c_shows_no_iva_at_all() -> None:
    doc = make_document("C", lines=4)
    [text] = [squeeze(page) for page in pages_text(render_invoice_pdf(doc))]
    for expected in ("COD. 11", "Responsable Monotributo", "CUIT: 20-26756539-3", "Razón social: Peñaloza, Iñaki"):
        assert expected in text, expected
    assert "IVA contenido" not in text and "Ley 27.743" not in text and "Alíc. IVA" not in text
    assert "IVA 21%" not in text and "Importe neto gravado" not in text
    assert doc.total == doc.net_amount and doc.iva_amount == 0
    for line in doc.lines:
        row = next(r for r in text.splitlines() if line.code in r)
        assert ar(line.unit_price) in row and ar(line.subtotal) in row
    assert f"Importe total: $ {ar(doc.total)}" in text
    [[url]] = scan_qr_codes(render_invoice_pdf(doc))
    assert decode_qr_url(url)["cuit"] == int(ISSUER_MONO_CUIT) and decode_qr_url(url)["tipoCmp"] == 11


def test_credit_note_names_its_invoice() -> None:
    doc = dataclasses.replace(
        make_document("B", lines=1), receipt_type=8, receipt_name="", associated_receipt="Factura B 0001-00000122"
    )
    text = squeeze(pages_text(render_invoice_pdf(doc))[0])
    assert "NOTA DE CRÉDITO" in text and "COD. 08" in text
    assert "Comprobante asociado: Factura B 0001-00000122" in text


@pytest.mark.parametrize("count", [2, 3])
def test_copies_make_one_page_set_each(count: int) -> None:
    labels = ("ORIGINAL", "DUPLICADO", "TRIPLICADO")[:count]
    doc = make_document("A", lines=3)
    pdf = render_invoice_pdf(doc, copies=labels)
    pages = pages_text(pdf)
    assert page_count(pdf) == count == len(pages)
    for label, page in zip(labels, pages, strict=True):
        assert page.split("\n", 1)[0].strip() == label
        assert f"Importe total: $ {ar(doc.total)}" in squeeze(page)
        assert "Pág. 1/1" in page
    codes = scan_qr_codes(pdf)
    assert len({url for page in codes for url in page}) == 1 and all(len(page) == 1 for page in codes)


def test_thirty_five_lines_paginate_with_totals_on_the_last_page() -> None:
    doc = make_document("A", lines=35)
    pdf = render_invoice_pdf(doc, copies=("ORIGINAL", "DUPLICADO"))
    pages = [squeeze(page) for page in pages_text(pdf)]
    per_copy = len(pages) // 2
    assert per_copy >= 2 and len(pages) == 2 * per_copy == page_count(pdf)
    for copy, label in enumerate(("ORIGINAL", "DUPLICADO")):
        copy_pages = pages[copy * per_copy : (copy + 1) * per_copy]
        for n, page in enumerate(copy_pages, start=1):
            assert page.lstrip().startswith(label)
            assert f"Pág. {n}/{per_copy}" in page
            assert "CAE N°: " + CAE in page and "COD. 01" in page and "0001-00000123" in page
            last = n == per_copy
            assert ("Importe total: $" in page) is last
            assert ("Continúa en la página siguiente" in page) is not last
        joined = "\n".join(copy_pages)
        for i in range(1, 36):  # every line once per copy, in order
            assert joined.count(f"(ítem {i})") == 1, i
        positions = [joined.index(f"(ítem {i})") for i in range(1, 36)]
        assert positions == sorted(positions)
    assert all(len(codes) == 1 for codes in scan_qr_codes(pdf))  # the QR on every page


def test_long_descriptions_wrap_and_odd_characters_do_not_break_the_page() -> None:
    base = make_document("C", lines=1)
    line = dataclasses.replace(
        base.lines[0],
        description="Reparación urgente 🔧 de calefactor tiro balanceado — incluye limpieza del quemador, "
        "cambio de termocupla y prueba de hermeticidad según normas de ENARGAS; garantía 90 días",
    )
    doc = dataclasses.replace(base, lines=(line,))
    text = squeeze(pages_text(render_invoice_pdf(doc))[0])
    assert "Reparación urgente ? de calefactor" in text  # the emoji the font lacks becomes "?"
    assert "garantía 90 días" in text and "ENARGAS" in text


def test_point_of_sale_over_9999_takes_five_digits() -> None:
    doc = dataclasses.replace(make_document("C", lines=1), point_of_sale=12345, number=7)
    text = squeeze(pages_text(render_invoice_pdf(doc))[0])
    assert "Nro. de comprobante: 12345-00000007" in text


def test_logo_is_embedded_only_when_given() -> None:
    def images(doc: InvoiceDocument) -> int:
        out = subprocess.run(
            ["pdfimages", "-list", "-"], input=render_invoice_pdf(doc), capture_output=True, check=False
        )
        if out.returncode:  # older pdfimages cannot read stdin
            with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
                f.write(render_invoice_pdf(doc))
                f.flush()
                out = subprocess.run(["pdfimages", "-list", f.name], capture_output=True, check=True)
        return len(out.stdout.decode().splitlines()) - 2

    assert images(make_document("A", with_logo=True)) == 1
    assert images(make_document("A", with_logo=False)) == 0


def test_same_input_same_bytes() -> None:
    doc = make_document("B", lines=12, with_logo=True)
    first = render_invoice_pdf(doc, copies=("ORIGINAL", "DUPLICADO"))
    assert render_invoice_pdf(doc, copies=("ORIGINAL", "DUPLICADO")) == first
    assert render_invoice_pdf(dataclasses.replace(doc, number=124), copies=("ORIGINAL", "DUPLICADO")) != first


def test_refuses_a_document_it_cannot_print() -> None:
    doc = make_document("A", lines=1)
    with pytest.raises(ValueError):
        render_invoice_pdf(doc, copies=())
    with pytest.raises(ValueError):
        dataclasses.replace(doc, lines=())
    with pytest.raises(ValueError):
        dataclasses.replace(doc, receipt_type=99, letter="", receipt_name="")
    bad_line = Line(description="x", quantity=Decimal(1), unit_price=Decimal(1), subtotal=Decimal(1), total=Decimal(1))
    assert dataclasses.replace(doc, lines=(bad_line,)).lines == (bad_line,)


def test_an_unreadable_logo_is_left_out_and_long_names_are_cut_not_spilled() -> None:
    base = make_document("A", lines=1)
    issuer = dataclasses.replace(base.issuer, logo_png=b"\x89PNG\r\n\x1a\nnot really a png")
    receiver = dataclasses.replace(base.receiver, address="Ruta Provincial " * 20)
    pdf = render_invoice_pdf(dataclasses.replace(base, issuer=issuer, receiver=receiver))
    text = squeeze(pages_text(pdf)[0])
    assert "Climatización Núñez" in text and "Importe total: $" in text
    assert "Domicilio: Ruta Provincial" in text and "…" in text
    assert text.count("Ruta Provincial") < 20


def test_document_from_database_rows_prints_what_the_rows_hold() -> None:
    import datetime
    import uuid

    from server.db.models import Invoice, InvoiceLine, Organization
    from server.domain.invoices.pdf import document_from_records
    from shared.fiscal.invoicing import InvoiceLetter
    from shared.fiscal.iva import IvaCondition

    org = Organization(
        name="Refrigeración Ñuñoa S.A.",
        cuit=ISSUER_RI_CUIT,
        iva_condition=IvaCondition.RESPONSABLE_INSCRIPTO,
        gross_income_number="CM 901-000111-2",
        activity_start_date=datetime.date(2015, 6, 1),
        address="Belgrano 99, Córdoba",
        settings={"trade_name": "Frío Ñuñoa"},
    )
    item = uuid.uuid4()
    money = Decimal
    rows = [
        InvoiceLine(
            position=2,
            description="Carga de gas R410",
            quantity=money("1"),
            unit_price=money("30000.00"),
            discount=money("0"),
            iva_rate=money("10.50"),
            net_amount=money("30000.00"),
            iva_amount=money("3150.00"),
            total_amount=money("33150.00"),
            pricebook_item_id=None,
        ),
        InvoiceLine(
            position=1,
            description="Mantenimiento preventivo",
            quantity=money("2"),
            unit_price=money("50000.00"),
            discount=money("0"),
            iva_rate=money("21.00"),
            net_amount=money("100000.00"),
            iva_amount=money("21000.00"),
            total_amount=money("121000.00"),
            pricebook_item_id=item,
        ),
    ]
    invoice = Invoice(
        letter=InvoiceLetter.A, receipt_type=1, point_of_sale=3, number=42, issue_date=datetime.date(2026, 11, 24),
        concept=2, service_from=datetime.date(2026, 11, 1), service_to=datetime.date(2026, 11, 24),
        payment_due=datetime.date(2026, 12, 4), doc_type=80, doc_number=RECEIVER_CUIT, receiver_iva_condition_id=1,
        net_amount=money("130000.00"), untaxed_amount=money("0"), exempt_amount=money("0"),
        iva_amount=money("24150.00"), other_taxes_amount=money("0"), total_amount=money("154150.00"),
        currency="PES", exchange_rate=money("1"), cae=CAE, cae_due_date=datetime.date(2026, 12, 4),
    )  # fmt: skip
    doc = document_from_records(
        org, invoice, rows, customer_name="Hotel Los Álamos", line_codes={item: ("MANT-01", "visita")}
    )
    pdf = render_invoice_pdf(doc)
    text = squeeze(pages_text(pdf)[0])
    for expected in (
        "Frío Ñuñoa",
        "Razón social: Refrigeración Ñuñoa S.A.",
        "Ingresos Brutos: CM 901-000111-2",
        "Nro. de comprobante: 0003-00000042",
        "Razón social: Hotel Los Álamos",
        "Condición frente al IVA: IVA Responsable Inscripto",
        "IVA 21%: $ 21.000,00",
        "IVA 10,5%: $ 3.150,00",
        "Importe neto gravado: $ 130.000,00",
        "Importe total: $ 154.150,00",
    ):
        assert expected in text, expected
    assert text.index("MANT-01 Mantenimiento preventivo") < text.index("Carga de gas R410")  # by position
    assert "visita" in text
    [[url]] = scan_qr_codes(pdf)
    data = decode_qr_url(url)
    assert (data["ptoVta"], data["nroCmp"], data["importe"], data["fecha"]) == (
        3,
        42,
        Decimal("154150.00"),
        "2026-11-24",
    )
    invoice.cae = None
    with pytest.raises(ValueError, match="cae"):
        document_from_records(org, invoice, rows, customer_name="x")


def test_same_bytes_from_another_process() -> None:
    """Cacheable by content: hash randomisation or the clock never change the output."""
    import hashlib
    import os
    import sys

    script = (
        "import hashlib, sys\n"
        "from tests.server.invoices.pdf_samples import make_document\n"
        "from server.domain.invoices.pdf import render_invoice_pdf\n"
        "pdf = render_invoice_pdf(make_document('B', lines=12, with_logo=True), copies=('ORIGINAL', 'DUPLICADO'))\n"
        "sys.stdout.write(hashlib.sha256(pdf).hexdigest())\n"
    )
    here = render_invoice_pdf(make_document("B", lines=12, with_logo=True), copies=("ORIGINAL", "DUPLICADO"))
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, check=True, text=True)
    assert out.stdout == hashlib.sha256(here).hexdigest()


def test_a_dollar_invoice_says_so() -> None:
    doc = dataclasses.replace(make_document("B", lines=1), currency="DOL", exchange_rate=Decimal("1050.5"))
    text = squeeze(pages_text(render_invoice_pdf(doc))[0])
    assert "Moneda: DOL (cotización 1.050,50)" in text
    assert f"Importe total: US$ {ar(doc.total)}" in text and f"IVA contenido: US$ {ar(doc.iva_amount)}" in text
    [[url]] = scan_qr_codes(render_invoice_pdf(doc))
    assert (decode_qr_url(url)["moneda"], decode_qr_url(url)["ctz"]) == ("DOL", Decimal("1050.5"))
