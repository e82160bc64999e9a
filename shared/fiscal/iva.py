"""IVA conditions (condición frente al IVA)."""

from __future__ import annotations

from enum import StrEnum


class IvaCondition(StrEnum):
    RESPONSABLE_INSCRIPTO = "responsable_inscripto"
    MONOTRIBUTISTA = "monotributista"
    EXENTO = "exento"
    CONSUMIDOR_FINAL = "consumidor_final"
