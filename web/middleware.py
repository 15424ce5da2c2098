"""What every request and response goes through, outside the app and its error handling: the
cap on the request body and the security headers. Both are pure ASGI middlewares (no
``BaseHTTPMiddleware``, which would buffer and hide the stream), wrapped around the whole
Starlette stack by ``web.app.RoadmapApp``, so that they also see Starlette's own answers:
404, 405, 422, and the 500 of its ``ServerErrorMiddleware``.

Starlette 1.6 has a ``max_body_size`` of its own, but FastAPI does not pass it on yet, and a
refusal here must also close the connection: that is what makes uvicorn stop reading what is
left of a body the app will never read (it reads and discards it otherwise).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# On every response, whoever made it. The URLs of task pages carry their token: no Referer, no cache.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
DEFAULT_HEADERS = {"Cache-Control": "no-store"}  # a response may say otherwise (none does today)


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` (replacing any of the same name) and ``DEFAULT_HEADERS`` (unless
    present) to the start of every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                for name, value in DEFAULT_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    """Raised by ``receive`` inside the app once the body has passed the cap."""


class BodyLimit:
    """Refuses a request body longer than ``max_bytes`` with ``too_large(scope)`` (a 413), before
    reading it when its Content-Length says so, and else as soon as the bytes counted in
    ``receive`` pass the cap: nothing beyond the cap is held, whatever the app does with the body.

    A response sent before the body was read to its end (a refusal, a 404, a route that reads
    no body) closes the connection, so the server stops reading the rest."""

    def __init__(self, app: ASGIApp, max_bytes: int, too_large: Callable[[Scope], Response]) -> None:
        self.app, self.max_bytes, self.too_large = app, max_bytes, too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(scope, receive, send)
            return
        unread = declared not in ("", "0") or "transfer-encoding" in headers  # a body is on its way
        received, over, started = 0, False, False

        async def capped_receive() -> Message:
            nonlocal received, over, unread
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                unread = message.get("more_body", False)
                if received > self.max_bytes:
                    over = True
                    raise BodyTooLarge
            return message

        async def checked_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the app's own answer to a body it could not read: the 413 goes instead
            if message["type"] == "http.response.start":
                started = True
                if unread:
                    MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        try:
            await self.app(scope, capped_receive, checked_send)
        except BodyTooLarge:
            if started:
                raise  # too late for a 413; the server drops the connection
        if over and not started:
            await self.refuse(scope, receive, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response = await run_in_threadpool(self.too_large, scope)  # it may read the database
        response.headers["Connection"] = "close"
        await response(scope, receive, send)

