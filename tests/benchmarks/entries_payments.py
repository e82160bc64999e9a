"""Mercado Pago webhooks accepted per second: POST /webhooks/mercadopago (signature check + store + enqueue).

The same signed notification is repeated (wrk sends one request over and over): each delivery checks the
HMAC signature and its age, upserts the stored event (one row per topic and data id, deliveries counted)
and queues the processing job; the queue worker is not running, so nothing is fetched from Mercado Pago.
The signature's ``ts`` is taken at set-up: Mercado Pago's tolerance (300 s) covers a run of every entry.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from server.integrations.mercadopago.signature import sign_webhook
from tests.benchmarks.run import BenchContext, Entry, register

DATA_ID = "1320000123"


async def signed_notification(ctx: BenchContext) -> dict[str, Any]:
    secret = ctx.settings.mercadopago_webhook_secret
    assert secret, "the benchmark server runs with a Mercado Pago webhook secret (run.py server_environment)"
    request_id = secrets.token_hex(16)
    signature = sign_webhook(data_id=DATA_ID, request_id=request_id, ts=int(time.time() * 1000), secret=secret)
    body = {
        "id": 12345678901,
        "live_mode": True,
        "type": "payment",
        "date_created": "2026-11-25T10:04:58.396-03:00",
        "user_id": 44444444,
        "api_version": "v1",
        "action": "payment.updated",
        "data": {"id": DATA_ID},
    }
    return {"signature": signature, "request_id": request_id, "body": json.dumps(body)}


register(
    Entry(
        name="mp_webhook",
        path=f"/webhooks/mercadopago?data.id={DATA_ID}&type=payment",
        method="POST",
        headers=lambda data: {
            "x-signature": data["signature"],
            "x-request-id": data["request_id"],
            "Content-Type": "application/json",
        },
        body=lambda data: data["body"],
        setup=signed_notification,
        baseline="health",
        description="a signed Mercado Pago notification: HMAC + age check, stored once (deliveries counted), queued",
    )
)
