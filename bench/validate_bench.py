"""Time validation and load+save of a generated 500-node skill against the 50 ms goal.

Run by hand: ``python bench/validate_bench.py [--nodes 500] [--repeat 30]``. The skill is a
camera feeding a binary tree of Process nodes (every kind in the catalog), whose leaves
end in Export nodes; the skill is valid, so validation walks every rule without stopping early.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from itertools import cycle
from pathlib import Path

from designer.core.skill import Skill, load_skill, save_skill, validate_skill
from designer.core.skill.build import add_node, auto_layout, connect
from designer.core.skill.document import Settings

GOAL_MS = 50.0
PROCESS = {
    "model@1": {"model_path": "models/detector.onnx"},
    "filter@1": {"labels": ["person", "traffic light"], "confidence_threshold": 40},
    "tracker@1": {},
    "zone@1": {},
    "grpc-endpoint@1": {"endpoint_url": "$param(grpc_host):6677"},
    "grpc-container@1": {"container_name": "counter", "container_image": "registry/counter:1", "port": 6677},
}
EXPORTS = {
    "video-snippet@1": {"filename_prefix": "clip"},
    "iothub@1": {},
    "iotedge@1": {"module_name": "counter", "module_input": "insights"},
    "mqtt@1": {"broker_address": "$param(broker):1883"},
    "http@1": {"url": "http://127.0.0.1:8080/insights"},
    "insights-log@1": {},
}


def generate(total: int) -> Skill:
    """A valid skill of ``total`` nodes: 1 camera, ~2/3 process nodes in a tree, the rest exports."""
    skill = Skill(settings=Settings(name=f"bench {total}"))
    add_node(skill, "camera@1", "camera", source="$param(rtsp)")
    process_count = max(1, (total - 1) * 2 // 3)
    kinds = cycle(PROCESS.items())
    for i in range(process_count):
        type_id, params = next(kinds)
        add_node(skill, type_id, f"p{i}", **params)
        connect(skill, "camera" if i == 0 else f"p{(i - 1) // 2}", f"p{i}")
    has_child = {(i - 1) // 2 for i in range(1, process_count)}
    parents = [i for i in range(process_count) if i not in has_child]  # leaves first
    parents += sorted(has_child)
    exports = cycle(EXPORTS.items())
    for n, parent in zip(range(total - 1 - process_count), cycle(parents), strict=False):
        type_id, params = next(exports)
        add_node(skill, type_id, f"e{n}", **params)
        connect(skill, f"p{parent}", f"e{n}")
    return auto_layout(skill)


def median_ms(action, repeat: int) -> float:
    action()  # warm up caches and lazy imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    skill = generate(args.nodes)
    problems = validate_skill(skill)
    assert not problems, problems[:3]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.skill.json"
        save_skill(skill, path)
        size = path.stat().st_size
        validate = median_ms(lambda: validate_skill(skill), args.repeat)
        round_trip = median_ms(lambda: save_skill(load_skill(path), path), args.repeat)
    print(f"skill: {len(skill.nodes)} nodes, {len(skill.edges)} edges, {size / 1024:.0f} KiB on disk")
    for label, ms in (("validate", validate), ("load + save", round_trip)):
        print(f"{label + ':':<13}median {ms:7.2f} ms  ({ms / GOAL_MS:.2f} x the {GOAL_MS:.0f} ms goal)")


if __name__ == "__main__":
    main()
