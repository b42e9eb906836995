"""Send Insights to HTTP Endpoint: one POST per frame, the message as the JSON body.

The body is the message object itself (``{"image": ...}``), never a JSON string
inside JSON as POSS sent. Any 2xx is delivered. 5xx, 408, 425, 429 and connection
errors are retried with backoff from the outbox; 401/403/407 (credentials) keep
every message and retry slowly; any other 4xx is not retried: the message is
dropped (counted) and the error names the status and the first line of the body.

Redirects: 307 and 308 keep the method and body and are followed (up to
``MAX_REDIRECTS``); 301 and 302 are re-POSTed with the body to the new location
(what a moved endpoint means for an API; a client that turned them into a GET
would deliver nothing). Each move is warned about once, naming the new location.
303 (See Other) means "GET something else": the message is not delivered there,
it is kept and the redirect reported as a refusal. The bearer token goes only to
the host (and scheme, or http -> https) the URL names.

Every request has an overall deadline (``timeout_s`` for the whole exchange,
redirects included), so an endpoint that answers one byte a second cannot hold
delivery; at most ``BODY_LIMIT`` bytes of any answer are read.

Like POSS (and unlike the other exports) every frame is posted, objects or not:
the endpoint sees the skill's full stream.
"""

from __future__ import annotations

import logging
import math
import ssl
import time
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from designer.core.engine.nodes.delivery import ExportRuntime, Refused, Rejected, Transient, secret_value
from designer.core.skill.catalog.exports import HttpParams

TOKEN_ENV = "HTTP_BEARER_TOKEN"
BODY_LIMIT = 4096  # bytes of an answer read (for its first line); the rest is never read
MAX_REDIRECTS = 5
_RETRY_STATUS = {408, 425, 429}
_CREDENTIAL_STATUS = {401, 403, 407}
_KEEP_BODY = {307, 308}  # redirects that keep method and body by definition
_REPOST = {301, 302}  # redirects re-POSTed with the body
_DEFAULT_PORTS = {"http": 80, "https": 443}


def quiet_library_logs() -> None:
    """httpx logs every request at INFO (the URL with its query, one line per message): the run
    log would grow by one line per frame. The export reports outages itself."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def public_url(url: str) -> str:
    """The URL without user info or query: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:200] if lines else "(empty body)"


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def keeps_credentials(old: str, new: str) -> bool:
    """A token follows a redirect only to the same host and port, or from http to https on the
    same host (the usual move); never to another host, never from https down to http."""
    (s1, h1, p1), (s2, h2, p2) = _origin(old), _origin(new)
    if h1 != h2:
        return False
    if (s1, p1) == (s2, p2):
        return True
    return s1 == "http" and s2 == "https" and p1 == 80 and p2 == 443


class _Deadline(httpcore.NetworkBackend):
    """httpcore's own sockets, with every connect, read and write cut to what is left of the
    request's overall deadline (``until``, monotonic): per-read timeouts alone let a server that
    sends one byte a second hold a request for ever."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self.until = math.inf

    def left(self, timeout: float | None) -> float:
        remaining = self.until - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("the request's deadline passed")
        return remaining if timeout is None else min(timeout, remaining)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self.left(timeout), local_address, socket_options)
        return _DeadlineStream(stream, self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, self.left(timeout), socket_options), self
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, backend: _Deadline) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._backend.left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.start_tls(ssl_context, server_hostname, self._backend.left(timeout))
        return _DeadlineStream(stream, self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _transport(deadline: _Deadline) -> httpx.HTTPTransport:
    """httpx's transport on a connection pool whose sockets keep the overall deadline."""
    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool):  # a changed httpx: fail loudly, not without deadline
        raise RuntimeError("this httpx version keeps no connection pool the HTTP export can bound")
    pool.close()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=deadline
    )
    return transport


class HttpRuntime(ExportRuntime[HttpParams]):
    gated = False
    client: httpx.Client | None = None  # built by connect(), closed by disconnect()

    def connect(self) -> None:
        quiet_library_logs()
        p = self.params
        self.endpoint = public_url(p.url)
        token = secret_value(p.bearer_token, TOKEN_ENV, node_id=self.node_id, param="bearer_token")
        parts = urlsplit(p.url)
        self.secrets = tuple(s for s in (token, parts.password or "", parts.query) if s)
        self._token = token
        self._moves_told: set[str] = set()
        self._deadline = _Deadline()
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        self.client = httpx.Client(
            timeout=p.timeout_s, headers=headers, follow_redirects=False, transport=_transport(self._deadline)
        )

    def _post(self, url: str, payload: bytes) -> tuple[int, str, str]:
        """(status, first line of the body, Location) of one POST, reading at most BODY_LIMIT bytes."""
        headers = {}
        if self._token and keeps_credentials(self.params.url, url):
            headers["Authorization"] = f"Bearer {self._token}"
        client = self.client
        if client is None:  # disconnected meanwhile: retried like any failure of the client
            raise Transient("not connected")
        with client.stream("POST", url, content=payload, headers=headers) as response:
            body = b""
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > BODY_LIMIT:
                    break  # an endless answer: the connection is closed, not drained
            line = first_line(body[:BODY_LIMIT].decode("utf-8", "replace"))
            return response.status_code, line, response.headers.get("Location", "")

    def send(self, payload: bytes) -> None:
        url = self.params.url
        self._deadline.until = time.monotonic() + self.params.timeout_s
        try:
            for _ in range(MAX_REDIRECTS + 1):
                status, line, location = self._post(url, payload)
                if status in _KEEP_BODY or status in _REPOST:
                    if not location:
                        raise Rejected(f"HTTP {status} without a Location to go to")
                    url = urljoin(url, location)
                    if url not in self._moves_told:  # once per run and new location
                        self._moves_told.add(url)
                        self.context.warn(
                            self.node_id,
                            f"{self.endpoint} answers HTTP {status}: moved to {public_url(url)}; posting the "
                            "messages there (set parameter 'url' to it)",
                        )
                    continue
                break
            else:
                raise Refused(
                    f"{self.endpoint} redirects more than {MAX_REDIRECTS} times (last to {public_url(url)}); "
                    "set parameter 'url' to where it ends"
                )
        except httpx.TimeoutException:
            raise Transient(
                f"no complete answer within {self.params.timeout_s:g} s (parameter 'timeout_s')"
            ) from None
        except httpx.TransportError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from None
        finally:
            self._deadline.until = math.inf
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            where = public_url(urljoin(url, location)) if location else "(no Location)"
            raise Refused(
                f"{self.endpoint} answers HTTP {status} to {where}, a redirect that drops the message's "
                "body; messages are kept (set parameter 'url' to the endpoint that takes the POST)"
            )
        if status >= 500 or status in _RETRY_STATUS:
            raise Transient(f"HTTP {status}: {line}")
        if status in _CREDENTIAL_STATUS:
            raise Refused(
                f"{self.endpoint} refused the credentials: HTTP {status}: {line} (check 'bearer_token')"
            )
        raise Rejected(f"HTTP {status}: {line}")

    def disconnect(self) -> None:
        client = self.client
        if client is not None:
            self.client = None
            client.close()

    def update(self, params: HttpParams) -> bool:
        return params == self.params
