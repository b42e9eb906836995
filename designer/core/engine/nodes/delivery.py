"""What every sending export shares: gating, an on-disk outbox, and a delivery thread.

Why: POSS's exports dropped messages while a broker was down. Here a message is
written to a bounded outbox folder *before* it is sent, a thread of its own sends
the oldest one until the endpoint takes it, and only then removes it. So delivery
is at-least-once, in order, survives a restart of the runner (the next run sends
what is left first), and a slow or dead endpoint never holds up the frame path.

A full outbox drops its oldest message (counted, with a warning event). Each
export says how a failure should be treated by raising one of:

- ``Transient``: endpoint unreachable or busy; keep the message, retry with backoff.
- ``Rejected``: the endpoint refused this one message (HTTP 4xx); drop it, report it.
- ``Refused``: credentials or configuration refused; keep everything, report an
  error once, retry slowly (no retry storm).

``RunContext.dry_run`` (the designer's preview): messages are built and counted and
the last one kept (``delivery_stats``), nothing is written or sent.

An outbox entry is a header line (which skill, node and endpoint it is for, the payload's
length and CRC-32) and the payload, written to a temporary file, fsynced and renamed. An
entry that is torn, unreadable or not a message is set aside in ``damaged/``; one written
for another skill, node or endpoint is set aside in ``foreign/``: never sent, never
silently deleted, counted and reported once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from designer.core.engine.frame import Frame, insight_message
from designer.core.engine.runtime import NodeError, NodeRuntime, P, RunContext
from designer.core.secrets import MASK, mask_secrets

log = logging.getLogger(__name__)

OUTBOX_LIMIT_ENV = "SKILL_DESIGNER_OUTBOX_LIMIT"
RETRY_MAX_ENV = "SKILL_DESIGNER_RETRY_MAX_S"
OUTBOX_FOLDER = ".outbox"
_SEQ_RE = re.compile(r"^(\d{16})\.msg$")
ENTRY_MAGIC = b"SDOX1 "  # an outbox entry starts with this, then a JSON header line
HEADER_MAX = 4096  # bytes an entry's header line may take
DAMAGED_FOLDER = "damaged"  # torn, unreadable or unparsable entries: set aside, never sent
FOREIGN_FOLDER = "foreign"  # entries written for another skill, node or endpoint
OUTBOX_LIMIT_RANGE = (1, 10_000_000)
RETRY_MAX_RANGE = (0.25, 3600.0)
_ENV_REF_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
WARN_REPEAT_S = 10.0  # the same warning is repeated at most this often


class Transient(Exception):
    """The endpoint cannot take the message now: keep it and try again later."""


class Rejected(Exception):
    """The endpoint refused this message for good: drop it and say why."""


class Refused(Exception):
    """The endpoint refused the credentials or settings: keep the messages, report, retry slowly."""


def safe_name(text: str, fallback: str = "x") -> str:
    """``text`` with anything but letters, digits, '-', '_' and '.' turned into '-'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return cleaned or fallback


def secret_value(value: str, env_name: str, *, node_id: str, param: str) -> str:
    """A secret from its parameter (``$param(...)`` is already filled by then), a ``${NAME}``
    reference to an environment variable (what skill packages write), or ``$env_name``."""
    value = (value or "").strip()
    match = _ENV_REF_RE.match(value)
    if match:
        found = os.environ.get(match[1], "")
        if not found:
            raise NodeError(
                node_id, f"parameter '{param}' reads the environment variable {match[1]}, which is not set"
            )
        return found
    return value or os.environ.get(env_name, "").strip()


def scrub(text: str, *secrets: str) -> str:
    """``text`` with the node's own secrets and any credential ``mask_secrets`` finds masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return mask_secrets(text)


def env_number(name: str, default: float, low: float = -math.inf, high: float = math.inf) -> float:
    """The environment variable ``name`` as a finite number in [low, high], ``default`` when unset;
    ValueError naming the variable for anything else (nan, inf, text, out of range)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(
            f"the environment variable {name} is {raw!r}: it must be a number from {low:g} to {high:g}"
        )
    return value


def encode_entry(payload: bytes, identity: dict[str, str]) -> bytes:
    header = dict(identity, len=len(payload), crc=zlib.crc32(payload))
    return (
        ENTRY_MAGIC
        + json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
        + b"\n"
        + payload
    )


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


class DamagedEntry(ValueError):
    """An outbox entry that is not one whole message."""


def decode_entry(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """(header, payload) of a whole entry; DamagedEntry saying why for anything else."""
    if not raw.startswith(ENTRY_MAGIC):
        raise DamagedEntry("not an outbox entry" if raw else "empty")
    end = raw.find(b"\n", 0, HEADER_MAX)
    if end < 0:
        raise DamagedEntry("torn header")
    try:
        header = json.loads(raw[len(ENTRY_MAGIC) : end])
        length, crc = int(header["len"]), int(header["crc"])
    except (ValueError, KeyError, TypeError):
        raise DamagedEntry("unreadable header") from None
    payload = raw[end + 1 :]
    if len(payload) != length:
        raise DamagedEntry(f"{len(payload)} of {length} bytes")
    if zlib.crc32(payload) != crc:
        raise DamagedEntry("checksum mismatch")
    return header, payload


class Outbox:
    """A bounded FIFO of messages, one file each, in a folder of its own.

    Each entry is written to a temporary name, fsynced and renamed, so a crash never leaves a
    half message under an entry's name; names are sequence numbers, so order survives a
    restart. Entries carry ``identity`` (skill, node, endpoint): one written for another is
    set aside in ``foreign/``; one that is torn, unreadable or not an entry in ``damaged/``.
    ``on_set_aside(kind, count, text)`` hears of each. One process at a time: a second run of the
    same skill in the same folder gets OutboxBusy.
    """

    def __init__(
        self,
        folder: Path,
        limit: int,
        identity: dict[str, str] | None = None,
        on_set_aside: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self.folder = folder
        self.limit = max(1, int(limit))
        self.identity = dict(identity or {})
        self.on_set_aside = on_set_aside
        self.set_aside = {DAMAGED_FOLDER: 0, FOREIGN_FOLDER: 0}
        self.last_set_aside: dict[str, str] = {}
        self._lock = threading.Lock()
        self._inflight: int | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self._owner = (folder / ".lock").open("a")
        try:
            fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._owner.close()
            raise OutboxBusy(folder) from None
        seqs = []
        for path in folder.iterdir():
            match = _SEQ_RE.match(path.name)
            if match:
                kind, reason = self._check_at_start(path)
                if kind is None:
                    seqs.append(int(match[1]))
                else:
                    self._set_aside(path, kind, reason)
            elif path.name.endswith(".tmp"):  # a write the process did not finish: never a message
                path.unlink(missing_ok=True)
        seqs.sort()
        self._seqs: deque[int] = deque(seqs)
        self._next = (seqs[-1] + 1) if seqs else 1

    def _check_at_start(self, path: Path) -> tuple[str | None, str]:
        """(None, "") for an entry that may be whole and is this outbox's own (its size matches its
        header), else the folder to set it aside in and why. Reads the header only, so a start
        with 10,000 entries waiting stays quick; the checksum is checked before sending."""
        try:
            with path.open("rb") as file:
                head = file.read(HEADER_MAX)
                size = os.fstat(file.fileno()).st_size
        except OSError as exc:
            return DAMAGED_FOLDER, f"cannot read it: {exc.strerror or exc}"
        end = head.find(b"\n")
        if not head.startswith(ENTRY_MAGIC) or end < 0:
            return DAMAGED_FOLDER, "not an outbox entry" if head else "empty"
        try:
            header = json.loads(head[len(ENTRY_MAGIC) : end])
            length = int(header["len"])
        except (ValueError, KeyError, TypeError):
            return DAMAGED_FOLDER, "unreadable header"
        if size != end + 1 + length:
            return DAMAGED_FOLDER, f"{size - end - 1} of {length} bytes"
        other = self._not_ours(header)
        return (FOREIGN_FOLDER, other) if other else (None, "")

    def _not_ours(self, header: dict[str, Any]) -> str:
        """'' for an entry written for this outbox's identity, else what it was written for."""
        other = {k: header.get(k) for k in self.identity if header.get(k) != self.identity[k]}
        return "written for " + ", ".join(f"{k} {v!r}" for k, v in other.items()) if other else ""

    def _set_aside(self, path: Path, kind: str, reason: str) -> None:
        """Move ``path`` into the ``kind`` folder (never sent, never deleted) and report it."""
        target_folder = self.folder / kind
        where = target_folder / path.name
        try:
            target_folder.mkdir(exist_ok=True)
            number = 1
            while where.exists():
                where = target_folder / f"{path.name}.{number}"
                number += 1
            os.replace(path, where)
        except OSError as exc:
            where = path  # cannot move it: it stays where it is, but is no longer tried
            reason += f" (and it cannot be moved aside: {exc.strerror or exc})"
        self.set_aside[kind] += 1
        self.last_set_aside[kind] = f"'{where.name}': {reason}"
        if self.on_set_aside is not None and hasattr(self, "_seqs"):  # at start: reported once, after
            self.on_set_aside(kind, self.set_aside[kind], self.last_set_aside[kind])

    def __len__(self) -> int:
        with self._lock:
            return len(self._seqs)

    def release(self) -> None:
        """Let another run use this outbox (what is queued stays for it)."""
        if not self._owner.closed:
            self._owner.close()

    def _path(self, seq: int) -> Path:
        return self.folder / f"{seq:016d}.msg"

    def _write(self, seq: int, payload: bytes) -> None:
        """Write to a temporary file, flush and fsync it, then rename it into place; a failed
        write (a full disk) leaves nothing behind."""
        tmp = self.folder / f"{seq:016d}.tmp"
        data = encode_entry(payload, self.identity)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self._path(seq))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put(self, payload: bytes) -> list[bytes]:
        """Append a message; returns the oldest ones dropped to make room (usually none)."""
        with self._lock:
            seq = self._next
            self._write(seq, payload)
            self._next += 1
            self._seqs.append(seq)
            dropped = []
            while len(self._seqs) > self.limit:
                index = 1 if self._seqs[0] == self._inflight and len(self._seqs) > 1 else 0
                victim = self._seqs[index]
                del self._seqs[index]
                path = self._path(victim)
                try:
                    dropped.append(decode_entry(path.read_bytes())[1])
                except (OSError, DamagedEntry):
                    dropped.append(b"")
                path.unlink(missing_ok=True)
            return dropped

    def head(self) -> tuple[int, bytes] | None:
        """The oldest whole message of this outbox's own, marked in flight (a full outbox then
        drops the next one); entries that are not are set aside on the way."""
        with self._lock:
            while self._seqs:
                seq = self._seqs[0]
                path = self._path(seq)
                try:
                    header, payload = decode_entry(path.read_bytes())
                except FileNotFoundError:  # removed behind our back: skip it
                    self._seqs.popleft()
                    continue
                except OSError as exc:  # a folder in its place, EIO, EACCES
                    self._seqs.popleft()
                    self._set_aside(path, DAMAGED_FOLDER, f"cannot read it: {exc.strerror or exc}")
                    continue
                except DamagedEntry as exc:
                    self._seqs.popleft()
                    self._set_aside(path, DAMAGED_FOLDER, str(exc))
                    continue
                other = self._not_ours(header)
                if other:
                    self._seqs.popleft()
                    self._set_aside(path, FOREIGN_FOLDER, other)
                    continue
                self._inflight = seq
                return seq, payload
            return None

    def remove(self, seq: int) -> None:
        with self._lock:
            if self._inflight == seq:
                self._inflight = None
            try:
                self._seqs.remove(seq)
            except ValueError:
                return  # already dropped
            self._path(seq).unlink(missing_ok=True)


class OutboxBusy(OSError):
    """Another process holds this outbox."""


class ExportRuntime(NodeRuntime[P]):
    """An export node that builds one message per (gated) frame and delivers it from its outbox.

    Subclasses set ``endpoint`` (for messages, without secrets), implement
    ``connect`` (build the client; raise NodeError for settings that cannot work) and
    ``send(payload)``, and may override ``build`` and ``disconnect``.
    """

    gated: ClassVar[bool] = True  # frames without objects never send; one per delay_buffer_s
    outbox_limit: ClassVar[int] = 10_000
    retry_initial_s: ClassVar[float] = 0.25
    retry_max_s: ClassVar[float] = 10.0
    refused_retry_s: ClassVar[float] = 60.0
    flush_timeout_s: ClassVar[float] = 3.0

    endpoint: str = ""
    secrets: tuple[str, ...] = ()

    def __init__(self, node_id: str, params: P, context: RunContext) -> None:
        super().__init__(node_id, params, context)
        self.outbox: Outbox | None = None
        self.messages = 0  # built (in a dry run: what would have been sent)
        self.sent = 0
        self.dropped_messages = 0
        self.last_message: str | None = None
        self._last_due: float | None = None
        self._counts_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._outage_since: float | None = None
        self._refused: str | None = None
        self._warned: dict[str, float] = {}
        self._retry_max = self.retry_max_s
        self._failures = 0

    # --- what subclasses provide ---------------------------------------------------------

    def connect(self) -> None:
        """Build the client from the parameters; raise NodeError when they cannot work."""

    def send(self, payload: bytes) -> None:
        raise NotImplementedError

    def disconnect(self) -> None:
        """Release the client; safe to call twice."""

    def build(self, frame: Frame) -> dict:
        return insight_message(
            frame,
            instance_id=self.context.instance_id,
            skill_id=self.context.skill_id,
            device_id=self.context.device_id,
        )

    # --- the runtime ---------------------------------------------------------------------

    @property
    def dry(self) -> bool:
        return bool(getattr(self.context, "dry_run", False))

    def outbox_folder(self) -> Path:
        """``.outbox/<skill>-<hash of the skill's name>/<node>-<hash of its id>``: skills whose names
        differ only in punctuation or script ("Lot A", "Lot-A", two Japanese names) never share one."""
        skill = self.context.skill_id or "skill"
        return (
            self.context.output_dir
            / OUTBOX_FOLDER
            / f"{safe_name(skill, 'skill')}-{_short_hash(skill)}"
            / f"{safe_name(self.node_id)}-{_short_hash(self.node_id)}"
        )

    def outbox_identity(self) -> dict[str, str]:
        """What each entry is written for: a message is only ever sent by its own skill's node to
        the endpoint it was queued for (``endpoint`` holds no secrets)."""
        return {"skill": self.context.skill_id or "", "node": self.node_id, "endpoint": self.endpoint}

    def _settings_from_environment(self) -> int:
        """The outbox limit, after checking both delivery variables (a clear error naming one)."""
        try:
            limit = env_number(OUTBOX_LIMIT_ENV, self.outbox_limit, *OUTBOX_LIMIT_RANGE)
            self._retry_max = env_number(RETRY_MAX_ENV, self.retry_max_s, *RETRY_MAX_RANGE)
        except ValueError as exc:
            raise self.fail(str(exc)) from None
        return int(limit)

    def _on_set_aside(self, kind: str, count: int, text: str) -> None:
        folder = self.outbox_folder() / kind
        if kind == FOREIGN_FOLDER:
            message = (
                f"set aside {count} queued messages written for another skill, node or endpoint (the last: "
                f"{text}); they are kept in '{folder}' and not sent to {self.endpoint}"
            )
        else:
            message = (
                f"set aside {count} outbox entries that are not whole messages (the last: {text}); they are "
                f"kept in '{folder}' and not sent"
            )
        self.warn_once(f"aside-{kind}", message)

    def open(self) -> None:
        if self.dry:
            return
        limit = self._settings_from_environment()
        self.connect()
        if not self.uses_outbox():
            return
        folder = self.outbox_folder()
        try:
            self.outbox = Outbox(folder, limit, self.outbox_identity(), self._on_set_aside)
        except OutboxBusy:
            self.disconnect()
            raise self.fail(
                f"another run of this skill is using the outbox '{folder}'; run each copy of a skill "
                "from its own folder"
            ) from None
        except OSError as exc:
            self.disconnect()
            raise self.fail(
                f"cannot use the outbox folder '{folder}': {exc.strerror or exc}; run from a folder you "
                "can write to"
            ) from exc
        for kind, count in self.outbox.set_aside.items():
            if count:
                self._on_set_aside(kind, count, self.outbox.last_set_aside[kind])
        waiting = len(self.outbox)
        if waiting:
            self.context.warn(
                self.node_id,
                f"{waiting} messages from an earlier run are waiting in '{folder}'; sending them first",
            )
        self._thread = threading.Thread(
            target=self._deliver_loop, name=f"node-{self.node_id}-delivery", daemon=True
        )
        self._thread.start()

    def uses_outbox(self) -> bool:
        """False for an export that has nothing to deliver (a snippet kept locally)."""
        return True

    def due(self, frame: Frame) -> bool:
        """Gating: objects in the frame, and ``delay_buffer_s`` since the last message."""
        if not self.gated:
            return True
        if not frame.objects:
            return False
        delay = float(getattr(self.params, "delay_buffer_s", 0.0) or 0.0)
        last = self._last_due
        if last is not None and last <= frame.timestamp < last + delay:
            return False
        self._last_due = frame.timestamp
        return True

    def process(self, frame: Frame) -> None:
        if not self.due(frame):
            return None
        try:
            payload = json.dumps(self.build(frame), separators=(",", ":"), allow_nan=False).encode("utf-8")
        except ValueError:
            with self._counts_lock:
                self.dropped_messages += 1
            raise self.fail(
                f"frame {frame.frame_id}: the insight message holds a number that is not finite (NaN or "
                "infinity), which JSON cannot carry; it was not sent (check the node upstream)"
            ) from None
        self.enqueue(payload)
        return None

    def enqueue(self, payload: bytes, *, count: bool = True, deliver: bool = True) -> None:
        """Count the message, keep it as the last one, and (unless dry) queue it for delivery."""
        if count:
            with self._counts_lock:
                self.messages += 1
                self.last_message = payload.decode("utf-8", "replace")
        if self.dry or not deliver:
            return
        if self.outbox is None:
            raise self.fail("the export is not open: open() must run before frames flow")
        try:
            dropped = self.outbox.put(payload)
        except OSError as exc:
            with self._counts_lock:
                self.dropped_messages += 1
            raise self.fail(
                f"cannot write to the outbox '{self.outbox.folder}': {exc.strerror or exc}; the message was "
                "dropped"
            ) from exc
        if dropped:
            with self._counts_lock:
                self.dropped_messages += len(dropped)
            self.on_dropped(dropped)
            self.warn_once(
                "full",
                f"the outbox is full ({self.outbox.limit} messages waiting for {self.endpoint}); dropped the "
                f"oldest, {self.dropped_messages} dropped so far",
            )
        self._wake.set()

    def on_dropped(self, payloads: list[bytes]) -> None:
        """Hook for exports whose messages point at files (snippets)."""

    def delivery_stats(self) -> dict[str, Any]:
        """sent / queued / dropped for the node's metrics (``NodeStats``)."""
        with self._counts_lock:
            return {
                "messages": self.messages,
                "sent": self.sent,
                "queued": len(self.outbox) if self.outbox is not None else 0,
                "messages_dropped": self.dropped_messages,
                "last_message": self.last_message,
            }

    def warn_once(self, key: str, message: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -WARN_REPEAT_S) >= WARN_REPEAT_S:
            self._warned[key] = now
            self.context.warn(self.node_id, scrub(message, *self.secrets))

    def report_error(self, message: str) -> None:
        reporter = getattr(self.context, "error", None) or self.context.warn
        reporter(self.node_id, scrub(message, *self.secrets))

    def _deliver_loop(self) -> None:
        """Send the oldest message until the run stops; nothing here may end the thread (an
        unexpected failure is reported, and delivery goes on after a pause)."""
        self._failures = 0
        while not self._stopping.is_set():
            try:
                self._deliver_one()
            except Exception as exc:  # a bug or a disk failure outside send(): never a silent stop
                log.warning("export %s: delivery failed", self.node_id, exc_info=exc)
                self.report_error(
                    f"delivery from the outbox failed: {type(exc).__name__}: {exc}; the messages stay in "
                    f"'{self.outbox_folder()}' and delivery is tried again"
                )
                self._stopping.wait(self._retry_max)

    def _deliver_one(self) -> None:
        item = self.outbox.head() if self.outbox is not None else None
        if item is None:
            self._wake.wait(0.5)
            self._wake.clear()
            return
        assert self.outbox is not None
        seq, payload = item
        try:
            self.send(payload)
        except Rejected as exc:
            self.outbox.remove(seq)
            with self._counts_lock:
                self.dropped_messages += 1
            self.report_error(f"{self.endpoint} refused a message, which was dropped: {exc}")
            return
        except Refused as exc:
            text = str(exc)
            if text != self._refused:
                self._refused = text
                self.report_error(
                    f"{text}; {len(self.outbox)} messages are kept and retried every "
                    f"{self.refused_retry_s:g} s"
                )
            self._stopping.wait(self.refused_retry_s)
            return
        except Exception as exc:  # Transient, or anything unexpected from a client library
            if not isinstance(exc, Transient):
                log.warning("export %s: unexpected send failure", self.node_id, exc_info=exc)
            self._failures += 1
            if self._outage_since is None:
                self._outage_since = time.monotonic()
            self.warn_once(
                "outage",
                f"cannot deliver to {self.endpoint} ({exc or type(exc).__name__}); keeping the "
                f"messages in the outbox ({len(self.outbox)} so far) and retrying",
            )
            delay = min(self._retry_max, self.retry_initial_s * 2 ** min(self._failures - 1, 16))
            self._stopping.wait(delay)
            return
        self.outbox.remove(seq)
        with self._counts_lock:
            self.sent += 1
        if self._outage_since is not None or self._refused is not None:
            held = time.monotonic() - self._outage_since if self._outage_since is not None else 0.0
            self.context.warn(
                self.node_id,
                f"{self.endpoint} is reachable again after {held:.1f} s; "
                f"delivering the {len(self.outbox)} queued messages",
            )
            self._warned.pop("outage", None)
        self._outage_since = None
        self._refused = None
        self._failures = 0

    def close(self) -> None:
        """Give a healthy endpoint a moment to take what is queued; the rest stays on disk."""
        thread, self._thread = self._thread, None
        if thread is not None:
            deadline = time.monotonic() + self.flush_timeout_s
            while (
                self.outbox is not None
                and len(self.outbox)
                and self._outage_since is None
                and self._refused is None
                and time.monotonic() < deadline
            ):
                self._wake.set()
                time.sleep(0.02)
            self._stopping.set()
            self._wake.set()
            thread.join(self.flush_timeout_s)
        try:
            self.disconnect()
        except Exception as exc:
            log.warning("export %s: closing the client: %s", self.node_id, scrub(str(exc), *self.secrets))
        if self.outbox is not None and (thread is None or not thread.is_alive()):
            self.outbox.release()
