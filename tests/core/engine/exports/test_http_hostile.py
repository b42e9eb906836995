"""HTTP export against a server that misbehaves on purpose: redirects, statuses at the edges of
the retry rules, an answer that drips one byte at a time, a body that never ends."""

from __future__ import annotations

import json

import pytest
from export_helpers import Events, context, frame, wait_until
from export_servers import ScriptedHttp, Seen, drip, endless, reply

from designer.core.engine.nodes.http import HttpRuntime
from designer.core.skill.catalog.exports import HttpParams


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(HttpRuntime, "retry_max_s", 0.2)
    monkeypatch.setattr(HttpRuntime, "refused_retry_s", 0.5)


@pytest.fixture
def scripted():
    made: list[ScriptedHttp] = []

    def make(answer=None) -> ScriptedHttp:
        made.append(ScriptedHttp(answer))
        return made[-1]

    yield make
    for server in made:
        server.close()


def http(tmp_path, url: str, events: Events | None = None, **params) -> HttpRuntime:
    runtime = HttpRuntime("hook", HttpParams(url=url, **params), context(tmp_path, events=events))
    runtime.open()
    return runtime


def ids(seen: list[Seen]) -> list[str]:
    return [json.loads(s.body)["frame_id"] for s in seen]


@pytest.mark.parametrize("status", [201, 202, 204])
def test_any_2xx_is_delivered(tmp_path, scripted, status):
    server = scripted(lambda handler, seen: reply(handler, status, "" if status == 204 else "created"))
    runtime = http(tmp_path, server.url())
    for i in range(3):
        runtime.process(frame(i))
    assert wait_until(lambda: runtime.delivery_stats()["sent"] == 3)
    runtime.close()
    assert ids(server.posts()) == ["0", "1", "2"]  # each once: a 2xx is never retried
    assert runtime.delivery_stats()["messages_dropped"] == 0


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_busy_statuses_are_retried_and_the_message_arrives(tmp_path, http_endpoint, status):
    http_endpoint.refuse_first, http_endpoint.refuse_status = 2, status
    runtime = http(tmp_path, http_endpoint.url)
    runtime.process(frame(0))
    runtime.process(frame(1))
    assert [b["frame_id"] for b in http_endpoint.wait_for(2)] == ["0", "1"]
    runtime.close()
    assert http_endpoint.requests == 4
    assert runtime.delivery_stats()["messages_dropped"] == 0


@pytest.mark.parametrize("status", [400, 404, 405, 409, 410, 413, 415, 422])
def test_other_4xx_drop_that_message_only_and_say_so(tmp_path, scripted, status):
    def answer(handler, seen: Seen) -> None:
        bad = json.loads(seen.body)["frame_id"] == "1"
        reply(handler, status if bad else 200, "no frame 1 here\nline two" if bad else "ok")

    server = scripted(answer)
    events = Events()
    runtime = http(tmp_path, server.url(), events)
    for i in range(3):
        runtime.process(frame(i))
    assert wait_until(lambda: len(server.posts()) == 3 and runtime.delivery_stats()["queued"] == 0)
    runtime.close()
    stats = runtime.delivery_stats()
    assert (stats["sent"], stats["messages_dropped"]) == (2, 1)
    assert ids(server.posts()) == ["0", "1", "2"]  # frame 1 tried once, not retried
    assert [n for n, _ in events.errors] == ["hook"]
    assert f"HTTP {status}: no frame 1 here" in events.errors[0][1]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_moved_endpoint_gets_every_body_by_post_and_the_move_is_warned_once(tmp_path, scripted, status):
    def answer(handler, seen: Seen) -> None:
        if seen.path.startswith("/old"):
            reply(handler, status, "moved", {"Location": "/new?from=old"})
        else:
            reply(handler, 200, "ok")

    server = scripted(answer)
    events = Events()
    runtime = http(tmp_path, server.url("/old"), events, bearer_token="tok-1234")
    for i in range(4):
        runtime.process(frame(i))
    assert wait_until(lambda: runtime.delivery_stats()["sent"] == 4)
    runtime.close()

    arrived = server.posts("/new?from=old")
    assert ids(arrived) == ["0", "1", "2", "3"]  # POSTed with the body, never turned into a GET
    assert not [s for s in server.seen if s.method == "GET"]
    assert all(s.headers.get("Authorization") == "Bearer tok-1234" for s in arrived)  # same host
    moved = [m for _, m in events.warnings if "moved to" in m]
    assert len(moved) == 1 and "/new" in moved[0] and "'url'" in moved[0] and "from=old" not in moved[0]


def test_a_303_is_refused_naming_the_location_and_nothing_is_lost(tmp_path, scripted, http_endpoint):
    server = scripted(lambda handler, seen: reply(handler, 303, "see other", {"Location": "/elsewhere"}))
    events = Events()
    runtime = http(tmp_path, server.url(), events)
    for i in range(3):
        runtime.process(frame(i))
    assert wait_until(lambda: bool(events.errors))
    stats = runtime.delivery_stats()
    runtime.close()
    assert (stats["sent"], stats["messages_dropped"], stats["queued"]) == (0, 0, 3)
    assert not [s for s in server.seen if s.method == "GET"]  # the body is never dropped for a GET
    node, message = events.errors[0]
    assert node == "hook" and "HTTP 303" in message and "/elsewhere" in message and "'url'" in message


def test_the_token_never_follows_a_redirect_to_another_host(tmp_path, scripted):
    other = scripted()
    server = scripted(lambda handler, seen: reply(handler, 308, "", {"Location": other.url("/taken")}))
    runtime = http(tmp_path, server.url(), bearer_token="tok-5678")
    runtime.process(frame(0))
    assert wait_until(lambda: runtime.delivery_stats()["sent"] == 1)
    runtime.close()
    assert server.posts()[0].headers.get("Authorization") == "Bearer tok-5678"
    (taken,) = other.posts()
    assert "Authorization" not in taken.headers and json.loads(taken.body)["frame_id"] == "0"


def test_an_endpoint_that_drips_one_byte_at_a_time_cannot_hold_delivery(tmp_path, scripted):
    server = scripted()
    server.answer = drip(server, period_s=0.2)  # each read gets a byte well within timeout_s
    events = Events()
    runtime = http(tmp_path, server.url(), events, timeout_s=1.0)
    for i in range(3):
        runtime.process(frame(i))
    assert wait_until(lambda: any("timeout_s" in m for _, m in events.warnings)), events.text()
    assert runtime.delivery_stats()["queued"] == 3  # kept while the endpoint dawdles

    server.answer = lambda handler, seen: reply(handler, 200, "ok")  # the endpoint recovers
    assert wait_until(lambda: runtime.delivery_stats()["sent"] == 3)
    runtime.close()
    assert ids(server.posts())[-3:] == ["0", "1", "2"]
    assert any("reachable again" in m for _, m in events.warnings)


def test_an_endless_answer_is_read_only_a_few_kib(tmp_path, scripted):
    server = scripted()
    server.answer = endless(server)
    runtime = http(tmp_path, server.url(), timeout_s=30)
    for i in range(3):
        runtime.process(frame(i))
    assert wait_until(lambda: runtime.delivery_stats()["sent"] == 3)
    runtime.close()
    assert ids(server.posts()) == ["0", "1", "2"]
    # What the server got out before the export hung up: its socket buffers, not the answer.
    assert server.bytes_sent < 64 * 1024 * 1024


def test_an_endless_error_answer_still_gives_its_first_line(tmp_path, scripted):
    server = scripted()
    server.answer = endless(server, status=400)
    events = Events()
    runtime = http(tmp_path, server.url(), events, timeout_s=30)
    runtime.process(frame(0))
    assert wait_until(lambda: runtime.delivery_stats()["messages_dropped"] == 1)
    runtime.close()
    assert "HTTP 400: zzzz" in events.errors[0][1] and len(events.errors[0][1]) < 400


def test_the_run_log_gets_no_line_per_message(tmp_path, http_endpoint, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    runtime = http(tmp_path, http_endpoint.url + "?code=q-secret")
    for i in range(20):
        runtime.process(frame(i))
    assert len(http_endpoint.wait_for(20)) == 20
    runtime.close()
    per_message = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("http")]
    assert per_message == []
    assert "q-secret" not in caplog.text


@pytest.mark.parametrize(
    "old, new, keeps",
    [
        ("http://hub.example/x", "https://hub.example/y", True),  # the usual move to https
        ("http://hub.example/x", "http://hub.example:80/y", True),
        ("https://hub.example/x", "https://HUB.example/y", True),
        ("https://hub.example/x", "http://hub.example/y", False),  # never down to plain text
        ("http://hub.example:8080/x", "https://hub.example/y", False),
        ("http://hub.example/x", "https://hub.example:8443/y", False),
        ("https://hub.example/x", "https://evil.example/y", False),
        ("https://hub.example/x", "https://hub.example.evil.example/y", False),
    ],
)
def test_which_redirects_the_token_follows(old, new, keeps):
    from designer.core.engine.nodes.http import keeps_credentials

    assert keeps_credentials(old, new) is keeps
