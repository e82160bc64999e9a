"""Mercado Pago sandbox fixtures, shared with tests/server/payments (import them from here).

- ``mp_sandbox`` (session): a ``RunningMercadoPagoSandbox`` on 127.0.0.1 with ``MP_WEBHOOK_SECRET``,
  ``MP_CLIENT_ID`` / ``MP_CLIENT_SECRET``; its default seller token is ``MP_ACCESS_TOKEN``.
- ``mp`` (function): the same sandbox with switches reset and the webhook log emptied (use it when a
  test changes switches).
- ``pay_preference(sandbox, preference_id, **kw)``: pay a preference as a buyer (status, installments,
  amount, payment_method_id); returns the payment (Mercado Pago's JSON); the webhook follows from a
  background thread: ``await sandbox.sandbox.await_webhooks()`` waits for it without blocking the event
  loop (needed when the receiver is the app served in the test's loop).
- ``webhook_receiver``: a tiny HTTP server that records what arrives and answers scripted statuses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from server.embedded import free_port
from server.sandbox.mercadopago import (
    DEFAULT_ACCESS_TOKEN,
    MercadoPagoSandbox,
    RunningMercadoPagoSandbox,
    start_mercadopago_sandbox,
)

MP_WEBHOOK_SECRET = "test-mercadopago-webhook-secret"
MP_CLIENT_ID = "2000000000000002"
MP_CLIENT_SECRET = "test-mercadopago-client-secret"
MP_ACCESS_TOKEN = DEFAULT_ACCESS_TOKEN


def pay_preference(
    sandbox: RunningMercadoPagoSandbox | MercadoPagoSandbox, preference_id: str, **kw: Any
) -> dict[str, Any]:
    """Pay ``preference_id`` in the sandbox (``status="approved"``, ``installments=1``, ``amount=None`` =
    the items' total, ``payment_method_id="visa"``); the signed webhook is sent in the background."""
    target = sandbox.sandbox if isinstance(sandbox, RunningMercadoPagoSandbox) else sandbox
    return target.pay(preference_id, **kw)


@pytest.fixture(scope="session")
def mp_sandbox() -> Iterator[RunningMercadoPagoSandbox]:
    with start_mercadopago_sandbox(
        webhook_secret=MP_WEBHOOK_SECRET, client_id=MP_CLIENT_ID, client_secret=MP_CLIENT_SECRET
    ) as running:
        yield running


@pytest.fixture
def mp(mp_sandbox: RunningMercadoPagoSandbox) -> Iterator[RunningMercadoPagoSandbox]:
    sandbox = mp_sandbox.sandbox
    sandbox.set_switches(notification_url=None)
    sandbox.reset_switches()
    sandbox.clear_webhooks()
    yield mp_sandbox
    sandbox.set_switches(notification_url=None)
    sandbox.reset_switches()
    sandbox.wait_for_webhooks(timeout=30)
    sandbox.clear_webhooks()


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookReceiver:
    """Records every POST; answers ``statuses`` in turn (then 200)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            parts = urlsplit(self.path)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with receiver.lock:
                receiver.received.append(
                    Received(
                        path=parts.path,
                        query={k: v[0] for k, v in parse_qs(parts.query).items()},
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                    )
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/mercadopago"
    thread = threading.Thread(target=server.serve_forever, name="mp-webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
