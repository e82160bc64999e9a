"""The AFIP sandbox as one plain ASGI app: WSAA, WSFEv1 and padrón A5 on 127.0.0.1.

Routes (like AFIP's hosts, so only the base URL changes between sandbox and homologation):

- ``POST /ws/services/LoginCms`` (``GET …?wsdl``) → WSAA (``server/sandbox/afip/wsaa.py``);
- ``POST /wsfev1/service.asmx`` (``GET …?WSDL``) → WSFEv1 (``wsfe.py``);
- ``POST /sr-padron/webservices/personaServiceA5`` (``GET …?wsdl``) → padrón A5 (``padron.py``);
- ``GET /_sandbox/receipts[?cuit=&ptoVta=&cbteTipo=]`` issued receipts; ``DELETE /_sandbox/receipts``
  forgets them;
- ``POST /_sandbox/faults`` ``{"service": "wsfe"|"padron", "kind": "latency"|"timeout"|"http_error"|
  "afip_error", "count": N, "operation": "FECAESolicitar", "seconds": s, "mode": "hang"|"close",
  "status": 500, "code": 501, "message": "…"}``; ``GET`` lists pending ones; ``DELETE`` clears them.

Each switch is also a method (``sandbox.wsfe.faults.timeout_next(…)``) for tests in the same process.
A lost answer ("timeout" fault) is processed first — the CAE exists — and then either held for
``seconds`` (the client times out) or cut mid-body (the client sees the connection drop).
No framework and no logging set-up: it runs in-process or on a port with uvicorn,
``start_afip_sandbox(host, port, data_dir)``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from server.sandbox.afip.padron import PadronSandbox
from server.sandbox.afip.soap import SoapReply
from server.sandbox.afip.wsfe import WsfeSandbox
from server.sandbox.serving import ThreadedAsgiServer, receive_request

WSAA_PATH = "/ws/services/LoginCms"
WSFE_PATH = "/wsfev1/service.asmx"
PADRON_PATH = "/sr-padron/webservices/personaServiceA5"

TicketCheck = Callable[[str, str, str], "str | None"]


def _default_wsaa(data_dir: Path | None) -> Any:
    from server.sandbox.afip.ca import SandboxCA
    from server.sandbox.afip.wsaa import WsaaSandbox

    ca = SandboxCA.load_or_create(data_dir) if data_dir is not None else SandboxCA.create()
    return WsaaSandbox(ca)


class AfipSandbox:
    """The ASGI app. ``wsaa`` defaults to a ``WsaaSandbox`` on a sandbox CA (kept in ``data_dir`` when given);
    ``ticket_check`` defaults to that WSAA's ``ticket_cuit`` (tests may pass a simpler callable)."""

    def __init__(
        self,
        *,
        wsaa: Any | None = None,
        ticket_check: TicketCheck | None = None,
        data_dir: Path | None = None,
        **wsfe_options: Any,
    ) -> None:
        if wsaa is None and ticket_check is None:
            wsaa = _default_wsaa(data_dir)
        self.wsaa = wsaa
        check: TicketCheck = ticket_check if ticket_check is not None else wsaa.ticket_cuit  # type: ignore[union-attr]
        self.wsfe = WsfeSandbox(check, **wsfe_options)
        self.padron = PadronSandbox(check)
        self._release = threading.Event()  # set on shutdown: held answers stop waiting

    def release_held(self) -> None:
        self._release.set()

    # -- ASGI -------------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await receive_request(scope, receive, send, on_shutdown=self.release_held)
        if body is None:
            return
        reply = self.route(scope, body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        content_type = b"text/xml; charset=utf-8"
        if reply.body[:1] in (b"{", b"["):
            content_type = b"application/json"
        elif reply.body[:5].lower() == b"<html":
            content_type = b"text/html"
        if reply.drop == "hang":
            await self._hold(reply.hang_seconds)
        headers = [(b"content-type", content_type), (b"content-length", str(len(reply.body)).encode())]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if reply.drop == "close":  # half the answer, then the connection is cut
            await send({"type": "http.response.body", "body": reply.body[: len(reply.body) // 2], "more_body": True})
            raise ConnectionAbortedError("sandbox: connection cut mid-answer")
        await send({"type": "http.response.body", "body": reply.body})

    async def _hold(self, seconds: float) -> None:
        await asyncio.to_thread(self._release.wait, seconds)

    def route(self, scope: dict[str, Any], body: bytes) -> SoapReply:
        method, path = scope["method"], scope["path"].rstrip("/")
        query = scope.get("query_string", b"").decode()
        base_url = _base_url(scope)
        wants_wsdl = method == "GET" and query.lower().startswith("wsdl")
        if path == WSFE_PATH:
            if wants_wsdl:
                return SoapReply(200, self.wsfe.wsdl(base_url))
            if method == "POST":
                return self.wsfe.handle(body)
        elif path == PADRON_PATH:
            if wants_wsdl:
                return SoapReply(200, self.padron.wsdl(base_url))
            if method == "POST":
                return self.padron.handle(body)
        elif path == WSAA_PATH:
            if self.wsaa is None:
                return _json(404, {"error": "this sandbox runs without WSAA"})
            if wants_wsdl:
                return SoapReply(200, self.wsaa.wsdl(base_url))
            if method == "POST":
                delay = self.wsaa.take_delay() if hasattr(self.wsaa, "take_delay") else 0.0
                status, answer = self.wsaa.handle(body)
                return SoapReply(status, answer, delay)
        elif path == "/_sandbox/receipts":
            return self._receipts(method, query)
        elif path == "/_sandbox/faults":
            return self._faults(method, body)
        else:
            return _json(404, {"error": f"unknown path {path}"})
        return _json(405, {"error": f"{method} is not allowed here"})

    def _receipts(self, method: str, query: str) -> SoapReply:
        if method == "DELETE":
            self.wsfe.reset()
            return _json(200, {"ok": True})
        if method != "GET":
            return _json(405, {"error": f"{method} is not allowed here"})
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            found = self.wsfe.receipts(
                cuit=params.get("cuit"),
                pto_vta=int(params["ptoVta"]) if "ptoVta" in params else None,
                cbte_tipo=int(params["cbteTipo"]) if "cbteTipo" in params else None,
            )
        except ValueError:
            return _json(400, {"error": "ptoVta and cbteTipo must be numbers"})
        return _json(200, {"receipts": [r.as_dict() for r in found]})

    def _faults(self, method: str, body: bytes) -> SoapReply:
        services = {"wsfe": self.wsfe.faults, "padron": self.padron.faults}
        if method == "GET":
            return _json(200, {name: plan.pending() for name, plan in services.items()})
        if method == "DELETE":
            for plan in services.values():
                plan.clear()
            return _json(200, {"ok": True})
        if method != "POST":
            return _json(405, {"error": f"{method} is not allowed here"})
        try:
            spec = json.loads(body or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("expected a JSON object")
            service = spec.get("service", "wsfe")
            if service not in services:
                raise ValueError("service must be wsfe or padron")
            services[service].configure(spec)
        except (ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, {"ok": True})


def _json(status: int, payload: dict[str, Any]) -> SoapReply:
    return SoapReply(status, json.dumps(payload, default=str, ensure_ascii=False).encode())


def _base_url(scope: dict[str, Any]) -> str:
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


class RunningAfipSandbox(ThreadedAsgiServer):
    """A sandbox served by uvicorn in a background thread; ``stop()`` (or ``with``) ends it."""

    def __init__(self, sandbox: AfipSandbox, host: str, port: int) -> None:
        self.sandbox = sandbox
        super().__init__(
            sandbox, host, port, name="afip-sandbox", label="the AFIP sandbox", timeout_graceful_shutdown=2
        )

    @property
    def wsaa_url(self) -> str:
        return self.url + WSAA_PATH

    @property
    def wsfe_url(self) -> str:
        return self.url + WSFE_PATH

    @property
    def padron_url(self) -> str:
        return self.url + PADRON_PATH

    def stop(self) -> None:
        self.sandbox.release_held()
        super().stop()


def start_afip_sandbox(
    host: str = "127.0.0.1",
    port: int | None = None,
    data_dir: Path | None = None,
    *,
    ticket_check: TicketCheck | None = None,
    **wsfe_options: Any,
) -> RunningAfipSandbox:
    """Serve a fresh AFIP sandbox on ``host:port`` (a free port when not given); returns once listening.

    ``data_dir`` keeps the sandbox CA (``ca.key``/``ca.crt``) between runs, so certificates it signed
    stay valid. Point the app at ``.wsaa_url``, ``.wsfe_url`` and ``.padron_url``.
    """
    if port is None:
        from server.embedded import free_port

        port = free_port()
    sandbox = AfipSandbox(data_dir=data_dir, ticket_check=ticket_check, **wsfe_options)
    return RunningAfipSandbox(sandbox, host, port).start()
