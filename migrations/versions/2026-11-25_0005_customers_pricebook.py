"""customers search and uniqueness; regional price lists and complexity multipliers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Customers: ``search_name`` is a generated column, the name lower-cased and accent-folded with
``translate()`` (the server has pg_trgm but not unaccent), indexed with a GIN trigram index that replaces
the one on the raw name: search is typo-tolerant ("Gonzales" finds "González") and accent-insensitive. A
phone belongs to one live (not archived) customer of an organisation: unique partial index. A customer
has at most one default address: unique partial index.

Price book: ``price_lists`` (one a zone: a multiplier for the zone), ``price_list_items`` (the zone's own
price for an item) and ``complexity_multipliers`` (the org's normal/difícil/urgente factors; a level
without a row uses the default of ``shared.pricing``). Org-owned: row-level security enabled and forced,
the tenant_isolation policy, the updated_at trigger, grants to the application role; references between
them are tenant foreign keys ``(org_id, x) → parent (org_id, id)``.
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

from server.db.migrate import migration_app_role

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TENANT_EXPR = "nullif(current_setting('app.org_id', true), '')::uuid"

FOLD_FROM = "áàâäãéèêëíìîïóòôöõúùûüñçÁÀÂÄÃÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÑÇ"
FOLD_TO = "aaaaaeeeeiiiiooooouuuuncaaaaaeeeeiiiiooooouuuunc"

NEW_TABLES = ("price_lists", "price_list_items", "complexity_multipliers")

# Tenant keys and tenant foreign keys this revision adds (0004 lists those of the earlier tables).
TENANT_PARENTS = ("price_lists",)
TENANT_FOREIGN_KEYS = (
    ("price_list_items", "item_id", "price_book_items", "CASCADE"),
    ("price_list_items", "price_list_id", "price_lists", "CASCADE"),
)


def _audit_columns() -> list[sa.Column]:
    return [
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    ]


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def upgrade() -> None:
    # ------------------------------------------------------------------ customers
    op.add_column(
        "customers",
        sa.Column(
            "search_name",
            sa.String(length=200),
            sa.Computed(f"translate(lower(name), '{FOLD_FROM}', '{FOLD_TO}')", persisted=True),
            nullable=False,
        ),
    )
    op.drop_index("ix_customers_name_trgm", table_name="customers", postgresql_using="gin")
    op.create_index(
        "ix_customers_search_name_trgm",
        "customers",
        ["search_name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    )
    op.drop_index("ix_customers_org_phone", table_name="customers")
    op.create_index(
        "ix_customers_org_phone",
        "customers",
        ["org_id", "phone"],
        unique=True,
        postgresql_where=sa.text("archived_at IS NULL AND phone IS NOT NULL"),
    )
    op.create_index(
        "uq_customer_addresses_default",
        "customer_addresses",
        ["org_id", "customer_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )

    # ------------------------------------------------------------------ price lists and multipliers
    op.create_table(
        "price_lists",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("zone", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("multiplier", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        *_audit_columns(),
        _org_fk("price_lists"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_lists")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_price_lists_org_id_id")),
        sa.UniqueConstraint("org_id", "zone", name="uq_price_lists_org_zone"),
    )
    op.create_table(
        "price_list_items",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("price_list_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("item_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("price", sa.Numeric(precision=14, scale=2), nullable=False),
        *_audit_columns(),
        _org_fk("price_list_items"),
        sa.ForeignKeyConstraint(
            ["org_id", "price_list_id"],
            ["price_lists.org_id", "price_lists.id"],
            name=op.f("fk_price_list_items_price_list_id_price_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "item_id"],
            ["price_book_items.org_id", "price_book_items.id"],
            name=op.f("fk_price_list_items_item_id_price_book_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_list_items")),
        sa.UniqueConstraint("org_id", "price_list_id", "item_id", name="uq_price_list_items_org_list_item"),
    )
    op.create_index("ix_price_list_items_item", "price_list_items", ["org_id", "item_id"], unique=False)
    op.create_table(
        "complexity_multipliers",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("level", sa.Enum("normal", "dificil", "urgente", name="complexity_level"), nullable=False),
        sa.Column("multiplier", sa.Numeric(precision=6, scale=4), nullable=False),
        *_audit_columns(),
        _org_fk("complexity_multipliers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complexity_multipliers")),
        sa.UniqueConstraint("org_id", "level", name="uq_complexity_multipliers_org_level"),
    )

    role = migration_app_role()
    for table in NEW_TABLES:
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
    op.drop_table("complexity_multipliers")
    op.execute("DROP TYPE IF EXISTS complexity_level")
    op.drop_index("ix_price_list_items_item", table_name="price_list_items")
    op.drop_table("price_list_items")
    op.drop_table("price_lists")

    op.drop_index("uq_customer_addresses_default", table_name="customer_addresses")
    op.drop_index("ix_customers_org_phone", table_name="customers")
    op.create_index("ix_customers_org_phone", "customers", ["org_id", "phone"], unique=False)
    op.drop_index("ix_customers_search_name_trgm", table_name="customers", postgresql_using="gin")
    op.drop_column("customers", "search_name")
    op.create_index(
        "ix_customers_name_trgm",
        "customers",
        ["name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
