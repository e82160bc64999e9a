"""Payments with Mercado Pago: connections, payments, refunds, disputes, webhook events, reconciliation (filled in by the payments work)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25

``payments`` gains the tenant key (refunds, disputes and links reference it), Mercado Pago's
``status_detail`` and ``provider_updated_at``, and a unique ``(org_id, external_id)`` in place of the
plain index: one row per Mercado Pago payment.

Org-owned, each with row-level security enabled and forced, the tenant_isolation policy, the updated_at
trigger and grants to the application role: ``mercadopago_connections`` (tokens sealed with the Mercado
Pago data key), ``payment_refunds``, ``payment_disputes``, ``payment_links``, ``payment_discrepancies``.

Platform-wide: ``mercadopago_webhook_events`` (a notification is stored before we know its organisation;
it holds ids and Mercado Pago's body, no secrets). The application role may SELECT, INSERT and UPDATE it.

Two SECURITY DEFINER functions (SELECT-only, narrow) answer what the application role cannot see under
row-level security before an organisation is known: ``mercadopago_org_for_user(mp_user_id)`` (whose
seller account a notification is about) and ``mercadopago_connected_orgs()`` (the organisations the
scheduled refresh and reconciliation visit, with their token expiry).
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from server.db.migrate import migration_app_role

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TENANT_EXPR = "nullif(current_setting('app.org_id', true), '')::uuid"

NEW_TENANT_TABLES = (
    "mercadopago_connections",
    "payment_refunds",
    "payment_disputes",
    "payment_links",
    "payment_discrepancies",
)

# Tenant keys and tenant foreign keys this revision adds (0004 lists those of the earlier tables).
TENANT_PARENTS: tuple[str, ...] = ("payments",)
TENANT_FOREIGN_KEYS = (
    ("mercadopago_connections", "connected_by_id", "users", "SET NULL"),
    ("payment_refunds", "payment_id", "payments", "CASCADE"),
    ("payment_refunds", "created_by_id", "users", "SET NULL"),
    ("payment_disputes", "payment_id", "payments", "CASCADE"),
    ("payment_links", "invoice_id", "invoices", "RESTRICT"),
    ("payment_links", "payment_id", "payments", "CASCADE"),
    ("payment_links", "created_by_id", "users", "SET NULL"),
    ("payment_discrepancies", "payment_id", "payments", "SET NULL"),
    ("payment_discrepancies", "resolved_by_id", "users", "SET NULL"),
)

ENUMS = {
    "refund_status": ("pending", "approved", "rejected"),
    "dispute_status": ("open", "documentation_sent", "won", "lost"),
    "payment_link_status": ("active", "paid", "expired", "replaced"),
    "payment_discrepancy_kind": ("missing_locally", "status_differs", "amount_differs"),
    "mercadopago_connection_status": ("active", "refresh_failed", "disconnected"),
}


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*ENUMS[name], name=name, create_type=False)


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=nullable)


def _audit_columns(org_owned: bool = True) -> list[sa.Column]:
    columns = [sa.Column("org_id", sa.UUID(), nullable=False)] if org_owned else []
    return [
        *columns,
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        _ts("created_at", False),
        _ts("updated_at", False),
    ]


def _id() -> sa.Column:
    return sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=14, scale=2), nullable=False)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def _tenant_fk(table: str, column: str, parent: str, ondelete: str) -> sa.ForeignKeyConstraint:
    action = f"SET NULL ({column})" if ondelete == "SET NULL" else ondelete
    return sa.ForeignKeyConstraint(
        ["org_id", column],
        [f"{parent}.org_id", f"{parent}.id"],
        name=op.f(f"fk_{table}_{column}_{parent}"),
        ondelete=action,
    )


def _fks(table: str) -> list[sa.ForeignKeyConstraint]:
    return [_tenant_fk(*fk) for fk in TENANT_FOREIGN_KEYS if fk[0] == table]


def upgrade() -> None:
    role = migration_app_role()
    bind = op.get_bind()
    for name, values in ENUMS.items():
        postgresql.ENUM(*values, name=name).create(bind)

    # ------------------------------------------------------------------ payments: tenant key, MP fields
    op.create_unique_constraint(op.f("uq_payments_org_id_id"), "payments", ["org_id", "id"])
    op.add_column("payments", sa.Column("status_detail", sa.String(length=80), nullable=True))
    op.add_column("payments", _ts("provider_updated_at"))
    op.drop_index("ix_payments_external", table_name="payments")
    op.create_index(
        "uq_payments_external",
        "payments",
        ["org_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )

    # ------------------------------------------------------------------ org-owned tables
    op.create_table(
        "mercadopago_connections",
        _id(),
        sa.Column("mp_user_id", sa.String(length=40), nullable=False),
        sa.Column("access_token_encrypted", sa.Text(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("public_key", sa.String(length=120), nullable=True),
        sa.Column("scope", sa.String(length=200), nullable=True),
        _ts("expires_at"),
        _ts("refreshed_at"),
        sa.Column("status", _enum("mercadopago_connection_status"), nullable=False),
        sa.Column("connected_by_id", sa.UUID(), nullable=True),
        *_audit_columns(),
        _org_fk("mercadopago_connections"),
        *_fks("mercadopago_connections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mercadopago_connections")),
        sa.UniqueConstraint("org_id", name="uq_mercadopago_connections_org"),
    )
    op.create_index("ix_mercadopago_connections_user", "mercadopago_connections", ["mp_user_id"], unique=False)

    op.create_table(
        "payment_refunds",
        _id(),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        _money("amount"),
        sa.Column("status", _enum("refund_status"), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("created_by_id", sa.UUID(), nullable=True),
        *_audit_columns(),
        _org_fk("payment_refunds"),
        *_fks("payment_refunds"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
    )
    op.create_index("ix_payment_refunds_payment", "payment_refunds", ["org_id", "payment_id"], unique=False)
    op.create_index(
        "uq_payment_refunds_external",
        "payment_refunds",
        ["org_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )

    op.create_table(
        "payment_disputes",
        _id(),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("status", _enum("dispute_status"), nullable=False),
        _money("amount"),
        _ts("documentation_deadline"),
        sa.Column("evidence_notes", sa.Text(), nullable=True),
        sa.Column("provider_status", sa.String(length=60), nullable=True),
        _ts("resolved_at"),
        *_audit_columns(),
        _org_fk("payment_disputes"),
        *_fks("payment_disputes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_disputes")),
    )
    op.create_index("ix_payment_disputes_payment", "payment_disputes", ["org_id", "payment_id"], unique=False)
    op.create_index(
        "uq_payment_disputes_external",
        "payment_disputes",
        ["org_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )

    op.create_table(
        "payment_links",
        _id(),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("preference_id", sa.String(length=120), nullable=False),
        sa.Column("init_point", sa.String(length=500), nullable=False),
        sa.Column("sandbox_init_point", sa.String(length=500), nullable=True),
        _money("amount"),
        sa.Column("max_installments", sa.Integer(), nullable=True),
        _ts("expires_at"),
        sa.Column("status", _enum("payment_link_status"), nullable=False),
        sa.Column("created_by_id", sa.UUID(), nullable=True),
        *_audit_columns(),
        _org_fk("payment_links"),
        *_fks("payment_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_links")),
    )
    op.create_index("ix_payment_links_invoice", "payment_links", ["org_id", "invoice_id", "created_at"], unique=False)

    op.create_table(
        "payment_discrepancies",
        _id(),
        sa.Column("kind", _enum("payment_discrepancy_kind"), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("auto_fixed", sa.Boolean(), nullable=False),
        _ts("resolved_at"),
        sa.Column("resolved_by_id", sa.UUID(), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=True),
        *_audit_columns(),
        _org_fk("payment_discrepancies"),
        *_fks("payment_discrepancies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_discrepancies")),
    )
    op.create_index(
        "uq_payment_discrepancies_open",
        "payment_discrepancies",
        ["org_id", "kind", "external_id"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index(
        "ix_payment_discrepancies_org_created", "payment_discrepancies", ["org_id", "created_at"], unique=False
    )

    for table in NEW_TENANT_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (org_id = {TENANT_EXPR}) WITH CHECK (org_id = {TENANT_EXPR})"
        )
        op.execute(
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )

    # ------------------------------------------------------------------ webhook events (platform-wide)
    op.create_table(
        "mercadopago_webhook_events",
        _id(),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("data_id", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=True),
        sa.Column("mp_user_id", sa.String(length=40), nullable=True),
        sa.Column("org_hint", sa.UUID(), nullable=True),
        sa.Column("org_id", sa.UUID(), nullable=True),
        sa.Column("live_mode", sa.Boolean(), nullable=True),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        _ts("first_received_at", False),
        _ts("last_received_at", False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        _ts("processed_at"),
        sa.Column("outcome", sa.String(length=60), nullable=True),
        sa.Column("changes", sa.Integer(), nullable=False),
        *_audit_columns(org_owned=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mercadopago_webhook_events")),
        sa.UniqueConstraint("topic", "data_id", name="uq_mercadopago_webhook_events_topic_data"),
    )
    op.create_index(
        "ix_mercadopago_webhook_events_pending",
        "mercadopago_webhook_events",
        ["pending", "last_received_at"],
        unique=False,
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON mercadopago_webhook_events TO {role}")
    op.execute(
        "CREATE TRIGGER mercadopago_webhook_events_updated_at BEFORE UPDATE ON mercadopago_webhook_events "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )

    # ------------------------------------------------------------------ lookups before an org is known
    op.execute(
        """
        CREATE FUNCTION mercadopago_org_for_user(p_mp_user_id text) RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT org_id FROM mercadopago_connections
            WHERE mp_user_id = p_mp_user_id AND status <> 'disconnected'
            ORDER BY updated_at DESC LIMIT 1
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION mercadopago_connected_orgs() RETURNS TABLE (org_id uuid, expires_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT org_id, expires_at FROM mercadopago_connections WHERE status = 'active' ORDER BY org_id
        $$
        """
    )
    for function in ("mercadopago_org_for_user(text)", "mercadopago_connected_orgs()"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS mercadopago_connected_orgs()")
    op.execute("DROP FUNCTION IF EXISTS mercadopago_org_for_user(text)")
    op.drop_index("ix_mercadopago_webhook_events_pending", table_name="mercadopago_webhook_events")
    op.drop_table("mercadopago_webhook_events")
    for table in reversed(NEW_TENANT_TABLES):
        op.drop_table(table)
    op.drop_index("uq_payments_external", table_name="payments")
    op.create_index("ix_payments_external", "payments", ["org_id", "external_id"], unique=False)
    op.drop_column("payments", "provider_updated_at")
    op.drop_column("payments", "status_detail")
    op.drop_constraint(op.f("uq_payments_org_id_id"), "payments", type_="unique")
    bind = op.get_bind()
    for name in reversed(list(ENUMS)):
        postgresql.ENUM(name=name).drop(bind, checkfirst=True)
