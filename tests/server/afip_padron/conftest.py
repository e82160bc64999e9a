"""Padrón tests: the app pointed at a real AFIP sandbox on 127.0.0.1 (WSAA + padrón A5 over HTTP).

Organisations get their AFIP certificate the way a user does (``make_afip_org``: key + CSR in the app,
the sandbox CA plays AFIP's portal). ``padron_calls`` counts the requests that reached the padrón
sandbox, so a test can tell an answer from the cache from one AFIP gave.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from server.asgi import create_app
from server.domain.afip_padron.services import CACHE_PREFIX
from server.runtime import Resources
from server.sandbox.afip.app import RunningAfipSandbox, start_afip_sandbox
from server.sandbox.afip.padron import PadronSandbox
from server.settings import Settings
from tests.conftest import running


class CallCounter:
    """Counts the SOAP requests the padrón sandbox handles (wraps its ``handle``; answers are unchanged)."""

    def __init__(self, padron: PadronSandbox) -> None:
        self.count = 0
        self._handle = padron.handle

    def __call__(self, body: bytes) -> Any:
        self.count += 1
        return self._handle(body)


@pytest.fixture(name="padron_sandbox", scope="session")
def fixture_padron_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAfipSandbox]:
    sandbox = start_afip_sandbox("127.0.0.1", data_dir=tmp_path_factory.mktemp("afip-padron-sandbox"))
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(name="afip")
def fixture_afip(padron_sandbox: RunningAfipSandbox) -> Iterator[RunningAfipSandbox]:
    """The session's sandbox with its known CUITs only and no faults left over from another test."""
    padron_sandbox.sandbox.padron.reset()
    yield padron_sandbox
    padron_sandbox.sandbox.padron.reset()


@pytest.fixture(name="padron_calls")
def fixture_padron_calls(afip: RunningAfipSandbox, monkeypatch: pytest.MonkeyPatch) -> CallCounter:
    counter = CallCounter(afip.sandbox.padron)
    monkeypatch.setattr(afip.sandbox.padron, "handle", counter)
    return counter


@pytest.fixture(name="afip_settings")
def fixture_afip_settings(settings: Settings, afip: RunningAfipSandbox, tmp_path: Path) -> Settings:
    return msgspec.structs.replace(
        settings,
        storage_dir=tmp_path / "files",
        afip_wsaa_url=afip.wsaa_url,
        afip_wsfe_url=afip.wsfe_url,
        afip_padron_url=afip.padron_url,
        afip_timeout_seconds=2,
    )


async def _forget_cached_answers(resources: Resources) -> None:
    keys = [key async for key in resources.redis.scan_iter(match=CACHE_PREFIX + "*")]
    if keys:
        await resources.redis.delete(*keys)


@pytest.fixture(name="afip_client")
async def fixture_afip_client(afip_settings: Settings, resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    previous = resources.settings
    resources.settings = afip_settings  # the AFIP gateway reads the addresses from here
    await _forget_cached_answers(resources)  # every test starts with AFIP's answers not yet cached
    app: Litestar = create_app(afip_settings, resources)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{1 + secrets.randbelow(250)}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    try:
        async with running(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        gateway = resources.extras.pop("afip_gateway", None)
        if gateway is not None:
            await gateway.aclose()
        resources.settings = previous
        await _forget_cached_answers(resources)
