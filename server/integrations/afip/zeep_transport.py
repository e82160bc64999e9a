"""What the AFIP SOAP clients share: packaged WSDLs, a quiet httpx transport for zeep, failure mapping.

The WSDLs are read from ``server/integrations/afip/wsdl/`` (parsed once per process), never fetched:
the address of each service comes from configuration. zeep's own transport logs whole request bodies
(tokens, signs, CUITs) at DEBUG; ours logs nothing, the clients log what is safe.

Failures become the types of ``errors.py``:

- connection refused / DNS / connect or pool timeout → ``AfipTransientError`` (nothing reached AFIP);
- read or write timeout, connection dropped before the answer → ``AfipTimeoutAfterSend`` (AFIP may
  have acted: ask before sending again);
- HTTP 5xx, a SOAP fault from the server side, an unreadable answer → ``AfipTransientError``;
- a SOAP fault blaming the client, other HTTP statuses → ``AfipPermanentError``.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import httpx
import zeep.exceptions
from lxml.etree import XMLSyntaxError
from zeep import AsyncClient, Settings
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport
from zeep.wsdl import Document

from server.integrations.afip.errors import (
    AfipError,
    AfipPermanentError,
    AfipTimeoutAfterSend,
    AfipTransientError,
)

WSDL_DIR = Path(__file__).parent / "wsdl"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

T = TypeVar("T")


class PackagedWsdlTransport(AsyncTransport):
    """zeep's async transport over one ``httpx.AsyncClient``; no body logging, no network WSDL loads."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:  # no super(): no sync client
        self._close_session = False
        self.cache = None
        self.load_timeout = 5
        self.operation_timeout = None
        self.client = client  # type: ignore[assignment]
        self.wsdl_client = None
        self.logger = logging.getLogger(__name__)

    def _load_remote_data(self, url: str) -> bytes:
        raise RuntimeError(f"AFIP WSDLs and schemas are loaded from the package, not from {url}")

    async def post(self, address: str, message: bytes, headers: dict[str, str]) -> httpx.Response:
        assert self.client is not None
        return await self.client.post(address, content=message, headers=headers)

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


def afip_http_client(url: str, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """An httpx client for an AFIP host: usual certificate checks plus the old AES128-SHA suite AFIP still uses."""
    verify: ssl.SSLContext | bool = True
    if url.startswith("https:"):
        verify = ssl.create_default_context()
        verify.set_ciphers("DEFAULT:AES128-SHA@SECLEVEL=1")
    return httpx.AsyncClient(timeout=timeout, verify=verify)


def _settings() -> Settings:
    # lenient with answers (AFIP adds elements over time), never fetch external entities
    return Settings(strict=False, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True)


@lru_cache(maxsize=8)
def packaged_wsdl(name: str) -> Document:
    """The parsed WSDL ``wsdl/<name>`` (cached: parsing the WSFE one takes ~0.4 s)."""
    return Document(str(WSDL_DIR / name), PackagedWsdlTransport(), settings=_settings())  # type: ignore[arg-type]


def bind_service(wsdl_name: str, address: str, http: httpx.AsyncClient) -> tuple[AsyncClient, AsyncServiceProxy]:
    """A zeep ``AsyncClient`` on the packaged WSDL and its first service port, pointed at ``address``."""
    client = AsyncClient(packaged_wsdl(wsdl_name), transport=PackagedWsdlTransport(http), settings=_settings())
    binding = client.service._binding
    return client, AsyncServiceProxy(client, binding, address=address)


class AfipSoapClient:
    """One AFIP SOAP endpoint on a packaged WSDL; ``aclose()`` (or ``async with``) ends it.

    Subclasses name their ``wsdl_name`` and ``default_url``; ``http`` lends a client the caller keeps open."""

    wsdl_name: ClassVar[str]
    default_url: ClassVar[str]

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url = self.default_url if url is None else url
        self._own_http = http is None
        self._http = http or afip_http_client(url, timeout)
        self._client, self._service = bind_service(self.wsdl_name, url, self._http)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def soap_call(service: str, operation: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run one SOAP call, turning transport and SOAP failures into ``AfipError`` subclasses."""
    try:
        return await call()
    except AfipError:
        raise
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol) as exc:
        raise AfipTransientError(f"{service} {operation}: no se pudo conectar ({type(exc).__name__})") from None
    except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
        raise AfipTimeoutAfterSend(
            f"{service} {operation}: enviado y sin respuesta a tiempo ({type(exc).__name__})"
        ) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise AfipTimeoutAfterSend(
            f"{service} {operation}: la conexión se cortó antes de la respuesta ({type(exc).__name__})"
        ) from None
    except httpx.HTTPError as exc:
        raise AfipTransientError(f"{service} {operation}: error de red ({type(exc).__name__})") from None
    except zeep.exceptions.TransportError as exc:
        status = exc.status_code or None
        if status is not None and (status >= 500 or status in (408, 429)):
            raise AfipTransientError(f"{service} {operation}: HTTP {status}", status=status) from None
        raise AfipPermanentError(f"{service} {operation}: HTTP {status}", status=status) from None
    except zeep.exceptions.Fault as exc:
        code = (exc.code or "").lower()
        text = (exc.message or "").strip()[:300]
        if "client" in code:
            raise AfipPermanentError(f"{service} {operation}: {text}") from None
        raise AfipTransientError(f"{service} {operation}: {text or 'falla SOAP del servidor'}", status=500) from None
    except (zeep.exceptions.XMLParseError, XMLSyntaxError, zeep.exceptions.ValidationError) as exc:
        raise AfipTransientError(f"{service} {operation}: respuesta ilegible ({type(exc).__name__})") from None


def value(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` for zeep objects and dicts alike, ``default`` when missing or None."""
    if obj is None:
        return default
    got = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return default if got is None else got


def items(array: Any, name: str) -> list[Any]:
    """The repeated ``name`` children of an ``ArrayOfX`` wrapper (zeep gives None for an empty one)."""
    inner = value(array, name)
    if inner is None:
        return []
    return list(inner) if isinstance(inner, list) else [inner]
