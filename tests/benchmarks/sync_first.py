"""First sync into an empty store vs the server's own raw export of the same rows; a push of 50 operations.

``uv run python -m tests.benchmarks.sync_first [--jobs 10000 --customers 5000 --repeats 3] [--no-fail]``

One organisation is seeded as the owner (bulk ``INSERT … SELECT generate_series``): 5,000 customers with one
address each, a price book of 200 items, 20 technicians and 10,000 jobs (one line and one technician each)
spread over the office's sync window (yesterday → today + 7 days, Buenos Aires). The device is an office
user's (a dispatcher: the organisation's scope). Alternating, round after round:

- ``raw_export``: ``server.domain.sync.services.export_rows`` of the office scope in one tenant transaction
  as the application role (one SQL statement a table, ``json_agg``, decoded): the most the server's own SQL
  gives, with no paging, HTTP or client around it. → rows/s.
- ``first_sync``: a fresh empty ``LocalStore`` and ``SyncEngine.sync_once()`` (ping, bootstrap of every table
  in keyset pages, then the pull to the head) against the real app served by uvicorn in a process of its own
  on 127.0.0.1 (``tests.benchmarks.run.ServerProcess``: real HTTP, production mode, the application role).
  → seconds and rows/s.
- ``push_50``: 50 operations queued on that store (25 notes and 25 ``start_travel`` moves, on 50 jobs not
  touched before) sent by the engine's push (one batch of 50, answers recorded in the store). → seconds a
  batch and operations/s.

Targets (issue #7): first sync under 5 s, and at least half the raw export's rows/s (ratio of the rounds'
medians of the per-round ratio). Exit 1 when one is missed (``--no-fail``: report only); the results go
to ``tests/benchmarks/results/sync_first.json``, the server's log to ``results/sync_first_server.log``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "sync_first.json"
SERVER_LOG = Path(__file__).resolve().parent / "results" / "sync_first_server.log"
TECHNICIANS = 20
PRICE_ITEMS = 200
PUSH_OPS = 50
TARGET_SECONDS = 5.0
TARGET_RATIO = 0.5


@dataclass(frozen=True)
class Org:
    org_id: uuid.UUID
    office_id: uuid.UUID
    secret: str


async def seed(owner_url: str, jobs: int, customers: int, secret: str) -> Org:
    """One organisation, its office user, technicians, customers + addresses, price book and jobs in the window."""
    import asyncpg

    from server.domain.sync.records import window
    from shared.fiscal.cuit import make_cuit
    from shared.ids import new_id

    org_id, office_id = new_id(), new_id()
    _, start, _end = window()
    conn = await asyncpg.connect(owner_url)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO organizations (id, name, cuit, settings, is_active, created_at, updated_at)"
                " VALUES ($1, 'Bench Sync SRL', $2, '{}', true, now(), now())",
                org_id,
                make_cuit("30", "70000003"),
            )
            users = [(office_id, org_id, "+5491155609999", "Oficina Bench", "dispatcher")] + [
                (new_id(), org_id, f"+54911556{i:05d}", f"Técnico {i}", "technician") for i in range(TECHNICIANS)
            ]
            await conn.executemany(
                "INSERT INTO users (id, org_id, phone, full_name, role, is_active, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5::user_role, true, now(), now())",
                users,
            )
            await conn.execute(
                "INSERT INTO customers (id, org_id, name, phone, other_phones, doc_type, iva_condition, notes,"
                " created_at, updated_at)"
                " SELECT gen_random_uuid(), $1, 'Cliente ' || n, '+54911557' || lpad(n::text, 5, '0'), '{}', 'none',"
                " 'consumidor_final', CASE WHEN n % 3 = 0 THEN 'Portero eléctrico roto, llamar antes' END, now(), now()"
                " FROM generate_series(1, $2) n",
                org_id, customers,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO customer_addresses (id, org_id, customer_id, label, street, city, province, postal_code,"
                " reference, lat, lng, is_default, created_at, updated_at)"
                " SELECT gen_random_uuid(), c.org_id, c.id, 'Casa', 'Av. Cabildo ' || (100 + row_number() OVER ()),"
                " 'CABA', 'Buenos Aires', 'C1426', 'timbre 3B', -34.56 + random() / 10, -58.45 - random() / 10,"
                " true, now(), now() FROM customers c WHERE c.org_id = $1",
                org_id,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO price_book_items (id, org_id, code, kind, name, unit, base_price, iva_rate, is_active,"
                " created_at, updated_at)"
                " SELECT gen_random_uuid(), $1, 'IT-' || n, (CASE WHEN n % 4 = 0 THEN 'service' ELSE 'material' END)"
                "::price_book_item_kind, 'Ítem de catálogo ' || n, 'unidad', (1000 + n * 37)::numeric(14, 2), 21.00,"
                " true, now(), now() FROM generate_series(1, $2) n",
                org_id, PRICE_ITEMS,
            )  # fmt: skip
            # jobs: customer n % customers, its address, every 15 minutes of 07:00–19:00 over the 9 days
            await conn.execute(
                "INSERT INTO jobs (id, org_id, customer_id, address_id, title, description, service_type, priority,"
                " status, complexity, scheduled_start, scheduled_end, estimated_minutes, materials, created_by_id,"
                " version, created_at, updated_at)"
                " SELECT gen_random_uuid(), $1, c.id, a.id, 'Trabajo ' || n, 'Revisar instalación y presupuestar',"
                " 'Service aire', 'normal', 'scheduled', 'normal', s.at, s.at + interval '90 minutes', 90, '[]', $2, 1,"
                " now(), now()"
                " FROM generate_series(0, $3 - 1) n"
                " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM customers WHERE org_id = $1) c"
                "   ON c.k = n % $4"
                " JOIN customer_addresses a ON a.org_id = $1 AND a.customer_id = c.id"
                " CROSS JOIN LATERAL (SELECT $5::timestamptz + ((n % 9) || ' days')::interval + interval '7 hours'"
                "   + (((n / 9) % 48) * 15 || ' minutes')::interval AS at) s",
                org_id, office_id, jobs, customers, start,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO job_assignments (id, org_id, job_id, technician_id, created_at, updated_at)"
                " SELECT gen_random_uuid(), j.org_id, j.id, t.id, now(), now()"
                " FROM (SELECT id, org_id, row_number() OVER (ORDER BY id) AS k FROM jobs WHERE org_id = $1) j"
                " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM users"
                "       WHERE org_id = $1 AND role = 'technician') t ON t.k = j.k % $2",
                org_id, TECHNICIANS,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO job_lines (id, org_id, job_id, description, quantity, unit_price, iva_rate, price_source,"
                " created_at, updated_at)"
                " SELECT gen_random_uuid(), j.org_id, j.id, 'Mano de obra', 1, 25000.00, 21.00, 'manual', now(), now()"
                " FROM jobs j WHERE j.org_id = $1",
                org_id,
            )  # fmt: skip
        await conn.execute(
            "ANALYZE customers, customer_addresses, price_book_items, jobs, job_assignments, job_lines, users"
        )
    finally:
        await conn.close()
    return Org(org_id, office_id, secret)


async def raw_export(sessionmaker: Any, org: Org) -> tuple[float, int]:
    """Seconds and rows of the server's own export of the office scope (one tenant transaction)."""
    from server.db.engine import tenant_transaction
    from server.domain.sync.services import export_rows

    started = time.perf_counter()
    async with tenant_transaction(sessionmaker, org.org_id) as session:
        exported = await export_rows(session, org.org_id)
    return time.perf_counter() - started, sum(len(rows) for rows in exported.values())


@dataclass
class Device:
    store: Any
    api: Any
    outbox: Any
    engine: Any
    actions: Any


def open_device(base_url: str, org: Org, path: Path) -> Device:
    from client.actions import TechnicianActions
    from client.api import ApiClient
    from client.attachments import UploadQueue
    from client.outbox import Outbox
    from client.store import LocalStore
    from client.sync.engine import SyncEngine
    from client.tokens import MemoryTokenStore, StoredTokens
    from server.domain.auth.tokens import issue_access_token
    from shared.ids import new_id

    token = issue_access_token(
        org.secret, user_id=org.office_id, org_id=org.org_id, role="dispatcher", session_id=new_id()
    )
    tokens = MemoryTokenStore(
        StoredTokens(
            access_token=token,
            refresh_token="bench-no-refresh",
            user_id=str(org.office_id),
            org_id=str(org.org_id),
            role="dispatcher",
            full_name="Oficina Bench",
        )
    )
    store = LocalStore.open(path)
    store.set_session(user_id=str(org.office_id), org_id=str(org.org_id), role="dispatcher", full_name="Oficina")
    api = ApiClient(base_url, tokens, timeout=120.0)
    outbox = Outbox(store)
    engine = SyncEngine(api, store, outbox, UploadQueue(store, api), device_id=store.device_id())
    return Device(store, api, outbox, engine, TechnicianActions(store, outbox, engine.uploads))


def local_rows(store: Any) -> int:
    tables = ("jobs", "customers", "customer_addresses", "price_book_items", "job_notes", "photos", "signatures")
    return sum(int(store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)


async def first_sync(device: Device) -> tuple[float, int]:
    """Seconds of one ``sync_once`` into the empty store, and the records it applied."""
    started = time.perf_counter()
    report = await device.engine.sync_once()
    seconds = time.perf_counter() - started
    if report.errors:
        raise RuntimeError(f"the first sync failed: {report.errors}")
    return seconds, report.bootstrapped + report.pulled


async def push_50(device: Device, used: set[str]) -> float:
    """Queue 50 operations on scheduled jobs not touched before (25 notes, 25 ``start_travel``) through the
    technician actions, then push them (one batch); seconds of the push, answers recorded in the store."""
    from client.sync.engine import SyncReport

    rows = device.store.conn.execute("SELECT id FROM jobs WHERE status = 'scheduled' ORDER BY id").fetchall()
    chosen = [r[0] for r in rows if r[0] not in used][:PUSH_OPS]
    if len(chosen) < PUSH_OPS:
        raise RuntimeError("not enough untouched jobs for push_50")
    used.update(chosen)
    for i, job_id in enumerate(chosen):
        if i % 2 == 0:
            device.actions.add_note(job_id, f"Nota de la oficina {i}: llamar al encargado antes de subir.")
        else:
            device.actions.transition(job_id, "start_travel")
    if device.outbox.pending() != PUSH_OPS:
        raise RuntimeError(f"{device.outbox.pending()} operations queued, not {PUSH_OPS}")
    report = SyncReport()
    started = time.perf_counter()
    await device.engine._push(report, hold=set())
    seconds = time.perf_counter() - started
    if report.pushed != PUSH_OPS or report.applied != PUSH_OPS or report.errors:
        raise RuntimeError(f"push_50: {report}")
    return seconds


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def measure(base_url: str, owner_url: str, app_url: str, org: Org, repeats: int, work: Path) -> dict[str, Any]:
    from server.db.engine import create_engine, create_sessionmaker

    engine = create_engine(app_url, pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    rounds: dict[str, list[dict[str, float]]] = {"raw_export": [], "first_sync": [], "push_50": []}
    used: set[str] = set()
    try:
        await raw_export(sessionmaker, org)  # warm-up: plans and caches, both sides alike
        warm = open_device(base_url, org, work / "warmup" / "campotech.db")
        await first_sync(warm)
        await warm.api.aclose()
        warm.store.close()
        for n in range(repeats):
            order = ("raw_export", "first_sync") if n % 2 == 0 else ("first_sync", "raw_export")
            device = open_device(base_url, org, work / f"round{n}" / "campotech.db")
            try:
                for name in order:
                    if name == "raw_export":
                        seconds, rows = await raw_export(sessionmaker, org)
                        rounds["raw_export"].append({"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds})
                    else:
                        seconds, rows = await first_sync(device)
                        held = local_rows(device.store)
                        rounds["first_sync"].append(
                            {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "rows_in_store": held}
                        )
                seconds = await push_50(device, used)
                rounds["push_50"].append({"seconds": seconds, "ops": PUSH_OPS, "ops_per_s": PUSH_OPS / seconds})
            finally:
                await device.api.aclose()
                device.store.close()
    finally:
        await engine.dispose()
    pairs = list(zip(rounds["first_sync"], rounds["raw_export"], strict=True))
    ratios = [s["rows_per_s"] / r["rows_per_s"] for s, r in pairs]
    same_rows = all(s["rows"] == r["rows"] == s["rows_in_store"] for s, r in pairs)
    return {
        "repeats": repeats,
        "raw_export": {
            "seconds": _median([r["seconds"] for r in rounds["raw_export"]]),
            "rows": rounds["raw_export"][-1]["rows"],
            "rows_per_s": _median([r["rows_per_s"] for r in rounds["raw_export"]]),
        },
        "first_sync": {
            "seconds": _median([r["seconds"] for r in rounds["first_sync"]]),
            "rows": rounds["first_sync"][-1]["rows"],
            "rows_per_s": _median([r["rows_per_s"] for r in rounds["first_sync"]]),
            "target_seconds": TARGET_SECONDS,
        },
        "ratio": _median(ratios),
        "target_ratio": TARGET_RATIO,
        "same_rows": same_rows,
        "push_50": {
            "seconds": _median([r["seconds"] for r in rounds["push_50"]]),
            "ops_per_s": _median([r["ops_per_s"] for r in rounds["push_50"]]),
        },
        "rounds": rounds,
        "ratios": ratios,
    }


def render(result: dict[str, Any]) -> tuple[str, list[str]]:
    raw, first, push = result["raw_export"], result["first_sync"], result["push_50"]
    missed: list[str] = []
    if not first["seconds"] < TARGET_SECONDS:
        missed.append(f"first sync {first['seconds']:.2f} s (target < {TARGET_SECONDS:.0f} s)")
    if not result["ratio"] >= TARGET_RATIO:
        missed.append(f"first sync at {result['ratio']:.3f} x the raw export's rows/s (target >= {TARGET_RATIO})")
    if not result["same_rows"]:
        missed.append("the first sync did not hold the same rows as the raw export (see rounds in the JSON)")
    seconds_ok = "ok" if first["seconds"] < TARGET_SECONDS else "MISSED"
    ratio_ok = "ok" if result["ratio"] >= TARGET_RATIO else "MISSED"
    lines = [
        f"{'entry':<12} {'rows/ops':>9} {'seconds':>8} {'per s':>10}  {'ratio':<22} target",
        f"{'raw_export':<12} {raw['rows']:>9} {raw['seconds']:>8.3f} {raw['rows_per_s']:>10,.0f}  {'-':<22} -",
        f"{'first_sync':<12} {first['rows']:>9} {first['seconds']:>8.3f} {first['rows_per_s']:>10,.0f}  "
        f"{result['ratio']:.3f} x raw_export{'':<4} >= {TARGET_RATIO} {ratio_ok};"
        f" < {TARGET_SECONDS:.0f} s {seconds_ok}",
        f"{'push_50':<12} {PUSH_OPS:>9} {push['seconds']:>8.3f} {push['ops_per_s']:>10,.1f}  {'-':<22} -",
        f"(medians of {result['repeats']} alternating rounds; rows/s: records applied to the store a second for "
        "first_sync, rows exported a second for raw_export; per s of push_50: operations a second)",
    ]
    return "\n".join(lines), missed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--no-fail", action="store_true", help="report only: exit 0 whatever the figures")
    args = parser.parse_args(argv)
    if args.jobs < 2 * PUSH_OPS * args.repeats or args.customers < 1 or args.repeats < 1:
        parser.error(f"--jobs must be at least {2 * PUSH_OPS * args.repeats} (push rounds use fresh jobs)")
    from tests.benchmarks.run import ServerProcess, bench_stack, server_environment

    started = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="campotech-bench-sync-") as folder:
        work = Path(folder)
        with bench_stack(work) as stack:
            env = server_environment(stack, work / "data", f"bench{secrets.token_hex(4)}")
            secret = env["CAMPOTECH_SECRET_KEY"]
            t0 = time.perf_counter()
            org = asyncio.run(seed(stack.owner_url, args.jobs, args.customers, secret))
            seed_seconds = time.perf_counter() - t0
            SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
            SERVER_LOG.write_text("")
            server = ServerProcess(env, SERVER_LOG)
            try:
                server.start()
                result = asyncio.run(measure(server.base_url, stack.owner_url, stack.app_url, org, args.repeats, work))
            finally:
                server.stop()
    result |= {
        "jobs": args.jobs,
        "customers": args.customers,
        "price_book_items": PRICE_ITEMS,
        "seed_seconds": seed_seconds,
        "transport": "uvicorn in its own process, HTTP on 127.0.0.1",
        "started_at": started.isoformat(),
    }
    table, missed = render(result)
    print(
        f"seeded {args.jobs} jobs, {args.customers} customers (+ addresses), {PRICE_ITEMS} items"
        f" in {seed_seconds:.1f} s"
    )
    print(table)
    for line in missed:
        print(f"MISSED: {line}")
    result["missed"] = missed
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"results: {args.output}")
    return 1 if missed and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
