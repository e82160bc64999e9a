"""Invoices issued per second through the ``afip`` queue, against the AFIP sandbox answering alone.

``uv run python -m tests.benchmarks.invoice_issuing [--invoices N] [--repeats R]``

Both figures come from the same run, alternating round by round:

- ``sandbox_alone``: the real WSFEv1 client asking the sandbox for one number after another, as one
  serialised issuer must (``FECompUltimoAutorizado`` then ``FECAESolicitar``, one at a time): the most
  any issuer can get out of one point of sale, since AFIP's numbering is strictly sequential.
- ``through_worker``: N drafts requested at once through the API (``POST /invoices/{id}/cae``), issued by
  the queue worker (ticket from the encrypted store, Redis sequence lock, number reserved on the invoice,
  FECAESolicitar, CAE stored, audit entry); the time from the first request to the last invoice issued.

The ratio (worker ÷ sandbox alone) says how much our bookkeeping costs on top of AFIP's own round trips.
The stack is the benchmark harness's (``DATABASE_URL``/``REDIS_URL`` or embedded servers, a fresh migrated
database, the application role); the app and the sandbox run in this process (the sandbox on a thread of
its own, over real HTTP on 127.0.0.1). Writes ``tests/benchmarks/results/invoice_issuing.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "invoice_issuing.json"


async def _sandbox_alone(afip: Any, count: int) -> float:
    """Numbers per second the sandbox gives one serialised issuer (real client, real HTTP)."""
    from datetime import date
    from decimal import Decimal

    from server.integrations.afip.wsaa import WsaaClient
    from server.integrations.afip.wsfe import AlicIva, Auth, CaeRequest, WsfeClient
    from tests.server.auth.conftest import random_cuit

    cuit = random_cuit("30")
    key_pem, cert_pem = afip.sandbox.wsaa.ca.issue(cuit)
    async with WsaaClient(afip.wsaa_url) as wsaa, WsfeClient(afip.wsfe_url) as wsfe:
        ticket = await wsaa.login(cert_pem, key_pem, "wsfe")
        auth = Auth(token=ticket.token, sign=ticket.sign, cuit=cuit)
        started = time.perf_counter()
        for _ in range(count):
            number = await wsfe.last_authorized(auth, 1, 1) + 1
            result = await wsfe.request_cae(
                auth,
                CaeRequest(
                    pto_vta=1,
                    cbte_tipo=1,
                    concepto=2,
                    doc_tipo=80,
                    doc_nro=30712345671,
                    number=number,
                    cbte_fch=date.today(),
                    imp_total=Decimal("121.00"),
                    imp_tot_conc=Decimal("0"),
                    imp_neto=Decimal("100.00"),
                    imp_op_ex=Decimal("0"),
                    imp_trib=Decimal("0"),
                    imp_iva=Decimal("21.00"),
                    fch_serv_desde=date.today(),
                    fch_serv_hasta=date.today(),
                    fch_vto_pago=date.today(),
                    condicion_iva_receptor_id=1,
                    iva=(AlicIva(id=5, base=Decimal("100.00"), amount=Decimal("21.00")),),
                ),
            )
            assert result.cae, result
        return count / (time.perf_counter() - started)


async def _through_worker(client: Any, resources: Any, afip: Any, count: int) -> float:
    from tests.server.invoices.conftest import issued, make_afip_org, make_customer, make_draft

    org = await make_afip_org(client, resources, afip)
    customer = await make_customer(
        client, org, docType="cuit", docNumber="30712345671", ivaCondition="responsable_inscripto"
    )
    drafts = [await make_draft(client, org, customer["id"]) for _ in range(count)]
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(client.post(f"/api/v1/invoices/{d['id']}/cae", headers=org.headers) for d in drafts)
    )
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers if a.status_code != 202][:1]
    for draft in drafts:
        invoice = await issued(client, org, draft["id"], seconds=600)
        assert invoice["status"] == "issued", invoice["afipMessages"]
    return count / (time.perf_counter() - started)


async def _run(invoices: int, repeats: int, work_dir: Path, stack: Any, afip: Any) -> dict[str, Any]:
    import httpx

    from server.asgi import create_app
    from server.domain.demo.seed import DEMO_TEST_OTP
    from server.runtime import Resources
    from server.settings import Environment, load_settings
    from tests.benchmarks.run import APP_ROLE
    from tests.conftest import running

    # the stack and the sandbox are started by main(), outside the event loop
    settings = load_settings(
        {},
        env=Environment.TEST,
        database_url=stack.owner_url,
        app_database_url=stack.app_url,
        redis_url=stack.redis_url,
        app_db_role=APP_ROLE,
        queue_prefix=f"bench{secrets.token_hex(4)}",
        log_level="WARNING",
        secret_key=secrets.token_urlsafe(48),
        master_key=base64.b64encode(os.urandom(32)).decode(),
        test_otp=DEMO_TEST_OTP,
        api_rate_limit_per_minute=10**9,
        worker_in_process=True,
        data_dir=work_dir / "data",
        afip_wsaa_url=afip.wsaa_url,
        afip_wsfe_url=afip.wsfe_url,
        afip_padron_url=afip.padron_url,
    )
    resources = await Resources.open(settings)
    try:
        app = create_app(settings, resources)
        transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 40000))
        rounds: dict[str, list[float]] = {"sandbox_alone": [], "through_worker": []}
        async with running(app), httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(repeats):
                rounds["sandbox_alone"].append(await _sandbox_alone(afip, invoices))
                rounds["through_worker"].append(await _through_worker(client, resources, afip, invoices))
    finally:
        await resources.close()
    ratios = [w / s for w, s in zip(rounds["through_worker"], rounds["sandbox_alone"], strict=True)]
    return {
        "invoices": invoices,
        "repeats": repeats,
        "sandbox_alone_per_s": statistics.median(rounds["sandbox_alone"]),
        "through_worker_per_s": statistics.median(rounds["through_worker"]),
        "ratio": statistics.median(ratios),
        "rounds": rounds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from server.sandbox.afip.app import start_afip_sandbox
    from tests.benchmarks.run import bench_stack

    with tempfile.TemporaryDirectory(prefix="campotech-bench-afip-") as folder:
        work_dir = Path(folder)
        with bench_stack(work_dir) as stack, start_afip_sandbox("127.0.0.1", data_dir=work_dir / "afip") as afip:
            result = asyncio.run(_run(args.invoices, args.repeats, work_dir, stack, afip))
    print(f"{'entry':<16} {'invoices/s':>10}")
    print(f"{'sandbox_alone':<16} {result['sandbox_alone_per_s']:>10.1f}")
    print(
        f"{'through_worker':<16} {result['through_worker_per_s']:>10.1f}   ratio {result['ratio']:.3f} x sandbox_alone"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
