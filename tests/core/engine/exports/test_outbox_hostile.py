"""The outbox under hostile conditions: skills whose names collide, entries of another skill or
endpoint, torn and unreadable entries, a disk that fills up mid-write, bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from export_helpers import Events, context, frame
from export_servers import HttpEndpoint, unused_port

from designer.core.engine.nodes.delivery import Outbox, decode_entry
from designer.core.engine.nodes.http import HttpRuntime
from designer.core.engine.runtime import NodeError
from designer.core.skill.catalog.exports import HttpParams

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(HttpRuntime, "retry_max_s", 0.2)
    monkeypatch.setattr(HttpRuntime, "refused_retry_s", 0.5)


def runtime_for(tmp_path, url: str, *, skill: str = "people counter", events: Events | None = None):
    ctx = context(tmp_path, events=events)
    ctx.skill_id = skill
    runtime = HttpRuntime("hook", HttpParams(url=url), ctx)
    runtime.open()
    return runtime


def queue_undelivered(tmp_path, url: str, frames: range, skill: str = "people counter") -> Path:
    """Run the export against ``url`` while nothing listens there; returns its outbox folder."""
    runtime = runtime_for(tmp_path, url, skill=skill)
    for i in frames:
        runtime.process(frame(i))
    folder = runtime.outbox.folder
    runtime.close()
    return folder


@pytest.mark.parametrize("first, second", [("Lot A", "Lot-A"), ("駐車場", "入口"), ("a/b", "a b")])
def test_skills_whose_names_look_alike_never_send_each_others_messages(tmp_path, first, second):
    port = unused_port()
    url = f"http://127.0.0.1:{port}/insights"
    first_box = queue_undelivered(tmp_path, url, range(3), skill=first)  # endpoint down: kept

    endpoint = HttpEndpoint(port=port)
    try:
        runtime = runtime_for(tmp_path, url, skill=second)
        runtime.process(frame(10))
        assert [m["frame_id"] for m in endpoint.wait_for(1)] == ["10"]
        runtime.close()
        assert runtime.outbox.folder != first_box
        assert {m["frame_id"] for m in endpoint.accepted} == {"10"}  # not the other skill's three
    finally:
        endpoint.close()
    assert len(list(first_box.glob("*.msg"))) == 3  # still waiting for their own skill


def test_messages_queued_for_another_endpoint_are_set_aside_not_sent_here(tmp_path):
    old_url = f"http://127.0.0.1:{unused_port()}/old"
    folder = queue_undelivered(tmp_path, old_url, range(3))

    endpoint = HttpEndpoint()
    events = Events()
    try:
        runtime = runtime_for(tmp_path, endpoint.url, events=events)
        runtime.process(frame(7))
        assert [m["frame_id"] for m in endpoint.wait_for(1)] == ["7"]
        runtime.close()
        assert [m["frame_id"] for m in endpoint.accepted] == ["7"]
    finally:
        endpoint.close()
    assert len(list((folder / "foreign").glob("*.msg"))) == 3  # kept, not deleted
    (warning,) = [m for _, m in events.warnings if "set aside" in m]
    assert "3 queued messages" in warning and "/old" in warning and "foreign" in warning


def test_torn_and_stray_entries_are_set_aside_counted_and_the_rest_delivered_in_order(tmp_path):
    port = unused_port()
    url = f"http://127.0.0.1:{port}/insights"
    folder = queue_undelivered(tmp_path, url, range(4))
    entries = sorted(folder.glob("*.msg"))
    whole = entries[1].read_bytes()
    entries[1].write_bytes(whole[: len(whole) - 10])  # the power went while it was written
    (folder / "0000000000000099.msg").write_bytes(b'{"frame_id": "99"}')  # not an entry at all
    (folder / "0000000000000100.tmp").write_bytes(b"SDOX1 {")  # a write that never finished

    endpoint = HttpEndpoint(port=port)
    events = Events()
    try:
        runtime = runtime_for(tmp_path, url, events=events)
        runtime.process(frame(4))
        assert [m["frame_id"] for m in endpoint.wait_for(4)] == ["0", "2", "3", "4"]
        runtime.close()
    finally:
        endpoint.close()
    damaged = sorted(p.name for p in (folder / "damaged").iterdir())
    assert damaged == [entries[1].name, "0000000000000099.msg"]
    assert not list(folder.glob("*.tmp"))
    warnings = [m for _, m in events.warnings if "not whole messages" in m]
    assert len(warnings) == 1 and "damaged" in warnings[0]  # once, however many


def test_an_unreadable_entry_is_set_aside_and_delivery_goes_on(tmp_path):
    port = unused_port()
    url = f"http://127.0.0.1:{port}/insights"
    folder = queue_undelivered(tmp_path, url, range(3))
    second = sorted(folder.glob("*.msg"))[1]
    second.unlink()
    second.mkdir()  # a folder in the entry's place: reading it fails with EISDIR

    endpoint = HttpEndpoint(port=port)
    events = Events()
    try:
        runtime = runtime_for(tmp_path, url, events=events)
        assert [m["frame_id"] for m in endpoint.wait_for(2)] == ["0", "2"]
        runtime.process(frame(3))  # the delivery thread is still alive
        assert [m["frame_id"] for m in endpoint.wait_for(3)] == ["0", "2", "3"]
        runtime.close()
    finally:
        endpoint.close()
    assert (folder / "damaged" / second.name).is_dir()
    assert any("cannot read it" in m and second.name in m for _, m in events.warnings)


_FILL_THE_DISK = """
import resource, signal, sys
from pathlib import Path
from designer.core.engine.nodes.delivery import Outbox

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
box = Outbox(Path(sys.argv[1]), 100)
box.put(b"small one")
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))  # a full disk for anything over 8 KiB
failures = 0
for _ in range(50):
    try:
        box.put(b"x" * 20000)
    except OSError:
        failures += 1
box.put(b"small two")
print(failures)
"""


def test_a_full_disk_leaves_no_temporary_files_and_no_half_entries(tmp_path):
    folder = tmp_path / "box"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FILL_THE_DISK), str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "50"  # every big write failed
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in folder.glob("*.msg")
    )  # no .tmp left behind, one per failed write
    box = Outbox(folder, 100)
    assert box.set_aside["damaged"] == 0  # a failed write never left a half entry under a .msg name
    assert [decode_entry(p.read_bytes())[1] for p in sorted(folder.glob("*.msg"))] == [
        b"small one",
        b"small two",
    ]


def test_each_entry_is_a_whole_message_under_its_final_name(tmp_path):
    box = Outbox(tmp_path / "box", 10, {"skill": "s", "node": "n", "endpoint": "e"})
    box.put(b'{"frame_id":"1"}')
    (entry,) = (tmp_path / "box").glob("*.msg")
    header, payload = decode_entry(entry.read_bytes())
    assert payload == b'{"frame_id":"1"}'
    assert (header["skill"], header["node"], header["endpoint"], header["len"]) == ("s", "n", "e", 16)


@pytest.mark.parametrize(
    "name, value",
    [
        ("SKILL_DESIGNER_RETRY_MAX_S", "-1"),
        ("SKILL_DESIGNER_RETRY_MAX_S", "0"),
        ("SKILL_DESIGNER_RETRY_MAX_S", "nan"),
        ("SKILL_DESIGNER_RETRY_MAX_S", "soon"),
        ("SKILL_DESIGNER_OUTBOX_LIMIT", "nan"),
        ("SKILL_DESIGNER_OUTBOX_LIMIT", "inf"),
        ("SKILL_DESIGNER_OUTBOX_LIMIT", "0"),
    ],
)
def test_bad_delivery_settings_are_refused_naming_the_variable(
    tmp_path, http_endpoint, monkeypatch, name, value
):
    monkeypatch.setenv(name, value)
    runtime = HttpRuntime("hook", HttpParams(url=http_endpoint.url), context(tmp_path))
    with pytest.raises(
        NodeError, match=rf"node hook: the environment variable {name} is '{value}': it must be"
    ):
        runtime.open()
    assert http_endpoint.requests == 0


def test_good_delivery_settings_are_used(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILL_DESIGNER_OUTBOX_LIMIT", "2")
    monkeypatch.setenv("SKILL_DESIGNER_RETRY_MAX_S", "0.5")
    runtime = runtime_for(tmp_path, f"http://127.0.0.1:{unused_port()}/down")
    for i in range(4):
        runtime.process(frame(i))
    stats = runtime.delivery_stats()
    runtime.close()
    assert (stats["queued"], stats["messages_dropped"]) == (2, 2)


def test_the_ends_of_the_accepted_ranges_are_accepted(tmp_path, monkeypatch):
    for name, value in (("SKILL_DESIGNER_RETRY_MAX_S", "0.25"), ("SKILL_DESIGNER_RETRY_MAX_S", "3600")):
        monkeypatch.setenv(name, value)
        runtime_for(tmp_path, f"http://127.0.0.1:{unused_port()}/down").close()
    monkeypatch.setenv("SKILL_DESIGNER_OUTBOX_LIMIT", "1")
    runtime = runtime_for(tmp_path, f"http://127.0.0.1:{unused_port()}/down")
    for i in range(3):
        runtime.process(frame(i))
    stats = runtime.delivery_stats()
    runtime.close()
    assert (stats["queued"], stats["messages_dropped"]) == (1, 2)
