"""Invoice PDF renders per second, in process: ``uv run python -m tests.benchmarks.entries_pdf``.

The HTTP harness (``run.py``) measures requests against a server; a PDF render is CPU work in the
process that serves the download, so it is measured here directly, against baselines measured in the
same rounds (alternating, like ``run.py``):

- ``fpdf_empty``: fpdf2 rendering an empty A4 page (core font, nothing embedded): the floor of fpdf2;
- ``fpdf_fonts``: an empty page with the two bundled DejaVu fonts embedded (what any Unicode PDF pays);
- ``invoice_1page``: a Factura A of 4 lines with logo, QR, one copy (1 page);
- ``invoice_30lines``: a Factura A of 30 lines (2 pages);
- ``invoice_3copies``: the 4-line invoice as ORIGINAL + DUPLICADO + TRIPLICADO (3 pages).

Prints renders/s (median of the rounds), ms per render and the ratio to ``fpdf_empty``; writes
``tests/benchmarks/results/pdf.json``. Options: ``--duration S`` per entry and round (2), ``--repeats N`` (3),
``--min-rps R``: exit 1 when ``invoice_1page`` renders fewer than R per second (default 0: report only).

Imported by ``run.py`` (every ``entries_*`` module is): it registers no HTTP entry, and imports the
renderer only when run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "pdf.json"
BASELINE = "fpdf_empty"


def _entries() -> dict[str, Callable[[], bytes]]:
    from fpdf import FPDF

    from server.domain.invoices.pdf import FONT_BOLD, FONT_REGULAR, render_invoice_pdf
    from tests.server.invoices.pdf_samples import make_document

    def fpdf_empty() -> bytes:
        pdf = FPDF(format="A4")
        pdf.add_page()
        return bytes(pdf.output())

    def fpdf_fonts() -> bytes:
        pdf = FPDF(format="A4")
        pdf.add_font("dejavu", "", str(FONT_REGULAR))
        pdf.add_font("dejavu", "B", str(FONT_BOLD))
        pdf.add_page()
        pdf.set_font("dejavu", "", 10)
        pdf.cell(40, 10, "Facturación")
        pdf.set_font("dejavu", "B", 10)
        pdf.cell(40, 10, "Núñez")
        return bytes(pdf.output())

    one_page = make_document("A", lines=4, with_logo=True)
    thirty = make_document("A", lines=30, with_logo=True)
    return {
        "fpdf_empty": fpdf_empty,
        "fpdf_fonts": fpdf_fonts,
        "invoice_1page": lambda: render_invoice_pdf(one_page),
        "invoice_30lines": lambda: render_invoice_pdf(thirty),
        "invoice_3copies": lambda: render_invoice_pdf(one_page, copies=("ORIGINAL", "DUPLICADO", "TRIPLICADO")),
    }


def _measure(render: Callable[[], bytes], duration: float) -> float:
    """Renders per second over ``duration`` seconds (at least 3 renders)."""
    count, start = 0, time.perf_counter()
    while True:
        render()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= duration and count >= 3:
            return count / elapsed


def run(duration: float = 2.0, repeats: int = 3) -> dict[str, dict[str, object]]:
    entries = _entries()
    for render in entries.values():  # warm up: imports, caches, first-page costs
        render()
    names = list(entries)
    rounds: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate, like run.py
        measured = {name: _measure(entries[name], duration) for name in order}
        for name in names:
            rounds[name].append(measured[name])
            ratios[name].append(measured[name] / measured[BASELINE])
    out: dict[str, dict[str, object]] = {}
    for name in names:
        rps = statistics.median(rounds[name])
        out[name] = {
            "renders_per_s": round(rps, 2),
            "ms_per_render": round(1000 / rps, 2),
            "ratio_to_fpdf_empty": round(statistics.median(ratios[name]), 4),
            "rounds": [round(x, 2) for x in rounds[name]],
            "bytes": len(entries[name]()),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.entries_pdf", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-rps", type=float, default=0.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = run(args.duration, args.repeats)
    print(f"{'entry':<18}{'renders/s':>11}{'ms':>9}{'ratio':>10}{'bytes':>9}")
    for name, row in results.items():
        print(
            f"{name:<18}{row['renders_per_s']:>11,.1f}{row['ms_per_render']:>9.1f}"
            f"{row['ratio_to_fpdf_empty']:>10.4f}{row['bytes']:>9,}"
        )
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    report = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {"duration": args.duration, "repeats": args.repeats},
        "machine": {"cpus": os.cpu_count(), "load_1m": load, "python": platform.python_version()},
        "entries": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {args.output}")
    if load is not None and os.cpu_count() and load > os.cpu_count():  # type: ignore[operator]
        print(f"note: load average {load:.1f} on {os.cpu_count()} cores: absolute figures are noisy, compare ratios")
    rps = float(results["invoice_1page"]["renders_per_s"])  # type: ignore[arg-type]
    if rps < args.min_rps:
        print(f"FAILED: invoice_1page {rps:.1f} renders/s < {args.min_rps}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
