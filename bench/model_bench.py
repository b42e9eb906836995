"""Model layer timings on the bundled model and clip (run by hand; prints, asserts nothing).

    .venv/bin/python bench/model_bench.py [--frames 200] [--threads 0] [--acceleration CPU]

Prints the median time to inspect the bundled model and, per frame of the clip, the median
preprocess / inference / decode times, and the share of a frame the non-inference steps take.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2

from designer.core.models.inspect import inspect_model
from designer.core.models.session import OnnxModel

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "resources" / "models" / "yolov3-tiny-coco.onnx"
LABELS = ROOT / "resources" / "models" / "yolov3-tiny-coco.labels.txt"
CLIP = ROOT / "resources" / "video" / "vtest.avi"


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--acceleration", default="CPU")
    args = parser.parse_args()

    inspect_times = []
    for _ in range(3):
        start = time.perf_counter()
        info = inspect_model(MODEL, LABELS)
        inspect_times.append(time.perf_counter() - start)
    model = OnnxModel(info, args.acceleration, args.threads, on_warning=print)

    pre, inf, dec, found = [], [], [], 0
    cap = cv2.VideoCapture(str(CLIP))
    for _ in range(args.frames):
        ok, frame = cap.read()
        if not ok:
            break
        t0 = time.perf_counter()
        tensor, transform = model.preprocess(frame)
        t1 = time.perf_counter()
        outputs = model.infer(tensor)
        t2 = time.perf_counter()
        found += sum(d.label == "person" for d in model.decode(outputs, transform, 0.3))
        t3 = time.perf_counter()
        pre.append(t1 - t0)
        inf.append(t2 - t1)
        dec.append(t3 - t2)
    cap.release()

    print(f"providers      {', '.join(model.providers)}")
    print(f"inspect model  {_ms(inspect_times)}  (median of 3, includes a blank-frame run)")
    print(f"frames         {len(inf)} of {CLIP.name}, {found} person boxes in all")
    print(f"preprocess     {_ms(pre)}")
    print(f"inference      {_ms(inf)}")
    print(f"decode + NMS   {_ms(dec)}")
    overhead = statistics.median(pre) + statistics.median(dec)
    print(f"pre+decode / inference = {overhead / statistics.median(inf):.3f}")


if __name__ == "__main__":
    main()
