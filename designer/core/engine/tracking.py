"""ByteTrack (Zhang et al., 2022): multi-object tracking by associating every detection box.

Our own implementation, numpy + scipy only: the packaged ones pull in the GUI build of OpenCV,
which collides with ``opencv-python-headless`` and bundles Qt plugins that fight the desktop app.

Per frame, every track's box is predicted by a constant-velocity Kalman filter on
(centre x, centre y, width, height), then detections are associated by IoU with optimal
assignment, in the paper's order:

1. confident boxes against the confirmed tracks (those following an object now, and lost ones);
2. low-confidence boxes (occluded or blurred objects) against the confirmed tracks still
   unmatched that followed their object on the previous frame: such boxes only continue tracks;
3. the remaining confident boxes against the unconfirmed tracks (new, seen too few times);
4. confident boxes still unmatched start new, unconfirmed tracks.

A track is confirmed -- and gets its id -- once it has been matched on
``minimum_consecutive_frames`` consecutive frames, and never on its first sighting: a single box
is no evidence of an object that persists. An unconfirmed track that misses a frame is dropped;
a confirmed one is kept, predicted forward, for ``lost_track_buffer`` missed frames, so an
object that reappears within them gets its old id back.

The filter's state departs from the original's (centre, aspect w/h, height) as BoT-SORT's does:
a nearly constant aspect cannot follow a box clipped at the image edge (an object entering or
leaving), whose width and height change fast: on ``bench/tracker_bench.py``'s scene (8 seeds)
it made 96 id switches where (centre, width, height) makes 15. The noise tuning, proportional to
the box size, is the original's.

Matching is class-aware: a box only continues a track of its own class, so overlapping objects
of different classes (a person on a bicycle) cannot swap ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

# Boxes at or below this confidence are background, even for continuing a track (the paper's 0.1).
MIN_BOX_PX = 0.01  # pixels
LOW_CONFIDENCE_FLOOR = 0.1
# Low-confidence boxes are weak evidence: they never match looser than this IoU (the paper's 0.5).
LOW_CONFIDENCE_MIN_IOU = 0.5

# Kalman noise in proportion to the box size (the ByteTrack / BoT-SORT tuning).
_STD_POSITION = 1.0 / 20
_STD_VELOCITY = 1.0 / 160
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)  # constant velocity, one frame per step


def _measure(xyxy: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) boxes -> (cx, cy, w, h) measurements."""
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return np.concatenate([xyxy[:, :2] + wh / 2, wh], axis=1)


def _boxes(mean: np.ndarray) -> np.ndarray:
    """Kalman means (cx, cy, w, h, ...) -> (x1, y1, x2, y2) boxes."""
    half = mean[:, 2:4] / 2
    return np.concatenate([mean[:, :2] - half, mean[:, :2] + half], axis=1)


def _std(wh: np.ndarray, weight: float) -> np.ndarray:
    """Standard deviations of (cx, cy, w, h) per box: proportional to its size, never zero
    (a track predicted to shrink to nothing must not make the covariance singular)."""
    return weight * np.concatenate([wh, wh], axis=1).clip(min=MIN_BOX_PX)


def _diagonal(std: np.ndarray) -> np.ndarray:
    """(M, k) standard deviations -> (M, k, k) diagonal covariances."""
    return std[:, :, None] ** 2 * np.eye(std.shape[1])


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` with every box in ``b`` (len(a) x len(b))."""
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass(slots=True)
class _Tracks:
    """All tracks as parallel arrays, so the Kalman steps run on every track at once."""

    mean: np.ndarray  # (T, 8): cx, cy, w, h and their velocities
    cov: np.ndarray  # (T, 8, 8)
    track_id: np.ndarray  # (T,) int; -1 while unconfirmed
    class_id: np.ndarray  # (T,) int
    hits: np.ndarray  # (T,) frames matched
    last_seen: np.ndarray  # (T,) frame number of the last match

    @classmethod
    def empty(cls) -> _Tracks:
        ints = np.empty(0, dtype=np.int64)
        return cls(np.empty((0, 8)), np.empty((0, 8, 8)), ints, ints, ints, ints)

    def __len__(self) -> int:
        return len(self.track_id)

    def keep(self, mask: np.ndarray) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name)[mask])

    def add(self, measurement: np.ndarray, class_id: np.ndarray, frame: int) -> None:
        """Start unconfirmed tracks at the measured boxes, not moving, uncertain in velocity."""
        n = len(measurement)
        wh = measurement[:, 2:]
        std = np.concatenate([_std(wh, 2 * _STD_POSITION), _std(wh, 10 * _STD_VELOCITY)], axis=1)
        new = _Tracks(
            mean=np.concatenate([measurement, np.zeros((n, 4))], axis=1),
            cov=_diagonal(std),
            track_id=np.full(n, -1, dtype=np.int64),
            class_id=class_id.astype(np.int64),
            hits=np.ones(n, dtype=np.int64),
            last_seen=np.full(n, frame, dtype=np.int64),
        )
        for name in self.__slots__:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(new, name)]))

    def predict(self, frame: int) -> None:
        """Advance every track one frame; a lost track stops growing or shrinking."""
        self.mean[self.last_seen < frame - 1, 6:] = 0.0
        wh = self.mean[:, 2:4]
        std = np.concatenate([_std(wh, _STD_POSITION), _std(wh, _STD_VELOCITY)], axis=1)
        self.mean = self.mean @ _F.T
        self.cov = _F @ self.cov @ _F.T + _diagonal(std)

    def correct(self, rows: np.ndarray, measurement: np.ndarray) -> None:
        """Kalman update of the tracks ``rows`` with their matched measurements."""
        mean, cov = self.mean[rows], self.cov[rows]
        innovation_cov = cov[:, :4, :4] + _diagonal(_std(mean[:, 2:4], _STD_POSITION))
        # gain = P H^T S^-1; S is symmetric, so solve S gain^T = H P.
        gain = np.linalg.solve(innovation_cov, cov[:, :4, :]).transpose(0, 2, 1)
        innovation = measurement - mean[:, :4]
        self.mean[rows] = mean + np.einsum("tij,tj->ti", gain, innovation)
        self.cov[rows] = cov - gain @ innovation_cov @ gain.transpose(0, 2, 1)


class ByteTracker:
    """Assigns stable ids to detection boxes, frame after frame.

    The parameters mean what the Object Tracker node's parameters say:
    ``track_activation_threshold`` is the confidence a box needs to start a track (weaker boxes
    only continue one); ``lost_track_buffer`` is how many frames a track survives unseen;
    a box matches a track when their IoU is at least ``1 - minimum_matching_threshold``;
    ``minimum_consecutive_frames`` is how many consecutive frames a track needs for its id
    (counting its first sighting, which alone never gives an id: see the module docstring).
    """

    def __init__(
        self,
        track_activation_threshold: float = 0.25,
        lost_track_buffer: int = 30,
        minimum_matching_threshold: float = 0.8,
        minimum_consecutive_frames: int = 1,
    ) -> None:
        for name, value in (
            ("track_activation_threshold", track_activation_threshold),
            ("minimum_matching_threshold", minimum_matching_threshold),
        ):
            if not 0 <= value <= 1:
                raise ValueError(f"ByteTracker: {name} must be between 0 and 1, got {value}")
        for name, value in (
            ("lost_track_buffer", lost_track_buffer),
            ("minimum_consecutive_frames", minimum_consecutive_frames),
        ):
            if value < 1:
                raise ValueError(f"ByteTracker: {name} must be at least 1, got {value}")
        self.activation_threshold = track_activation_threshold
        self.lost_track_buffer = lost_track_buffer
        self.minimum_iou = 1.0 - minimum_matching_threshold
        self.minimum_consecutive_frames = minimum_consecutive_frames
        self._tracks = _Tracks.empty()
        self._frame = 0
        self._last_id = 0

    def update(self, xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray) -> np.ndarray:
        """Track one frame's detections; returns each detection's track id, or -1 if it has none.

        ``xyxy`` is (N, 4) boxes in pixels, ``confidence`` and ``class_id`` are (N,). Call once
        per frame, with an empty array when nothing was detected: the frame count is the clock
        for the lost-track buffer. Ids start at 1 and are never reused.
        """
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
        class_id = np.asarray(class_id).reshape(-1)
        if not len(xyxy) == len(confidence) == len(class_id):
            raise ValueError(
                f"ByteTracker.update: got {len(xyxy)} boxes, {len(confidence)} confidences and "
                f"{len(class_id)} class ids; pass one of each per detection"
            )
        self._frame += 1
        tracks = self._tracks
        tracks.predict(self._frame)
        det_track = self._associate(xyxy, confidence, class_id)

        matched = np.flatnonzero(det_track >= 0)
        rows = det_track[matched]
        tracks.correct(rows, _measure(xyxy[matched]))
        tracks.hits[rows] += 1  # consecutive while unconfirmed: those die on their first miss
        tracks.last_seen[rows] = self._frame
        # Decided at a match only: a new track's first sighting never confirms it.
        unconfirmed = rows[tracks.track_id[rows] < 0]
        ready = unconfirmed[tracks.hits[unconfirmed] >= self.minimum_consecutive_frames]
        tracks.track_id[ready] = self._last_id + 1 + np.arange(len(ready))
        self._last_id += len(ready)
        ids = np.full(len(xyxy), -1, dtype=np.int64)
        ids[matched] = tracks.track_id[rows]

        missed = self._frame - tracks.last_seen
        tracks.keep((missed == 0) | ((tracks.track_id >= 0) & (missed <= self.lost_track_buffer)))
        new = np.flatnonzero((confidence >= self.activation_threshold) & (det_track == -1))
        tracks.add(_measure(xyxy[new]), class_id[new], self._frame)
        return ids

    def _associate(self, xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray) -> np.ndarray:
        """The track row each detection continues; -1 for none, -2 for a box that is no object."""
        tracks = self._tracks
        recent = tracks.last_seen == self._frame - 1  # followed their object until this frame
        # A box under MIN_BOX_PX is no object, and its size-scaled Kalman noise would be singular.
        usable = np.isfinite(xyxy).all(axis=1) & (xyxy[:, 2] - xyxy[:, 0] >= MIN_BOX_PX)
        usable &= xyxy[:, 3] - xyxy[:, 1] >= MIN_BOX_PX
        high = confidence >= self.activation_threshold
        low = ~high & (confidence > LOW_CONFIDENCE_FLOOR)
        det_track = np.where(usable, -1, -2)
        iou = _iou(_boxes(tracks.mean), xyxy)
        iou[tracks.class_id[:, None] != class_id[None, :]] = 0.0
        confirmed = tracks.track_id >= 0
        free = np.ones(len(tracks), dtype=bool)
        for track_mask, det_mask, min_iou in (
            (confirmed, high, self.minimum_iou),
            (confirmed & recent, low, max(self.minimum_iou, LOW_CONFIDENCE_MIN_IOU)),
            (~confirmed, high, self.minimum_iou),
        ):
            rows = np.flatnonzero(track_mask & free)
            cols = np.flatnonzero(det_mask & (det_track == -1))
            row, col = _assign(iou[np.ix_(rows, cols)], min_iou)
            det_track[cols[col]] = rows[row]
            free[rows[row]] = False
        return det_track


def _assign(iou: np.ndarray, min_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one (row, column) pairs that overlap by at least ``min_iou`` (and at all)."""
    if iou.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    gated = np.where(iou >= min_iou, iou, 0.0)
    rows, cols = linear_sum_assignment(gated, maximize=True)
    keep = gated[rows, cols] > 0
    return rows[keep], cols[keep]
