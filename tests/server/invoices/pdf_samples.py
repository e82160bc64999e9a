"""Invoice documents for the PDF tests and the PDF benchmark: A, B and C, any number of lines.

The totals are computed here the way the service does (Decimal, half-up per line), so the PDF shows
figures that add up exactly.
"""

from __future__ import annotations

import datetime
import io
from decimal import ROUND_HALF_UP, Decimal

from server.domain.invoices.pdf import InvoiceDocument, Issuer, Line, Receiver, VatAmount
from shared.fiscal.iva import IvaCondition

CENT = Decimal("0.01")
ISSUER_RI_CUIT = "30712345671"  # check digit valid (mod 11)
ISSUER_MONO_CUIT = "20267565393"
RECEIVER_CUIT = "30500010912"
CAE = "75123456789012"

CATALOGUE = (
    (
        "INST-01",
        "Instalación de aire acondicionado split 3000 frigorías",
        "unidad",
        Decimal("185000.00"),
        Decimal("21"),
    ),
    ("MAT-CU", 'Caño de cobre 1/4" y 3/8" (por metro)', "metro", Decimal("12500.50"), Decimal("21")),
    ("SERV-GAS", "Revisión de pérdida de gas con certificación", "servicio", Decimal("48000.00"), Decimal("21")),
    ("REP-TT", "Reparación de termotanque: válvula, ánodo y limpieza", "unidad", Decimal("36900.99"), Decimal("10.5")),
    ("VIAT", "Viático zona sur (Lanús, Banfield, Lomas de Zamora)", "viaje", Decimal("9500.00"), Decimal("21")),
)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def logo_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 80), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, 76, 76), fill=(20, 90, 160))
    draw.ellipse((100, 10, 160, 70), fill=(230, 120, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def make_document(
    letter: str = "A",
    *,
    lines: int = 3,
    number: int = 123,
    point_of_sale: int = 1,
    receipt_type: int | None = None,
    concept: int = 2,
    with_logo: bool = False,
    receiver_doc: tuple[int, str] | None = None,
    other_taxes: Decimal = Decimal("0"),
) -> InvoiceDocument:
    """A receipt of ``letter`` with ``lines`` lines taken round-robin from ``CATALOGUE``."""
    items = []
    vat: dict[Decimal, list[Decimal]] = {}
    for i in range(lines):
        code, description, unit, price, rate = CATALOGUE[i % len(CATALOGUE)]
        if letter == "C":
            rate = Decimal("0")
        quantity = Decimal(1 + i % 3) if unit != "metro" else Decimal("2.5")
        discount = Decimal("1000.00") if i % 4 == 3 else Decimal("0")
        subtotal = _money(quantity * price - discount)
        iva = _money(subtotal * rate / 100)
        items.append(
            Line(
                code=code,
                description=description if lines < 10 else f"{description} (ítem {i + 1})",
                quantity=quantity,
                unit=unit,
                unit_price=price,
                discount=discount,
                iva_rate=rate,
                subtotal=subtotal,
                total=subtotal + iva,
            )
        )
        base_amount = vat.setdefault(rate, [Decimal("0"), Decimal("0")])
        base_amount[0] += subtotal
        base_amount[1] += iva
    net = sum((line.subtotal for line in items), Decimal("0"))
    vat_lines = tuple(VatAmount(rate=r, base=b, amount=a) for r, (b, a) in vat.items()) if letter != "C" else ()
    iva_total = sum((v.amount for v in vat_lines), Decimal("0"))
    if letter == "A":
        receiver = Receiver(
            name="Consorcio Edificio Güemes 1234",
            doc_type=80,
            doc_number=RECEIVER_CUIT,
            iva_condition=IvaCondition.RESPONSABLE_INSCRIPTO,
            address="Av. Güemes 1234, Avellaneda, Buenos Aires",
        )
    else:
        doc_type, doc_number = receiver_doc or (96, "23456789")
        receiver = Receiver(
            name="María José Peña",
            doc_type=doc_type,
            doc_number=doc_number,
            iva_condition=IvaCondition.CONSUMIDOR_FINAL,
            address="Calle 12 Nº 345, La Plata" if doc_type != 99 else None,
        )
    issuer_ri = letter in ("A", "B")
    issue = datetime.date(2026, 11, 20)
    return InvoiceDocument(
        issuer=Issuer(
            name="Climatización Núñez" if issuer_ri else "Gasista Ñandú",
            legal_name="Climatización Núñez S.R.L." if issuer_ri else "Peñaloza, Iñaki",
            cuit=ISSUER_RI_CUIT if issuer_ri else ISSUER_MONO_CUIT,
            address="Av. Corrientes 1550, Piso 3º, CABA",
            iva_condition=IvaCondition.RESPONSABLE_INSCRIPTO if issuer_ri else IvaCondition.MONOTRIBUTISTA,
            gross_income="901-123456-7",
            activity_start=datetime.date(2019, 3, 1),
            logo_png=logo_png() if with_logo else None,
        ),
        receiver=receiver,
        receipt_type=receipt_type or {"A": 1, "B": 6, "C": 11}[letter],
        point_of_sale=point_of_sale,
        number=number,
        issue_date=issue,
        concept=concept,
        service_from=datetime.date(2026, 11, 1) if concept in (2, 3) else None,
        service_to=datetime.date(2026, 11, 30) if concept in (2, 3) else None,
        payment_due=datetime.date(2026, 12, 10) if concept in (2, 3) else None,
        lines=tuple(items),
        net_amount=net,
        iva_amount=iva_total,
        vat=vat_lines,
        other_taxes=other_taxes,
        total=net + iva_total + other_taxes,
        cae=CAE,
        cae_due_date=datetime.date(2026, 11, 30),
    )
