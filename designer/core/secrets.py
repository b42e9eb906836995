"""Credentials in URL-like text: one place that finds and masks them.

Used by every message, log line and exporter that may show a URL a user typed (camera sources,
export endpoints), so a password is never printed or written: ``mask_secrets`` hides the user
info of every URL in a text and the values of secret query keys; ``split_url_secrets`` takes
them out of one URL so an importer can move them into ``$param(...)`` placeholders.
"""

from __future__ import annotations

import re

MASK = "***"

#: Query keys whose value is a credential (compared in lower case).
SECRET_QUERY_KEYS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "token", "access_token", "id_token", "auth", "authorization",
        "key", "api_key", "apikey", "api-key", "secret", "client_secret", "sig", "signature", "sas",
        "credential", "credentials", "code", "subscription-key", "x-amz-signature", "x-amz-credential",
        "x-amz-security-token", "x-goog-signature", "x-goog-credential", "refresh_token",
    }
)  # fmt: skip

# A URL-like run of text: a scheme, one or more slashes (a path tool may have collapsed "//"),
# then everything up to white space or a quote. Mistyped schemes (htp://, rstp://) match too.
_URL_RE = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*:/+)([^\s'\"<>`]+)")
# User info up to the last "@" of the URL: a password holding "/" or "@" unescaped is still
# hidden; an "@" later in the URL masks too much, never too little.
_USERINFO_RE = re.compile(r"^.*@")
_QUERY_SECRET_RE = re.compile(
    r"(?i)([?&;#](?:" + "|".join(re.escape(k) for k in sorted(SECRET_QUERY_KEYS)) + r")=)[^&;#\s]*"
)
# Connection strings (Azure storage, IoT Hub) and bearer tokens outside URLs.
_KEYVALUE_SECRET_RE = re.compile(
    r"(?i)((?:^|[;\s])(?:AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret)=)"
    r"[^;\s]*"
)
_BEARER_RE = re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]+")


def _mask_url(match: re.Match) -> str:
    scheme, rest = match.group(1), match.group(2)
    authority_end = len(rest)
    for stop in "?#":  # user info lives before the query; an "@" in the query is not user info
        index = rest.find(stop)
        if index != -1:
            authority_end = min(authority_end, index)
    head, tail = rest[:authority_end], rest[authority_end:]
    if "@" in head:
        head = _USERINFO_RE.sub(f"{MASK}:{MASK}@", head)
    return scheme + head + _QUERY_SECRET_RE.sub(rf"\1{MASK}", tail)


def mask_secrets(text: str) -> str:
    """``text`` with every credential in it masked: the user info of each URL (any scheme, also a
    mistyped one), the values of secret query keys (password, pwd, token, sig, key, secret...),
    connection-string keys (AccountKey=...) and bearer tokens."""
    if not text:
        return text
    text = _URL_RE.sub(_mask_url, text)
    text = _KEYVALUE_SECRET_RE.sub(rf"\1{MASK}", text)
    return _BEARER_RE.sub(rf"\1{MASK}", text)


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``): a name or
    value from a file can neither break a message into lines nor drive the terminal."""
    return _CONTROL_RE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def safe_message(text: str) -> str:
    """A message as it may be shown or logged: credentials masked, control characters escaped."""
    return escape_controls(mask_secrets(text))


def has_secrets(text: str) -> bool:
    """True when ``mask_secrets`` would hide something in ``text``."""
    return mask_secrets(text) != text


def split_url_secrets(url: str) -> tuple[str, dict[str, str]]:
    """One URL without its credentials, and the credentials taken out of it.

    The returned dict has ``username`` / ``password`` for user info and the query keys that
    held secrets; the URL keeps everything else (host, path, other query keys).
    """
    match = _URL_RE.fullmatch(url.strip())
    if match is None:
        return url, {}
    scheme, rest = match.group(1), match.group(2)
    secrets: dict[str, str] = {}
    authority_end = min([i for i in (rest.find("?"), rest.find("#")) if i != -1] or [len(rest)])
    head, tail = rest[:authority_end], rest[authority_end:]
    if "@" in head:
        userinfo, _, head = head.rpartition("@")
        user, _, password = userinfo.partition(":")
        if user:
            secrets["username"] = user
        if password:
            secrets["password"] = password
    if tail.startswith("?"):
        query, hash_mark, fragment = tail[1:].partition("#")
        kept = []
        for part in query.split("&"):
            key, _, value = part.partition("=")
            if key.lower() in SECRET_QUERY_KEYS and value:
                secrets.setdefault(key, value)
            elif part:
                kept.append(part)
        tail = ("?" + "&".join(kept) if kept else "") + hash_mark + fragment
    return scheme + head + tail, secrets


def url_scheme(text: str) -> str | None:
    """The scheme of a URL-like text (``rtsp``), lower case; None when it has none."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):/", text.strip())
    if match is None or len(match.group(1)) == 1:  # "C:/videos" is a Windows path, not a URL
        return None
    return match.group(1).lower()


__all__ = [
    "MASK",
    "SECRET_QUERY_KEYS",
    "escape_controls",
    "has_secrets",
    "mask_secrets",
    "safe_message",
    "split_url_secrets",
    "url_scheme",
]
