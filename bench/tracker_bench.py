"""Our ByteTrack against roboflow's ``trackers`` one (run by hand; prints numbers, asserts nothing).

    .venv/bin/python bench/tracker_bench.py [--frames 500] [--objects 23] [--seed 1] [--repeats 3]

A synthetic scene: boxes moving at slowly turning velocities, crossing and overlapping; one that
leaves the image is replaced by a new object entering at an edge. Detections have pixel jitter,
are clipped to the image, are sometimes missed, sometimes hidden for 3-14 frames, and one in ten
has a low confidence. Both trackers get the same detections with the Object Tracker
node's default parameters. Printed:

1. time per frame: the median over the frames (tracker step only, detections prepared
   beforehand), best of a few alternating runs;
2. id switches: how often an object's id differs from the id it had when last given one;
3. coverage: the share of detections that carried an id; distinct ids handed out.

``trackers`` runs only when importable (we do not ship it: it needs the GUI build of OpenCV).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from designer.core.engine.tracking import ByteTracker

WIDTH, HEIGHT = 1280, 720
PARAMS = {  # the node's defaults
    "track_activation_threshold": 0.25,
    "lost_track_buffer": 30,
    "minimum_matching_threshold": 0.8,
    "minimum_consecutive_frames": 1,
}


@dataclass
class Scene:
    """Per frame: boxes (N, 4), confidences (N,), class ids (N,), ground-truth object (N,)."""

    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def make_scene(frames: int, objects: int, seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    size = rng.uniform([30, 60], [70, 140], size=(objects, 2))
    pos = rng.uniform(0, 1, size=(objects, 2)) * ([WIDTH, HEIGHT] - size)
    vel = rng.uniform(1.0, 4.0, size=(objects, 2)) * rng.choice([-1, 1], size=(objects, 2))
    gt_id = np.arange(objects)
    next_gt = objects
    hidden_until = np.zeros(objects, dtype=int)
    out = []
    for index in range(frames):
        vel = np.clip(vel + rng.normal(0.0, 0.05, size=vel.shape), -5.0, 5.0)  # gentle turns
        pos += vel
        gone = (pos[:, 0] > WIDTH) | (pos[:, 1] > HEIGHT) | ((pos + size) < 0).any(axis=1)
        for i in np.flatnonzero(gone):  # left the image: a new object enters at an edge
            pos[i] = rng.uniform(0, 1, size=2) * ([WIDTH, HEIGHT] - size[i])
            axis = rng.integers(2)
            vel[i] = rng.uniform(1.0, 4.0, size=2) * rng.choice([-1, 1], size=2)
            pos[i, axis] = -size[i, axis] if vel[i, axis] > 0 else (WIDTH, HEIGHT)[axis]
            gt_id[i], next_gt = next_gt, next_gt + 1
            hidden_until[i] = 0
        starts = (rng.random(objects) < 0.01) & (hidden_until <= index)
        hidden_until[starts] = index + rng.integers(3, 15, size=int(starts.sum()))
        box = np.concatenate([pos, pos + size], axis=1)
        box = np.clip(box, 0, [WIDTH, HEIGHT, WIDTH, HEIGHT])  # detectors clip to the image
        on_screen = (box[:, 2] - box[:, 0] > 8) & (box[:, 3] - box[:, 1] > 8)
        seen = np.flatnonzero(on_screen & (hidden_until <= index) & (rng.random(objects) > 0.03))
        xyxy = box[seen] + rng.normal(0.0, 1.5, size=(len(seen), 4))
        confidence = rng.uniform(0.5, 0.95, size=len(seen))
        weak = rng.random(len(seen)) < 0.1
        confidence[weak] = rng.uniform(0.12, 0.24, size=int(weak.sum()))
        order = rng.permutation(len(seen))
        gt = gt_id[seen]
        out.append((xyxy[order], confidence[order], np.zeros(len(seen), dtype=int), gt[order]))
    return Scene(out)


Step = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def ours() -> Step:
    return ByteTracker(**PARAMS).update


def theirs() -> tuple[Step, Callable] | None:
    """The ``trackers`` step configured as the node used to configure it, or None."""
    try:
        import supervision as sv
        from trackers import ByteTrackTracker
    except ImportError:
        return None
    tracker = ByteTrackTracker(
        lost_track_buffer=PARAMS["lost_track_buffer"],
        frame_rate=30.0,
        track_activation_threshold=PARAMS["track_activation_threshold"],
        minimum_consecutive_frames=PARAMS["minimum_consecutive_frames"],
        minimum_iou_threshold=1.0 - PARAMS["minimum_matching_threshold"],
        high_conf_det_threshold=PARAMS["track_activation_threshold"],
    )

    def prepare(xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray) -> object:
        data = {"index": np.arange(len(xyxy))}
        return sv.Detections(xyxy=xyxy, confidence=confidence, class_id=class_id, data=data)

    def step(detections: sv.Detections) -> np.ndarray:
        tracked = tracker.update(detections)
        ids = np.full(len(detections), -1)
        if len(tracked):
            ids[tracked.data["index"]] = tracked.tracker_id
        return ids

    return step, prepare


def run(scene: Scene, step: Callable, prepare: Callable | None = None) -> tuple[list, list]:
    """Per-frame seconds and per-frame ids."""
    inputs = [
        prepare(xyxy, conf, cls) if prepare else (xyxy, conf, cls) for xyxy, conf, cls, _ in scene.frames
    ]
    times, ids = [], []
    for args in inputs:
        start = time.perf_counter()
        result = step(args) if prepare else step(*args)
        times.append(time.perf_counter() - start)
        ids.append(result)
    return times, ids


def id_stats(scene: Scene, ids: list[np.ndarray]) -> tuple[int, float, int]:
    """(id switches, share of detections with an id, distinct ids)."""
    last: dict[int, int] = {}
    switches = with_id = total = 0
    distinct = set()
    for (_, _, _, gt), frame_ids in zip(scene.frames, ids, strict=True):
        for obj, track_id in zip(gt.tolist(), np.asarray(frame_ids).tolist(), strict=True):
            total += 1
            if track_id < 0:
                continue
            with_id += 1
            distinct.add(track_id)
            switches += obj in last and last[obj] != track_id
            last[obj] = track_id
    return switches, with_id / max(total, 1), len(distinct)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--objects", type=int, default=23)  # about 20 boxes a frame
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scene = make_scene(args.frames, args.objects, args.seed)
    boxes = sum(len(f[0]) for f in scene.frames) / len(scene.frames)
    objects = len({int(o) for f in scene.frames for o in f[3]})
    print(f"scene: {args.frames} frames, {objects} objects, {boxes:.1f} boxes per frame")

    makers: dict[str, Callable] = {"ours": lambda: (ours(), None)}
    if theirs() is None:
        print("trackers is not installed: timing ours only")
    else:
        makers["trackers"] = theirs
    medians: dict[str, list[float]] = {name: [] for name in makers}
    ids: dict[str, list] = {}
    for _ in range(args.repeats):  # alternating fresh trackers: the machine's load hits both
        for name, make in makers.items():
            times, ids[name] = run(scene, *make())
            medians[name].append(statistics.median(times))
    best = {name: min(values) for name, values in medians.items()}
    for name in makers:
        switches, coverage, distinct = id_stats(scene, ids[name])
        print(
            f"{name:>8}: {best[name] * 1e3:6.3f} ms/frame (best of {args.repeats} medians)  "
            f"id switches {switches:3d}  with id {coverage:6.1%}  distinct ids {distinct:3d}"
        )
    if "trackers" in best:
        print(f"speed-up (trackers / ours): {best['trackers'] / best['ours']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
