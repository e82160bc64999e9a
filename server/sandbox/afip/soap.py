"""Pieces the AFIP sandbox services share: SOAP envelopes in and out, and injectable faults.

``FaultPlan`` holds the switches of one service (thread-safe: tests call them from their thread while
uvicorn serves in another):

- ``set_latency(seconds, operation=None)``: every call (of that operation) answers that much later;
- ``timeout_next(count, operation=None, mode="hang"|"close", seconds=…)``: the next N calls are
  processed (a CAE is stored) and then the answer is lost: held for ``seconds`` (the client times out)
  or the connection is cut mid-answer;
- ``http_error_next(count, status=500, operation=None)``: the next N calls answer that HTTP status with
  a SOAP fault, without being processed;
- ``afip_error_next(count, code, message=None, operation=None)``: the next N calls answer AFIP's
  ``Errors/Err`` with that code, without being processed;
- ``observe_next(count, code=10217, message=None)``: the next N FECAESolicitar calls, when approved,
  carry that observation (``Obs``) and still get their CAE, as AFIP does with 10217.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)


class SoapRequestError(ValueError):
    """The body is not a SOAP envelope with one operation."""


@dataclass(frozen=True)
class SoapReply:
    """What the ASGI app sends: status and body, after ``delay``; ``drop`` loses the answer ("hang"/"close")."""

    status: int
    body: bytes
    delay: float = 0.0
    drop: str | None = None
    hang_seconds: float = 0.0


@dataclass
class Fault:
    kind: str  # "timeout", "http_error", "afip_error", "observation"
    operation: str | None
    status: int = 500
    code: int = 0
    message: str | None = None
    mode: str = "hang"
    seconds: float = 30.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "operation": self.operation,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "mode": self.mode,
            "seconds": self.seconds,
        }


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency: dict[str | None, float] = {}
        self._queue: list[Fault] = []

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency[operation] = float(seconds)

    def timeout_next(
        self, count: int = 1, operation: str | None = None, *, mode: str = "hang", seconds: float = 30.0
    ) -> None:
        if mode not in ("hang", "close"):
            raise ValueError("mode must be 'hang' or 'close'")
        self._add(count, Fault("timeout", operation, mode=mode, seconds=float(seconds)))

    def http_error_next(self, count: int = 1, status: int = 500, operation: str | None = None) -> None:
        self._add(count, Fault("http_error", operation, status=int(status)))

    def afip_error_next(
        self, count: int = 1, code: int = 501, message: str | None = None, operation: str | None = None
    ) -> None:
        self._add(count, Fault("afip_error", operation, code=int(code), message=message))

    def observe_next(self, count: int = 1, code: int = 10217, message: str | None = None) -> None:
        self._add(count, Fault("observation", "FECAESolicitar", code=int(code), message=message))

    def _add(self, count: int, fault: Fault) -> None:
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._queue.extend(Fault(**vars(fault)) for _ in range(count))

    def clear(self) -> None:
        with self._lock:
            self._latency.clear()
            self._queue.clear()

    def take(self, operation: str) -> Fault | None:
        """The first pending fault for ``operation`` (or for any operation), removed from the plan."""
        with self._lock:
            for i, fault in enumerate(self._queue):
                if fault.operation in (None, operation):
                    return self._queue.pop(i)
        return None

    def latency(self, operation: str) -> float:
        with self._lock:
            return self._latency.get(operation, self._latency.get(None, 0.0))

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._queue]

    def configure(self, spec: dict[str, Any]) -> None:
        """The JSON form: ``{"kind": "latency"|"timeout"|"http_error"|"afip_error"|"observation", …}``."""
        kind = spec.get("kind")
        operation = spec.get("operation") or None
        count = int(spec.get("count", 1))
        if kind == "latency":
            self.set_latency(float(spec.get("seconds", 0)), operation)
        elif kind == "timeout":
            self.timeout_next(
                count, operation, mode=str(spec.get("mode", "hang")), seconds=float(spec.get("seconds", 30))
            )
        elif kind == "http_error":
            self.http_error_next(count, int(spec.get("status", 500)), operation)
        elif kind == "afip_error":
            if spec.get("code") is None:
                raise ValueError("afip_error needs a code")
            self.afip_error_next(count, int(spec["code"]), spec.get("message"), operation)
        elif kind == "observation":
            self.observe_next(count, int(spec.get("code", 10217)), spec.get("message"))
        else:
            raise ValueError("kind must be latency, timeout, http_error, afip_error or observation")


def parse_operation(body: bytes) -> etree._Element:
    """The single child of the SOAP Body (1.1 or 1.2)."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapRequestError(f"XML mal formado: {exc}") from None
    for ns in (SOAP_ENV, SOAP12_ENV):
        soap_body = root.find(f"{{{ns}}}Body")
        if soap_body is not None:
            children = [c for c in soap_body if isinstance(c.tag, str)]
            if len(children) != 1:
                raise SoapRequestError("el Body debe tener exactamente una operación")
            return children[0]
    raise SoapRequestError("no es un sobre SOAP")


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def child(el: etree._Element | None, name: str) -> etree._Element | None:
    """The first child named ``name`` in any namespace."""
    if el is None:
        return None
    for c in el:
        if isinstance(c.tag, str) and local(c.tag) == name:
            return c
    return None


def children(el: etree._Element | None, name: str) -> list[etree._Element]:
    if el is None:
        return []
    return [c for c in el if isinstance(c.tag, str) and local(c.tag) == name]


def text(el: etree._Element | None, name: str) -> str | None:
    found = child(el, name)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def xml(name: str, content: Any) -> str:
    """``content`` as XML: dict → children in order, list → repeated ``name``, None → omitted."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(xml(name, c) for c in content)
    inner = "".join(xml(k, v) for k, v in content.items()) if isinstance(content, dict) else escape(str(content))
    return f"<{name}>{inner}</{name}>"


def envelope(inner: str, header: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"{header}<soap:Body>{inner}</soap:Body></soap:Envelope>"
    ).encode()


def soap_fault(message: str, code: str = "soap:Server") -> bytes:
    return envelope(
        f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring></soap:Fault>"
    )
