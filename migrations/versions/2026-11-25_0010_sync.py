"""Sync: a monotonic change sequence per organisation, tombstones and applied operations (filled in by the sync work)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25

Change tracking for offline sync (issue #7, ``server/domain/sync``):

- ``change_seq_heads``: one row an organisation; ``sync_next_seq(org)`` increments it and returns the next
  change sequence. The row stays locked until the writing transaction commits, so within one
  organisation changes commit in sequence order: a reader that sees the counter at N sees every change
  up to N (no gaps a pull could skip). ``pruned_seq``: tombstones up to it were pruned; an older cursor
  must reset.
- ``change_seq bigint`` on every synced table (jobs, customers, customer_addresses, price_book_items,
  job_notes, job_photos, job_signatures), set by a BEFORE INSERT/UPDATE trigger, indexed
  ``(org_id, change_seq)``; ``version`` on each (jobs had one): the trigger bumps it on an update that
  does not bump it itself, except on jobs, whose service bumps it once a change (a change flushed in
  several statements would otherwise count twice).
- A line or an assignment of a job changing touches the job (new ``change_seq``; the jobs service bumps
  the version itself): the job record embeds them, and a reassignment must reach the devices.
- ``sync_tombstones``: an AFTER DELETE trigger records (table, row id, change_seq) of every synced row;
  ``sync_prune_tombstones(before)`` drops old ones of every org and moves ``pruned_seq``.
- ``sync_conflicts``: conflicts the office sees and acknowledges.
Org-owned: row-level security enabled and forced, tenant_isolation, grants to the application role.
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from server.db.migrate import migration_app_role

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TENANT_EXPR = "nullif(current_setting('app.org_id', true), '')::uuid"

SYNCED_TABLES = (
    "jobs",
    "customers",
    "customer_addresses",
    "price_book_items",
    "job_notes",
    "job_photos",
    "job_signatures",
)
NEW_VERSIONED = tuple(t for t in SYNCED_TABLES if t != "jobs")
JOB_CHILDREN = ("job_lines", "job_assignments")
NEW_TABLES = ("change_seq_heads", "sync_tombstones", "sync_conflicts")


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=nullable)


def upgrade() -> None:
    guid = advanced_alchemy.types.guid.GUID(length=16)
    op.create_table(
        "change_seq_heads",
        sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pruned_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        _org_fk("change_seq_heads"),
        sa.PrimaryKeyConstraint("org_id", name="pk_change_seq_heads"),
    )
    op.create_table(
        "sync_tombstones",
        sa.Column("id", guid, nullable=False),
        sa.Column("table_name", sa.String(length=60), nullable=False),
        sa.Column("row_id", sa.UUID(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        _ts("deleted_at"),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        _org_fk("sync_tombstones"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_tombstones")),
    )
    op.create_index("ix_sync_tombstones_org_seq", "sync_tombstones", ["org_id", "change_seq"])
    op.create_table(
        "sync_conflicts",
        sa.Column("id", guid, nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=60), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("op_id", sa.UUID(), nullable=False),
        sa.Column("op", sa.String(length=60), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("device_data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("server_data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _ts("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by_id", sa.UUID(), nullable=True),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _org_fk("sync_conflicts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflicts")),
    )
    op.create_index("ix_sync_conflicts_org_open", "sync_conflicts", ["org_id", "acknowledged_at", "created_at"])

    for table in SYNCED_TABLES:
        op.add_column(table, sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False))
        op.create_index(f"ix_{table}_org_change_seq", table, ["org_id", "change_seq"])
    for table in NEW_VERSIONED:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))

    # SECURITY DEFINER: the counter and the tombstones are written for the row's own organisation,
    # also when a cascade (e.g. an organisation being deleted) runs outside any tenant context.
    op.execute(
        """
        CREATE FUNCTION sync_next_seq(p_org uuid) RETURNS bigint
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        DECLARE v bigint;
        BEGIN
          INSERT INTO change_seq_heads AS c (org_id, seq, pruned_seq)
          VALUES (p_org, 1, 0)
          ON CONFLICT (org_id) DO UPDATE SET seq = c.seq + 1
          RETURNING c.seq INTO v;
          RETURN v;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION sync_track_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'bump' AND NEW.change_seq IS NOT DISTINCT FROM OLD.change_seq
             AND NEW.version IS NOT DISTINCT FROM OLD.version THEN
            NEW.version := OLD.version + 1;
          END IF;
          NEW.change_seq := sync_next_seq(NEW.org_id);
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION sync_record_delete() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM organizations WHERE id = OLD.org_id) THEN
            INSERT INTO sync_tombstones (id, org_id, table_name, row_id, change_seq, deleted_at)
            VALUES (gen_random_uuid(), OLD.org_id, TG_TABLE_NAME, OLD.id, sync_next_seq(OLD.org_id), now());
          END IF;
          RETURN OLD;
        END $$
        """
    )
    # pruning (a periodic task): every org's old tombstones; cursors older than the last pruned reset
    op.execute(
        """
        CREATE FUNCTION sync_prune_tombstones(p_before timestamptz) RETURNS bigint
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        DECLARE n bigint;
        BEGIN
          WITH gone AS (DELETE FROM sync_tombstones WHERE deleted_at < p_before RETURNING org_id, change_seq),
               per_org AS (SELECT org_id, max(change_seq) AS last, count(*) AS removed FROM gone GROUP BY org_id),
               moved AS (UPDATE change_seq_heads h SET pruned_seq = greatest(h.pruned_seq, p.last)
                         FROM per_org p WHERE h.org_id = p.org_id RETURNING 1)
          SELECT coalesce(sum(removed), 0) INTO n FROM per_org;
          RETURN n;
        END $$
        """
    )
    # a line or assignment changed: the job (which embeds them) gets a new change_seq (-1 = "touch")
    op.execute(
        """
        CREATE FUNCTION sync_touch_job() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE r record;
        BEGIN
          IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
          UPDATE jobs SET change_seq = -1 WHERE org_id = r.org_id AND id = r.job_id;
          IF TG_OP = 'UPDATE' AND OLD.job_id IS DISTINCT FROM NEW.job_id THEN
            UPDATE jobs SET change_seq = -1 WHERE org_id = OLD.org_id AND id = OLD.job_id;
          END IF;
          RETURN NULL;
        END $$
        """
    )
    for table in SYNCED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_sync_change BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION sync_track_change('{'keep' if table == 'jobs' else 'bump'}')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_sync_delete AFTER DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sync_record_delete()"
        )
    for table in JOB_CHILDREN:
        op.execute(
            f"CREATE TRIGGER {table}_sync_touch_job AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sync_touch_job()"
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
        "CREATE TRIGGER sync_conflicts_updated_at BEFORE UPDATE ON sync_conflicts "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    for function in ("sync_next_seq(uuid)", "sync_prune_tombstones(timestamptz)"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {role}")


def downgrade() -> None:
    for table in JOB_CHILDREN:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_touch_job ON {table}")
    for table in SYNCED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_change ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_delete ON {table}")
        op.drop_index(f"ix_{table}_org_change_seq", table_name=table)
        op.drop_column(table, "change_seq")
    for table in NEW_VERSIONED:
        op.drop_column(table, "version")
    op.execute("DROP FUNCTION IF EXISTS sync_touch_job()")
    op.execute("DROP FUNCTION IF EXISTS sync_record_delete()")
    op.execute("DROP FUNCTION IF EXISTS sync_track_change()")
    op.execute("DROP FUNCTION IF EXISTS sync_prune_tombstones(timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS sync_next_seq(uuid)")
    op.drop_index("ix_sync_conflicts_org_open", table_name="sync_conflicts")
    op.drop_table("sync_conflicts")
    op.drop_index("ix_sync_tombstones_org_seq", table_name="sync_tombstones")
    op.drop_table("sync_tombstones")
    op.drop_table("change_seq_heads")
