"""Envelope-encryption data keys and AFIP credentials

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

``data_keys`` (platform-wide, no tenant): one random data key a purpose (afip / mercadopago / pii /
general) and version, stored only wrapped under the master key (``server/lib/keys.py``); one active
version a purpose (unique partial index). The application role may SELECT (to decrypt) and INSERT (the
first version of a purpose is made on first use); rotation and re-wrapping run as the owner.

``afip_credentials`` (org-owned): the organisation's AFIP private key (sealed with the AFIP data key),
its CSR and the certificate AFIP returned, with its validity; one ``active`` a organisation (unique
partial index). ``afip_tickets`` (org-owned): the WSAA token and sign, sealed, one per CUIT and service.
Both: row-level security enabled and forced, the tenant_isolation policy, the updated_at trigger,
grants to the application role; ``created_by_id`` is a tenant foreign key to ``users``.
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

from server.db.migrate import migration_app_role

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TENANT_EXPR = "nullif(current_setting('app.org_id', true), '')::uuid"

NEW_TENANT_TABLES = ("afip_credentials", "afip_tickets")

# Tenant keys and tenant foreign keys this revision adds (0004 lists those of the earlier tables).
TENANT_PARENTS: tuple[str, ...] = ()
TENANT_FOREIGN_KEYS = (("afip_credentials", "created_by_id", "users", "SET NULL"),)


def _audit_columns(org_owned: bool = True) -> list[sa.Column]:
    columns = [sa.Column("org_id", sa.UUID(), nullable=False)] if org_owned else []
    return [
        *columns,
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    ]


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def upgrade() -> None:
    role = migration_app_role()

    # ------------------------------------------------------------------ data keys (platform-wide)
    op.create_table(
        "data_keys",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("purpose", sa.Enum("afip", "mercadopago", "pii", "general", name="data_key_purpose"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_by", sa.String(length=80), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_audit_columns(org_owned=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
        sa.UniqueConstraint("purpose", "version", name="uq_data_keys_purpose_version"),
    )
    op.create_index(
        "uq_data_keys_active_purpose", "data_keys", ["purpose"], unique=True, postgresql_where=sa.text("active")
    )
    op.execute(f"GRANT SELECT, INSERT ON data_keys TO {role}")
    op.execute(
        "CREATE TRIGGER data_keys_updated_at BEFORE UPDATE ON data_keys FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )

    # ------------------------------------------------------------------ AFIP credentials and tickets
    op.create_table(
        "afip_credentials",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("cuit", sa.String(length=11), nullable=False),
        sa.Column("alias", sa.String(length=50), nullable=False),
        sa.Column("key_encrypted", sa.Text(), nullable=False),
        sa.Column("csr_pem", sa.Text(), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=True),
        sa.Column("certificate_serial", sa.String(length=64), nullable=True),
        sa.Column("certificate_subject", sa.String(length=500), nullable=True),
        sa.Column("certificate_issuer", sa.String(length=500), nullable=True),
        sa.Column("not_before", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("not_after", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum("pending_certificate", "active", "expired", "replaced", name="afip_credential_status"),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.UUID(), nullable=True),
        *_audit_columns(),
        _org_fk("afip_credentials"),
        sa.ForeignKeyConstraint(
            ["org_id", "created_by_id"],
            ["users.org_id", "users.id"],
            name=op.f("fk_afip_credentials_created_by_id_users"),
            ondelete="SET NULL (created_by_id)",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_afip_credentials")),
    )
    op.create_index("ix_afip_credentials_org_created", "afip_credentials", ["org_id", "created_at"], unique=False)
    op.create_index(
        "uq_afip_credentials_org_active",
        "afip_credentials",
        ["org_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "afip_tickets",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("cuit", sa.String(length=11), nullable=False),
        sa.Column("service", sa.String(length=60), nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=False),
        sa.Column("sign_encrypted", sa.Text(), nullable=False),
        sa.Column("generated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        *_audit_columns(),
        _org_fk("afip_tickets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_afip_tickets")),
        sa.UniqueConstraint("org_id", "cuit", "service", name="uq_afip_tickets_org_cuit_service"),
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


def downgrade() -> None:
    op.drop_table("afip_tickets")
    op.drop_index("uq_afip_credentials_org_active", table_name="afip_credentials")
    op.drop_index("ix_afip_credentials_org_created", table_name="afip_credentials")
    op.drop_table("afip_credentials")
    op.execute("DROP TYPE IF EXISTS afip_credential_status")
    op.drop_index("uq_data_keys_active_purpose", table_name="data_keys")
    op.drop_table("data_keys")
    op.execute("DROP TYPE IF EXISTS data_key_purpose")
