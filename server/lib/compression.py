"""Response compression that costs nothing for responses too small to compress.

Litestar's ``CompressionMiddleware`` builds a ``Headers`` object from the request and, when the client
accepts gzip, a ``GzipFile`` (a zlib compressor and a gzip header) for every request, before it knows
whether the body reaches ``minimum_size``. This subclass reads ``Accept-Encoding`` straight from the raw
scope and makes the compressor only when a body is actually compressed; what it sends is the same.
"""

from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING, Literal

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import CompressionEncoding
from litestar.middleware.compression import CompressionMiddleware
from litestar.middleware.compression.gzip_facade import GzipCompression
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState

if TYPE_CHECKING:
    from litestar.middleware.compression.facade import CompressionFacade
    from litestar.types import HTTPResponseStartEvent, Message, Receive, Scope, Send


def _accept_encoding(scope: Scope) -> str:
    """The first ``Accept-Encoding`` value (as ``Headers.from_scope(scope).get("accept-encoding", "")``)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding" or name.lower() == b"accept-encoding":
            return value.decode("latin-1")
    return ""


class LazyCompressionMiddleware(CompressionMiddleware):
    """``CompressionMiddleware`` with the compressor made on first use (see the module docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accept_encoding = _accept_encoding(scope)
        if not accept_encoding:
            await self.app(scope, receive, send)
            return
        config = self.config
        if config.compression_facade.encoding in accept_encoding:
            encoding: str = config.compression_facade.encoding
        elif config.gzip_fallback and CompressionEncoding.GZIP in accept_encoding:
            encoding = CompressionEncoding.GZIP
        else:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self.create_compression_send_wrapper(send, encoding, scope))

    def create_compression_send_wrapper(
        self,
        send: Send,
        compression_encoding: Literal[CompressionEncoding.BROTLI, CompressionEncoding.GZIP] | str,
        scope: Scope,
    ) -> Send:
        """As Litestar's, message for message, but the buffer and the compressor are made when first needed."""
        config = self.config
        bytes_buffer: BytesIO | None = None
        facade: CompressionFacade | None = None
        initial_message: HTTPResponseStartEvent | None = None
        started = False
        connection_state = ScopeState.from_scope(scope)

        def compressor() -> tuple[BytesIO, CompressionFacade]:
            nonlocal bytes_buffer, facade
            if bytes_buffer is None or facade is None:
                bytes_buffer = BytesIO()
                # gzip may be the fallback of another backend: then the configured facade is not gzip's
                if compression_encoding == CompressionEncoding.GZIP:
                    facade = GzipCompression(
                        buffer=bytes_buffer, compression_encoding=compression_encoding, config=config
                    )
                else:
                    facade = config.compression_facade(
                        buffer=bytes_buffer, compression_encoding=compression_encoding, config=config
                    )
            return bytes_buffer, facade

        async def send_wrapper(message: Message) -> None:
            nonlocal started, initial_message

            if message["type"] == "http.response.start":
                initial_message = message
                return

            if initial_message is not None and value_or_default(connection_state.is_cached, False):
                await send(initial_message)
                await send(message)
                if facade is not None:
                    facade.close()
                return

            if initial_message and message["type"] == "http.disconnect":
                if facade is not None:
                    facade.close()
                return

            if initial_message and message["type"] == "http.response.body":
                body = message["body"]
                more_body = message.get("more_body")

                if not started:
                    started = True
                    if more_body:
                        buffer, compress = compressor()
                        headers = MutableScopeHeaders(initial_message)
                        headers["Content-Encoding"] = compression_encoding
                        headers.extend_header_value("vary", "Accept-Encoding")
                        del headers["Content-Length"]
                        connection_state.response_compressed = True

                        compress.write(body)

                        message["body"] = buffer.getvalue()
                        buffer.seek(0)
                        buffer.truncate()
                        await send(initial_message)
                        await send(message)

                    elif len(body) >= config.minimum_size:
                        buffer, compress = compressor()
                        compress.write(body)
                        compress.close()
                        body = buffer.getvalue()

                        headers = MutableScopeHeaders(initial_message)
                        headers["Content-Encoding"] = compression_encoding
                        headers["Content-Length"] = str(len(body))
                        headers.extend_header_value("vary", "Accept-Encoding")
                        message["body"] = body
                        connection_state.response_compressed = True

                        await send(initial_message)
                        await send(message)

                    else:  # too small to compress: nothing was made, nothing to close
                        await send(initial_message)
                        await send(message)

                else:
                    buffer, compress = compressor()
                    compress.write(body)
                    if not more_body:
                        compress.close()

                    message["body"] = buffer.getvalue()

                    buffer.seek(0)
                    buffer.truncate()

                    if not more_body:
                        buffer.close()

                    await send(message)

        return send_wrapper


__all__ = ["LazyCompressionMiddleware"]
