"""Send Insights to HTTP Endpoint: one POST per frame, the message as the JSON body.

The body is the message object itself (``{"image": ...}``), never a JSON string
inside JSON as POSS sent. 5xx, 408, 429 and connection errors are retried with
backoff from the outbox; 401/403 (credentials) keep every message and retry
slowly; any other 4xx is not retried: the message is dropped (counted) and the
error names the status and the first line of the body.

Like POSS (and unlike the other exports) every frame is posted, objects or not:
the endpoint sees the skill's full stream.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx

from designer.core.engine.nodes.delivery import ExportRuntime, Refused, Rejected, Transient, secret_value
from designer.core.skill.catalog.exports import HttpParams

TOKEN_ENV = "HTTP_BEARER_TOKEN"
_RETRY_STATUS = {408, 425, 429}
_CREDENTIAL_STATUS = {401, 403, 407}


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


class HttpRuntime(ExportRuntime):
    gated = False
    params: HttpParams

    def connect(self) -> None:
        p = self.params
        self.endpoint = public_url(p.url)
        token = secret_value(p.bearer_token, TOKEN_ENV, node_id=self.node_id, param="bearer_token")
        parts = urlsplit(p.url)
        self.secrets = tuple(s for s in (token, parts.password or "", parts.query) if s)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(timeout=p.timeout_s, headers=headers, follow_redirects=True)

    def send(self, payload: bytes) -> None:
        try:
            response = self.client.post(self.params.url, content=payload)
        except httpx.TimeoutException:
            raise Transient(f"no answer within {self.params.timeout_s:g} s (parameter 'timeout_s')") from None
        except httpx.TransportError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status < 300:
            return
        line = first_line(response.text)
        if status >= 500 or status in _RETRY_STATUS:
            raise Transient(f"HTTP {status}: {line}")
        if status in _CREDENTIAL_STATUS:
            raise Refused(
                f"{self.endpoint} refused the credentials: HTTP {status}: {line} (check 'bearer_token')"
            )
        raise Rejected(f"HTTP {status}: {line}")

    def disconnect(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            self.client = None
            client.close()

    def update(self, params: HttpParams) -> bool:
        return params == self.params
