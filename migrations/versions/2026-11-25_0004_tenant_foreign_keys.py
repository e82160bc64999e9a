"""tenant foreign keys (same-organisation references) and per-organisation audit chain heads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Foreign keys ignore row-level security: with ``jobs.customer_id → customers.id`` org A could insert a job
(its own ``org_id``) pointing at org B's customer. Every reference from one org-owned row to another now
goes through the tenant key: the parent gets ``UNIQUE (org_id, id)`` and the foreign key becomes
``(org_id, customer_id) → customers (org_id, id)``, which no row of another organisation can satisfy. The
ON DELETE actions are kept; ``SET NULL`` becomes ``SET NULL (customer_id)`` (PostgreSQL 15+), so only the
reference is nulled, never ``org_id``. Constraint names do not change. References to ``organizations``
(each table's ``org_id``) stay as they are.

The audit chain trigger read the previous hash with a plain SELECT (under an advisory lock): under
REPEATABLE READ or SERIALIZABLE that SELECT sees the transaction's snapshot, possibly older than the
chain's end, and the chain forks. Now each organisation's chain end lives in ``audit_chain_heads`` and the
trigger moves it with ``INSERT … ON CONFLICT DO UPDATE … RETURNING``: a row lock (writers of one
organisation append one at a time) that reads the row's latest version, and raises a serialization
failure (40001) under REPEATABLE READ / SERIALIZABLE when another transaction moved it after the snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.db.migrate import migration_app_role

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TENANT_EXPR = "nullif(current_setting('app.org_id', true), '')::uuid"

# Org-owned tables that other org-owned rows reference: each gets UNIQUE (org_id, id).
TENANT_PARENTS = (
    "auth_sessions",
    "customer_addresses",
    "customers",
    "invoices",
    "jobs",
    "price_book_categories",
    "price_book_items",
    "users",
    "whatsapp_messages",
)

# Every foreign key from an org-owned table to another org-owned table: (table, column, parent, ON DELETE).
# A test checks this list against the models and the live database.
TENANT_FOREIGN_KEYS = (
    ("auth_sessions", "user_id", "users", "CASCADE"),
    ("customer_addresses", "customer_id", "customers", "CASCADE"),
    ("invoice_lines", "invoice_id", "invoices", "CASCADE"),
    ("invoice_lines", "pricebook_item_id", "price_book_items", "SET NULL"),
    ("invoices", "associated_invoice_id", "invoices", "RESTRICT"),
    ("invoices", "customer_id", "customers", "RESTRICT"),
    ("invoices", "job_id", "jobs", "SET NULL"),
    ("job_assignments", "job_id", "jobs", "CASCADE"),
    ("job_assignments", "technician_id", "users", "CASCADE"),
    ("job_lines", "job_id", "jobs", "CASCADE"),
    ("job_lines", "pricebook_item_id", "price_book_items", "SET NULL"),
    ("job_notes", "author_id", "users", "SET NULL"),
    ("job_notes", "job_id", "jobs", "CASCADE"),
    ("job_photos", "job_id", "jobs", "CASCADE"),
    ("job_photos", "uploaded_by_id", "users", "SET NULL"),
    ("job_signatures", "job_id", "jobs", "CASCADE"),
    ("job_status_events", "actor_id", "users", "SET NULL"),
    ("job_status_events", "job_id", "jobs", "CASCADE"),
    ("jobs", "address_id", "customer_addresses", "SET NULL"),
    ("jobs", "created_by_id", "users", "SET NULL"),
    ("jobs", "customer_id", "customers", "RESTRICT"),
    ("payments", "invoice_id", "invoices", "RESTRICT"),
    ("payments", "recorded_by_id", "users", "SET NULL"),
    ("price_book_categories", "parent_id", "price_book_categories", "SET NULL"),
    ("price_book_items", "category_id", "price_book_categories", "SET NULL"),
    ("refresh_tokens", "session_id", "auth_sessions", "CASCADE"),
    ("users", "invited_by_id", "users", "SET NULL"),
    ("voice_notes", "customer_id", "customers", "SET NULL"),
    ("voice_notes", "job_id", "jobs", "SET NULL"),
    ("voice_notes", "reviewed_by_id", "users", "SET NULL"),
    ("voice_notes", "whatsapp_message_id", "whatsapp_messages", "SET NULL"),
    ("whatsapp_messages", "customer_id", "customers", "SET NULL"),
)


def _fk_name(table: str, column: str, parent: str) -> str:
    return f"fk_{table}_{column}_{parent}"


def _tenant_action(column: str, ondelete: str) -> str:
    return f"SET NULL ({column})" if ondelete == "SET NULL" else ondelete


# The chain trigger of 0002 (restored by downgrade) and the one that replaces it.
AUDIT_LOG_CHAIN_0002 = """
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous text;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'CTA01';
  END IF;
  -- one writer per organisation at a time, so two entries never share a predecessor
  PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || NEW.org_id::text, 0));
  -- seq is drawn again under the lock, so seq order is chain order: the default was drawn
  -- before waiting, and entries committed meanwhile would otherwise sort after this one
  NEW.seq := nextval(pg_get_serial_sequence('audit_log', 'seq'));
  SELECT hash INTO previous FROM audit_log WHERE org_id = NEW.org_id ORDER BY seq DESC LIMIT 1;
  NEW.created_at := coalesce(NEW.created_at, now());
  NEW.prev_hash := previous;
  NEW.hash := audit_entry_hash(previous, NEW.org_id, NEW.seq, NEW.actor_id, NEW.action,
                               NEW.entity_type, NEW.entity_id, NEW.before, NEW.after, NEW.created_at);
  RETURN NEW;
END $$;
"""

AUDIT_LOG_CHAIN_0004 = """
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous text;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'CTA01';
  END IF;
  -- Take the organisation's chain head (created on its first entry). The upsert locks the head row
  -- until this transaction ends, so the organisation's writers append one at a time; it returns the
  -- row's latest committed version, not this transaction's snapshot; and under REPEATABLE READ or
  -- SERIALIZABLE, a head moved by a transaction this snapshot does not see raises a serialization
  -- failure (40001: retry the transaction) instead of chaining onto a stale predecessor.
  INSERT INTO audit_chain_heads AS h (org_id, last_seq, last_hash) VALUES (NEW.org_id, 0, NULL)
  ON CONFLICT (org_id) DO UPDATE SET last_seq = h.last_seq
  RETURNING h.last_hash INTO previous;
  -- seq is drawn again under the head's lock, so seq order is chain order: the default was drawn
  -- before waiting, and entries committed meanwhile would otherwise sort after this one
  NEW.seq := nextval(pg_get_serial_sequence('audit_log', 'seq'));
  NEW.created_at := coalesce(NEW.created_at, now());
  NEW.prev_hash := previous;
  NEW.hash := audit_entry_hash(previous, NEW.org_id, NEW.seq, NEW.actor_id, NEW.action,
                               NEW.entity_type, NEW.entity_id, NEW.before, NEW.after, NEW.created_at);
  UPDATE audit_chain_heads SET last_seq = NEW.seq, last_hash = NEW.hash WHERE org_id = NEW.org_id;
  RETURN NEW;
END $$;
"""


def upgrade() -> None:
    role = migration_app_role()

    # ------------------------------------------------------------------ tenant foreign keys
    for parent in TENANT_PARENTS:
        op.create_unique_constraint(op.f(f"uq_{parent}_org_id_id"), parent, ["org_id", "id"])
    # (existing rows pointing at another organisation's row make this fail: they must be fixed by hand)
    for table, column, parent, ondelete in TENANT_FOREIGN_KEYS:
        name = op.f(_fk_name(table, column, parent))
        op.drop_constraint(name, table, type_="foreignkey")
        op.create_foreign_key(
            name, table, parent, ["org_id", column], ["org_id", "id"], ondelete=_tenant_action(column, ondelete)
        )

    # ------------------------------------------------------------------ audit chain heads
    op.create_table(
        "audit_chain_heads",
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.Text(), nullable=True),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_audit_chain_heads_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name="pk_audit_chain_heads"),
    )
    # Each organisation's existing chain end. audit_log forces row-level security on its owner too, so
    # the owner (a migration need not run as a superuser) reads it with FORCE lifted for this statement.
    op.execute("ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "INSERT INTO audit_chain_heads (org_id, last_seq, last_hash) "
        "SELECT DISTINCT ON (org_id) org_id, seq, hash FROM audit_log ORDER BY org_id, seq DESC"
    )
    op.execute("ALTER TABLE audit_log FORCE ROW LEVEL SECURITY")

    # Written by the chain trigger, which runs as the application role: row-level security as everywhere
    # else; no DELETE (dropping a head would restart the chain).
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO {role}")
    op.execute("ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON audit_chain_heads "
        f"USING (org_id = {TENANT_EXPR}) WITH CHECK (org_id = {TENANT_EXPR})"
    )
    op.execute(AUDIT_LOG_CHAIN_0004)


def downgrade() -> None:
    op.execute(AUDIT_LOG_CHAIN_0002)
    op.drop_table("audit_chain_heads")  # its policy and grants go with it

    for table, column, parent, ondelete in TENANT_FOREIGN_KEYS:
        name = op.f(_fk_name(table, column, parent))
        op.drop_constraint(name, table, type_="foreignkey")
        op.create_foreign_key(name, table, parent, [column], ["id"], ondelete=ondelete)
    for parent in TENANT_PARENTS:
        op.drop_constraint(op.f(f"uq_{parent}_org_id_id"), parent, type_="unique")
