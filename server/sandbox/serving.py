"""Serving a sandbox ASGI app with uvicorn in a daemon thread on ``host:port`` (tests and ``server.dev``),
and the plain-ASGI plumbing the sandboxes share (lifespan, request body, response)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Self


async def receive_request(
    scope: dict[str, Any], receive: Any, send: Any, *, on_shutdown: Callable[[], None] | None = None
) -> bytes | None:
    """The body of an HTTP request; None once a lifespan (answered; ``on_shutdown`` runs at its end) or any
    other non-HTTP scope is done with."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if on_shutdown is not None:
                    on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return None
    if scope["type"] != "http":
        return None
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def send_response(
    send: Any, status: int, body: bytes, content_type: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """The whole answer at once, with its content type and length (and ``headers`` after them)."""
    out = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


class ThreadedAsgiServer:
    """An ASGI app served by uvicorn in a background daemon thread; ``start()`` waits until it listens,
    ``stop()`` (or leaving a ``with`` block) ends it. Subclasses extend ``stop()`` to release their app first."""

    def __init__(self, app: Any, host: str, port: int, *, name: str, label: str, **config: Any) -> None:
        import uvicorn

        self.host = host
        self.port = port
        self._label = label
        options: dict[str, Any] = {"log_config": None, "access_log": False, "lifespan": "on", **config}
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._label} did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
