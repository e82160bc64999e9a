"""Jobs: complexity level and how each line's price was derived; a note's device

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

``jobs.complexity`` (the ``complexity_level`` enum of 0005: normal / dificil / urgente) multiplies the
price of the job's service lines from the price book; rows written without one are ``normal``. ``job_lines``
records how its unit price came about: ``price_source`` ("manual" when typed in, else the price
book's ``base`` / ``zone_multiplier`` / ``zone_override``; rows written without one are ``manual``) and
``price_derivation`` (zone, complexity and the steps of the resolution). ``job_notes.device_id`` names
the device a note was written on (optional).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COMPLEXITY = postgresql.ENUM("normal", "dificil", "urgente", name="complexity_level", create_type=False)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("complexity", COMPLEXITY, nullable=False, server_default="normal"))
    op.add_column("job_lines", sa.Column("price_source", sa.String(length=20), nullable=False, server_default="manual"))
    op.add_column("job_lines", sa.Column("price_derivation", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("job_notes", sa.Column("device_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("job_notes", "device_id")
    op.drop_column("job_lines", "price_derivation")
    op.drop_column("job_lines", "price_source")
    op.drop_column("jobs", "complexity")
