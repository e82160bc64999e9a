"""The client's local store: today's jobs with 10,000 jobs in it (target: well under 10 ms), no server involved.

Not an HTTP entry (nothing is registered with the harness: importing this module does nothing); run it alone:

    uv run python -m tests.benchmarks.entries_client_store [--jobs 10000] [--customers 5000] [--repeat 200]

It fills a fresh store in a temporary folder through the same path a first sync takes (``apply_bootstrap``),
then prints the time of the bootstrap and the median / p95 / max of ``jobs_for_day`` (all jobs, and one
technician's), the job detail and a price book search.
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from client.store import LocalStore
from shared.ids import new_id

ART = datetime.timezone(datetime.timedelta(hours=-3))
DAY = datetime.date(2026, 11, 25)


def _records(jobs: int, customers: int, technicians: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(7)
    techs = [str(new_id()) for _ in range(technicians)]
    cust = [{"id": str(new_id()), "name": f"Cliente {i}", "phone": None, "version": 1} for i in range(customers)]
    addr = [
        {
            "id": str(new_id()),
            "customerId": c["id"],
            "street": f"Calle {i} {100 + i}",
            "city": "CABA",
            "lat": -34.6 + rng.random() / 10,
            "lng": -58.4 - rng.random() / 10,
            "version": 1,
        }
        for i, c in enumerate(cust)
    ]
    first = DAY - datetime.timedelta(days=1)
    job_rows = []
    for i in range(jobs):
        k = rng.randrange(customers)
        start = datetime.datetime.combine(first + datetime.timedelta(days=rng.randrange(9)), datetime.time(7), ART)
        start += datetime.timedelta(minutes=rng.randrange(12 * 60))
        job_rows.append(
            {
                "id": str(new_id()),
                "customerId": cust[k]["id"],
                "addressId": addr[k]["id"],
                "title": f"Trabajo {i}",
                "status": "scheduled",
                "priority": "normal",
                "scheduledStart": start.isoformat(),
                "technicianIds": [techs[i % technicians]],
                "lines": [{"id": str(new_id()), "description": "Service", "quantity": "1", "unitPrice": "100"}],
                "version": 1,
                "changeSeq": i,
            }
        )
    items = [
        {"id": str(new_id()), "code": f"IT-{i}", "name": f"Ítem número {i}", "basePrice": "10", "version": 1}
        for i in range(2000)
    ]
    return {
        "customers": cust,
        "customer_addresses": addr,
        "jobs": job_rows,
        "price_book_items": items,
        "_techs": [{"id": t} for t in techs],
    }


def _timed(fn: Any, repeat: int) -> tuple[float, float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--technicians", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    data = _records(args.jobs, args.customers, args.technicians)
    with tempfile.TemporaryDirectory() as folder:
        store = LocalStore.open(Path(folder) / "bench.db")
        t0 = time.perf_counter()
        for table in ("customers", "customer_addresses", "price_book_items", "jobs"):
            rows = data[table]
            for i in range(0, len(rows), 1000):
                store.apply_bootstrap(table, rows[i : i + 1000])
        load = time.perf_counter() - t0
        total = sum(len(data[t]) for t in ("customers", "customer_addresses", "price_book_items", "jobs"))
        tech = data["_techs"][0]["id"]
        store.set_session(user_id=tech, org_id="bench", role="technician")
        day_all = store.jobs_for_day(DAY)
        day_tech = store.jobs_for_day(DAY, technician_id=tech)
        some_job = day_tech[0]["id"]

        print(f"store: {args.jobs} jobs, {args.customers} customers, {len(data['price_book_items'])} items")
        print(f"bootstrap into an empty store: {load:.2f} s ({total / load:,.0f} rows/s)")
        for label, fn, n in (
            (f"jobs_for_day (all, {len(day_all)} rows)", lambda: store.jobs_for_day(DAY), len(day_all)),
            (f"jobs_for_day (one technician, {len(day_tech)} rows)", lambda: store.jobs_for_day(DAY, tech), 0),
            ("job detail", lambda: store.job(some_job), 0),
            ("pricebook search 'numero 15'", lambda: store.pricebook("numero 15"), 0),
        ):
            del n
            median, p95, worst = _timed(fn, args.repeat)
            print(f"{label:<45} median {median:7.3f} ms   p95 {p95:7.3f} ms   max {worst:7.3f} ms")
        store.close()


if __name__ == "__main__":
    main()
