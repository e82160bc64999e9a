"""security: application role grants, row-level security, updated_at, fiscal lock, audit chain

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Hand-written SQL. Every org-owned table gets ENABLE + FORCE row-level security with the policy
``org_id = nullif(current_setting('app.org_id', true), '')::uuid`` (the ``nullif`` matters: after a
transaction-local ``set_config`` ends, the setting reads ``''``, not NULL).
"""

from __future__ import annotations

from alembic import op

from server.db.migrate import migration_app_role

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_EXPR = "nullif(current_setting('app.org_id', true), '')::uuid"

# Every table with an org_id that belongs to an organisation. A test checks this list against the models.
ORG_OWNED_TABLES = (
    "afip_points_of_sale",
    "afip_sequences",
    "audit_log",
    "capability_overrides",
    "customer_addresses",
    "customers",
    "invoice_lines",
    "invoices",
    "job_assignments",
    "job_lines",
    "job_notes",
    "job_photos",
    "job_signatures",
    "job_status_events",
    "jobs",
    "payments",
    "price_book_categories",
    "price_book_items",
    "sync_operations",
    "users",
    "voice_notes",
    "whatsapp_messages",
)

TABLES_WITH_UPDATED_AT = (
    "afip_points_of_sale",
    "afip_sequences",
    "capability_overrides",
    "customer_addresses",
    "customers",
    "dead_letter_jobs",
    "invoice_lines",
    "invoices",
    "job_assignments",
    "job_lines",
    "job_photos",
    "job_signatures",
    "jobs",
    "organizations",
    "payments",
    "price_book_categories",
    "price_book_items",
    "sync_operations",
    "system_capabilities",
    "users",
    "voice_notes",
    "whatsapp_messages",
)

# Fields AFIP authorised: frozen once the invoice has a CAE.
INVOICE_FISCAL_FIELDS = (
    "customer_id",
    "associated_invoice_id",
    "letter",
    "receipt_type",
    "point_of_sale",
    "number",
    "issue_date",
    "concept",
    "service_from",
    "service_to",
    "payment_due",
    "doc_type",
    "doc_number",
    "receiver_iva_condition_id",
    "net_amount",
    "untaxed_amount",
    "exempt_amount",
    "iva_amount",
    "other_taxes_amount",
    "total_amount",
    "currency",
    "exchange_rate",
    "cae",
    "cae_due_date",
)


def _app_role() -> str:
    return migration_app_role()


def upgrade() -> None:
    role = _app_role()
    # The application role: created without login if the DBA has not made it yet.
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS;
          END IF;
        END $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    op.execute(f"REVOKE ALL ON alembic_version FROM {role}")
    # The audit log is append-only for the application.
    op.execute(f"REVOKE UPDATE, DELETE ON audit_log FROM {role}")

    # Row-level security on every org-owned table, and on organizations by its own id.
    for table in ORG_OWNED_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (org_id = {TENANT_EXPR}) WITH CHECK (org_id = {TENANT_EXPR})"
        )
    op.execute("ALTER TABLE organizations ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE organizations FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON organizations USING (id = {TENANT_EXPR}) WITH CHECK (id = {TENANT_EXPR})"
    )

    # updated_at maintained by the database too (raw SQL and bulk updates included).
    op.execute(
        """
        CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.updated_at := now();
          RETURN NEW;
        END $$;
        """
    )
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )

    # Fiscal lock: once an invoice has a CAE its fiscal fields, its lines and its existence are final.
    changed = " OR ".join(f"NEW.{f} IS DISTINCT FROM OLD.{f}" for f in INVOICE_FISCAL_FIELDS)
    op.execute(
        f"""
        CREATE FUNCTION invoices_fiscal_lock() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            IF OLD.cae IS NOT NULL THEN
              RAISE EXCEPTION 'invoice % has CAE %: it cannot be deleted', OLD.id, OLD.cae
                USING ERRCODE = 'CTF01';
            END IF;
            RETURN OLD;
          END IF;
          IF OLD.cae IS NOT NULL AND ({changed}) THEN
            RAISE EXCEPTION 'invoice % has CAE %: its fiscal fields cannot change', OLD.id, OLD.cae
              USING ERRCODE = 'CTF01';
          END IF;
          RETURN NEW;
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER invoices_fiscal_lock BEFORE UPDATE OR DELETE ON invoices "
        "FOR EACH ROW EXECUTE FUNCTION invoices_fiscal_lock()"
    )
    op.execute(
        """
        CREATE FUNCTION invoice_lines_fiscal_lock() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          parent_cae text;
        BEGIN
          SELECT cae INTO parent_cae FROM invoices
           WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.invoice_id ELSE OLD.invoice_id END;
          IF parent_cae IS NOT NULL THEN
            RAISE EXCEPTION 'the invoice has CAE %: its lines cannot change', parent_cae
              USING ERRCODE = 'CTF01';
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER invoice_lines_fiscal_lock BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines "
        "FOR EACH ROW EXECUTE FUNCTION invoice_lines_fiscal_lock()"
    )

    # Audit chain: each entry's hash covers the previous entry's hash of the same org.
    op.execute(
        """
        CREATE FUNCTION audit_entry_hash(
          p_prev text, p_org uuid, p_seq bigint, p_actor uuid, p_action text, p_entity_type text,
          p_entity_id uuid, p_before jsonb, p_after jsonb, p_created_at timestamptz
        ) RETURNS text LANGUAGE sql IMMUTABLE AS $$
          SELECT encode(sha256(convert_to(concat_ws('|',
            coalesce(p_prev, ''), p_org::text, p_seq::text, coalesce(p_actor::text, ''), p_action,
            p_entity_type, coalesce(p_entity_id::text, ''), coalesce(p_before::text, 'null'),
            coalesce(p_after::text, 'null'),
            to_char(p_created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          ), 'UTF8')), 'hex')
        $$;
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
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
    )
    op.execute(
        "CREATE TRIGGER audit_log_chain BEFORE INSERT OR UPDATE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_chain()"
    )
    # Walks one org's chain; returns the first broken link (no row when the chain is intact).
    op.execute(
        """
        CREATE FUNCTION audit_chain_verify(p_org uuid)
        RETURNS TABLE (entry_id uuid, seq bigint, reason text) LANGUAGE plpgsql STABLE AS $$
        DECLARE
          r record;
          previous text := NULL;
        BEGIN
          FOR r IN SELECT * FROM audit_log a WHERE a.org_id = p_org ORDER BY a.seq LOOP
            IF r.prev_hash IS DISTINCT FROM previous THEN
              entry_id := r.id; seq := r.seq; reason := 'prev_hash_mismatch';
              RETURN NEXT; RETURN;
            END IF;
            IF r.hash IS DISTINCT FROM audit_entry_hash(r.prev_hash, r.org_id, r.seq, r.actor_id, r.action,
                 r.entity_type, r.entity_id, r.before, r.after, r.created_at) THEN
              entry_id := r.id; seq := r.seq; reason := 'hash_mismatch';
              RETURN NEXT; RETURN;
            END IF;
            previous := r.hash;
          END LOOP;
        END $$;
        """
    )


def downgrade() -> None:
    role = _app_role()
    op.execute("DROP TRIGGER IF EXISTS audit_log_chain ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_chain_verify(uuid)")
    op.execute("DROP FUNCTION IF EXISTS audit_log_chain()")
    op.execute(
        "DROP FUNCTION IF EXISTS audit_entry_hash(text, uuid, bigint, uuid, text, text, uuid, jsonb, jsonb, timestamptz)"
    )
    op.execute("DROP TRIGGER IF EXISTS invoice_lines_fiscal_lock ON invoice_lines")
    op.execute("DROP FUNCTION IF EXISTS invoice_lines_fiscal_lock()")
    op.execute("DROP TRIGGER IF EXISTS invoices_fiscal_lock ON invoices")
    op.execute("DROP FUNCTION IF EXISTS invoices_fiscal_lock()")
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_updated_at ON {table}")
    op.execute("DROP FUNCTION IF EXISTS set_updated_at()")
    for table in (*ORG_OWNED_TABLES, "organizations"):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
