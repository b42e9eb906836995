"""SharedSession: one session, lanes served in turn, batches across lanes when the batch is dynamic."""

from __future__ import annotations

import threading
import time

import numpy as np
import onnxruntime as ort
from onnx_factory import color_classifier

from designer.core.models.shared import SessionPool


class _SlowSession:
    """Records the order of calls; each takes a little while, as inference does."""

    def __init__(self) -> None:
        self.calls: list[list[float]] = []

    def run(self, names, feeds):
        (x,) = feeds.values()
        self.calls.append([float(v) for v in x[:, 0]])
        time.sleep(0.01)
        return [x * 2]


def _submit(shared, lane: str, value: float, results: dict) -> threading.Thread:
    def work() -> None:
        results[(lane, value)] = shared.run(["y"], {"x": np.full((1, 1), value, np.float32)}, lane)[0]

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_a_busy_lane_cannot_starve_another(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    session = _SlowSession()
    pool = SessionPool()
    shared = pool.acquire(model, ["CPUExecutionProvider"], 0, lambda: session, dynamic_batch=False)
    results: dict = {}
    busy = [_submit(shared, "busy", float(i), results) for i in range(1, 11)]
    while len(session.calls) < 2:  # the busy camera's frames are queued and running
        time.sleep(0.001)
    served_before = len(session.calls)
    quiet = _submit(shared, "quiet", 100.0, results)
    for thread in [*busy, quiet]:
        thread.join(5)
    order = [call[0] for call in session.calls]
    # Served at its turn (the run in progress, then at most one more), not after the busy queue.
    assert order.index(100.0) <= served_before + 2 < 10, order
    assert results[("quiet", 100.0)][0, 0] == 200.0
    pool.release(shared)
    assert pool.sessions() == []


def test_lanes_are_batched_when_the_batch_is_dynamic_and_results_match(tmp_path):
    path = color_classifier(tmp_path / "c.onnx", dynamic_batch=True)
    real = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = real.get_inputs()[0].name
    out = real.get_outputs()[0].name
    gate = threading.Event()

    class _Gated:
        def run(self, names, feeds):
            gate.wait(5)  # hold the first run so the other lanes queue up behind it
            return real.run(names, feeds)

    pool = SessionPool()
    shared = pool.acquire(path, ["CPUExecutionProvider"], 0, _Gated, dynamic_batch=True)
    rng = np.random.default_rng(1)
    inputs = {lane: rng.random((1, 3, 16, 16), dtype=np.float32) for lane in ("a", "b", "c", "d")}
    results: dict = {}

    def ask(lane: str) -> None:
        results[lane] = shared.run([out], {name: inputs[lane]}, lane)[0]

    threads = [threading.Thread(target=ask, args=(lane,)) for lane in inputs]
    threads[0].start()
    time.sleep(0.05)
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join(5)
    stats = shared.stats()
    assert stats.requests == 4 and stats.runs == 2 and stats.largest_batch == 3
    for lane, x in inputs.items():
        np.testing.assert_allclose(results[lane], real.run([out], {name: x})[0], rtol=1e-5)
    pool.close()
