"""Jobs: one page of the job list in one round trip

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

``jobs_list_page(...)`` (plpgsql, SECURITY INVOKER: row-level security applies to the caller, the
application role) sets the tenant context of its own transaction (``set_config(..., true)``: called as
one statement outside any explicit transaction, the setting ends with it), counts the jobs that match and
returns the page as the JSON text of ``shared.schemas.jobs.JobPage``, byte for byte what msgspec writes
for it (compact, camelCase, UTC instants as ``...Z`` with microseconds only when non-zero, written by
``jobs_json_ts``), each job's technician ids in assignment order.

The day filter has a branch of its own whose plan is cached (``plan_cache_mode`` forced to generic for
the function's transaction): one index range scan of ``ix_jobs_org_start`` (the tenant's id and
same-type timestamptz bounds) for every day, where re-planning each call cost more than running it.
Without a day, the planner plans each call for the filters given (customer, status indexes). The caller's scope
(``p_own``: a technician sees only the jobs assigned to them) is a parameter the server sets from the
token, never from the query string. It grants nothing new: the application role could already set its
tenant context and read these tables.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SIGNATURE = "jobs_list_page(uuid, uuid, uuid, job_status[], timestamptz, timestamptz, uuid, uuid, bigint, bigint)"

ORDER = "{t}.scheduled_start ASC NULLS LAST, {t}.created_at DESC, {t}.id"

FILTERS = """
    (p_own IS NULL OR EXISTS (
       SELECT 1 FROM job_assignments a WHERE a.job_id = j.id AND a.technician_id = p_own))
    AND (p_technician IS NULL OR EXISTS (
       SELECT 1 FROM job_assignments a WHERE a.job_id = j.id AND a.technician_id = p_technician))
    AND (p_status IS NULL OR j.status = ANY (p_status))
    AND (p_customer IS NULL OR j.customer_id = p_customer)
"""

DAY = " AND j.scheduled_start >= p_start AND j.scheduled_start < p_end"


JSON_TS = """
CREATE FUNCTION jobs_json_ts(t timestamptz) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN t IS NULL THEN 'null' ELSE
    '"' || to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN extract(microseconds FROM t)::bigint % 1000000 = 0 THEN ''
            ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
    || 'Z"' END
$$
"""

ITEM = """
  '{"id":' || to_json(p.id)::text
  || ',"customerId":' || to_json(p.customer_id)::text
  || ',"addressId":' || coalesce(to_json(p.address_id)::text, 'null')
  || ',"title":' || to_json(p.title)::text
  || ',"serviceType":' || coalesce(to_json(p.service_type)::text, 'null')
  || ',"priority":' || to_json(p.priority)::text
  || ',"status":' || to_json(p.status)::text
  || ',"scheduledStart":' || jobs_json_ts(p.scheduled_start)
  || ',"scheduledEnd":' || jobs_json_ts(p.scheduled_end)
  || ',"technicianIds":' || coalesce(
       (SELECT '[' || string_agg(to_json(a.technician_id)::text, ',' ORDER BY a.created_at, a.technician_id) || ']'
          FROM job_assignments a WHERE a.job_id = p.id), '[]')
  || ',"version":' || p.version
  || ',"createdAt":' || jobs_json_ts(p.created_at)
  || ',"updatedAt":' || jobs_json_ts(p.updated_at)
  || '}'
"""


def _page(where: str) -> str:
    return f"""
    SELECT count(*) INTO v_total FROM jobs j WHERE {where};
    SELECT coalesce(string_agg({ITEM}, ',' ORDER BY {ORDER.format(t="p")}), '') INTO v_items
      FROM (SELECT j.id, j.customer_id, j.address_id, j.title, j.service_type, j.priority, j.status,
                   j.scheduled_start, j.scheduled_end, j.version, j.created_at, j.updated_at
              FROM jobs j WHERE {where}
             ORDER BY {ORDER.format(t="j")}
             LIMIT p_limit OFFSET p_offset) AS p;
"""  # noqa: S608 (constant fragments of this module: no input reaches this text)


LIST_PAGE = f"""
CREATE FUNCTION jobs_list_page(
  p_org uuid, p_user uuid, p_own uuid, p_status job_status[], p_start timestamptz, p_end timestamptz,
  p_technician uuid, p_customer uuid, p_limit bigint, p_offset bigint
) RETURNS text LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $fn$
DECLARE
  v_total bigint;
  v_items text;
BEGIN
  PERFORM set_config('app.org_id', coalesce(p_org::text, ''), true),
          set_config('app.user_id', coalesce(p_user::text, ''), true);
  IF p_start IS NOT NULL THEN
    -- one plan for every day (an index range scan), not a new plan a call: planning costs more than running
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    {_page(FILTERS + DAY)}
  ELSE
    {_page(FILTERS)}
  END IF;
  RETURN '{{"items":[' || v_items || '],"total":' || v_total
    || ',"limit":' || p_limit || ',"offset":' || p_offset || '}}';
END
$fn$
"""


def upgrade() -> None:
    op.execute(JSON_TS)
    op.execute(LIST_PAGE)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    op.execute("DROP FUNCTION IF EXISTS jobs_json_ts(timestamptz)")
