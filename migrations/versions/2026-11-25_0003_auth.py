"""auth: sessions and refresh tokens (row-level security), users.joined_at, phone lookup policy

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:10:20.280839
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

from server.db.migrate import migration_app_role

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TENANT_EXPR = "nullif(current_setting('app.org_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("user_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("device_name", sa.String(length=120), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("last_used_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("expires_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("revoked_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_auth_sessions_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    op.create_index("ix_auth_sessions_user", "auth_sessions", ["org_id", "user_id"], unique=False)
    op.create_table(
        "refresh_tokens",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("session_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("used_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("replaced_by_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_refresh_tokens_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_refresh_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index("ix_refresh_tokens_session", "refresh_tokens", ["org_id", "session_id"], unique=False)
    op.add_column(
        "users", sa.Column("joined_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True)
    )

    role = migration_app_role()
    for table in ("auth_sessions", "refresh_tokens"):
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
    # Sign-in happens before any organisation is known: the auth service names the phone it looks
    # up in the transaction-local setting app.login_phone, and may read that user's row only.
    op.execute(
        "CREATE POLICY login_by_phone ON users FOR SELECT "
        "USING (phone = nullif(current_setting('app.login_phone', true), ''))"
    )
    # Sign-up checks that a CUIT is not taken the same way: only the named CUIT's row is readable.
    op.execute(
        "CREATE POLICY signup_by_cuit ON organizations FOR SELECT "
        "USING (cuit = nullif(current_setting('app.signup_cuit', true), ''))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS login_by_phone ON users")
    op.execute("DROP POLICY IF EXISTS signup_by_cuit ON organizations")
    op.drop_column("users", "joined_at")
    op.drop_index("ix_refresh_tokens_session", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index("ix_auth_sessions_user", table_name="auth_sessions")
    op.drop_table("auth_sessions")
