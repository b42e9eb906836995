"""`skill-designer models ...`: add, list, show, refresh, optimize, remove and verify library models."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from designer.core.models.errors import ModelError

CONNECTION_ENV = "AZURE_STORAGE_CONNECTION_STRING"


class UsageError(Exception):
    """The command line itself is wrong (exit code 2)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="manage the model library (bring your own ONNX models)",
        description="Add ONNX models from local files or Azure Blob storage, list them, check the cache.",
    )
    parser.add_argument(
        "--data-dir", help="library folder (default: $SKILL_DESIGNER_DATA or the user data folder)"
    )
    sub = parser.add_subparsers(title="model commands", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    add = sub.add_parser(
        "add",
        help="inspect a model and add it to the library",
        description="Inspect an ONNX model (and run it once) and add it. Sources: --file, "
        "--blob-url (SAS in the URL, or DefaultAzureCredential e.g. after `az login`), "
        "--connection-string (or $AZURE_STORAGE_CONNECTION_STRING) with --container/--blob, "
        "or --account-url with --container/--blob.",
    )
    add.add_argument("--name", required=True, help="model name (its id is made from it)")
    add.add_argument("--type", required=True, choices=("detection", "classification"))
    _add_source_args(add)
    add.add_argument("--description", default="")
    add.add_argument("--tag", action="append", default=[], metavar="NAME=VALUE")
    add.add_argument(
        "--layout",
        help="output layout instead of the detected one "
        "(yolov5, yolov8, ssd, boxes_scores, classification, or JSON fields)",
    )
    add.add_argument(
        "--preprocess",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="pre-processing override, e.g. width=640, height=640, color=BGR, resize=letterbox",
    )
    add.add_argument("--json", action="store_true", help="print the new entry as JSON")
    add.set_defaults(func=_guarded(_add))

    lst = sub.add_parser("list", help="list the models in the library")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_guarded(_list))

    show = sub.add_parser("show", help="show one model: layout, labels, cost, source")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_guarded(_show))

    refresh = sub.add_parser(
        "refresh",
        help="download a blob model again if it changed (same etag: nothing is downloaded)",
        description="Credentials are never stored: give the same source options as at add.",
    )
    refresh.add_argument("id")
    _add_source_args(refresh)
    refresh.add_argument("--json", action="store_true")
    refresh.set_defaults(func=_guarded(_refresh))

    remove = sub.add_parser("remove", help="remove a model and its cached files")
    remove.add_argument("id")
    remove.set_defaults(func=_guarded(_remove))

    optimize = sub.add_parser(
        "optimize",
        help="make a faster form of a model for the device, checked against the original",
        description="Quantize a library model to INT8 (calibrated on frames of your own video, "
        "pre-processed exactly as the engine does), or optimise its graph / convert it to float16, "
        "and add the result as a new entry linked to the original. The result is checked against "
        "the original on held-out frames (detectors: precision / recall at IoU 0.5 and mean IoU of "
        "matched boxes; classifiers: top-1 agreement) and both are timed here; a result below the "
        "goals is refused unless --keep-failed. Only the CPU can be measured on this machine.",
    )
    optimize.add_argument("id", help="the library model to optimize (kept as it is)")
    optimize.add_argument(
        "--calibrate",
        required=True,
        metavar="VIDEO_OR_FOLDER",
        help="a video file (the skill's own clip) or a folder of pictures",
    )
    optimize.add_argument(
        "--frames",
        type=int,
        default=20,
        help="calibration frames (as many others are held out for the check; default 20)",
    )
    optimize.add_argument("--target", choices=("cpu-int8", "cpu-fp32-opt", "gpu-fp16"), default="cpu-int8")
    optimize.add_argument("--name", help="name of the new entry (default: '<name> <target>')")
    optimize.add_argument(
        "--keep-failed",
        action="store_true",
        help="add the result even when it misses the agreement goals (marked as not passed)",
    )
    optimize.add_argument("--json", action="store_true", help="print the check (and entry) as JSON")
    optimize.set_defaults(func=_guarded(_optimize))

    verify = sub.add_parser("verify", help="re-hash the cached files of every model")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=_guarded(_verify))


def _add_source_args(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--file", help="a local ONNX file")
    source.add_argument("--blob-url", help="https://<account>.blob.core.windows.net/<c>/<blob>")
    source.add_argument("--connection-string", help=f"storage connection string (or ${CONNECTION_ENV})")
    source.add_argument("--account-url", help="https://<account>.blob.core.windows.net")
    parser.add_argument("--container", help="blob container (with a connection string)")
    parser.add_argument("--blob", help="blob path inside the container")
    parser.add_argument("--sas-token", help="SAS token for --account-url or --blob-url")
    parser.add_argument(
        "--labels", help="label file: local path, blob URL, or a blob path in the model's container"
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _guarded(func):
    """Turn expected failures into one clear line on stderr and an exit code; no tracebacks."""

    def run(args: argparse.Namespace) -> int:
        # the SDK logs each failed credential and HTTP error; our one-line message says it all
        logging.getLogger("azure").setLevel(logging.ERROR)
        try:
            return func(args)
        except UsageError as exc:
            print(f"skill-designer models: {exc}", file=sys.stderr)
            return 2
        except ModelError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run


def _library(args: argparse.Namespace):
    from designer.core.models.library import ModelLibrary

    return ModelLibrary(args.data_dir)


# -- add / refresh -------------------------------------------------------------------------


def _add(args: argparse.Namespace) -> int:
    model, labels = _sources(args)
    tags = _pairs(args.tag, "--tag", parse_values=False)
    preprocess = _pairs(args.preprocess, "--preprocess", parse_values=True)
    layout = _layout(args.layout)
    library = _library(args)
    with _progress_bars() as (progress, on_retry):
        library.on_retry = on_retry
        entry = library.add(
            args.name,
            args.type,
            model,
            labels,
            description=args.description,
            tags=tags,
            layout=layout,
            preprocess=preprocess,
            progress=progress,
        )
    if args.json:
        _print_json(entry.model_dump(mode="json"))
    else:
        print(f"added {entry.id}: {_summary(entry)}")
    return 0


def _refresh(args: argparse.Namespace) -> int:
    from designer.core.models.blob import BlobAccess
    from designer.core.models.registry import LibraryError

    library = _library(args)
    entry = library.get(args.id)
    source = entry.model_file.source
    if source.kind != "blob":
        raise LibraryError(
            f"model {args.id}: it was added from a local file; only blob models can be refreshed"
        )
    if args.file is not None:
        raise UsageError(f"refresh {args.id}: --file does not apply; it refreshes from the blob")
    if args.blob_url is None:
        args.container = args.container or source.container
        args.blob = args.blob or source.blob
        if not (args.connection_string or args.account_url or os.environ.get(CONNECTION_ENV)):
            args.account_url = source.account_url  # SAS token or DefaultAzureCredential
    model, labels = _sources(args)
    stored_labels = entry.labels_file.source if entry.labels_file else None
    if labels is None and stored_labels is not None and stored_labels.kind == "blob":
        labels = BlobAccess(
            stored_labels.account_url,
            stored_labels.container,
            stored_labels.blob,
            model.credential,
            model.connection_string,
        )
    if isinstance(labels, Path):
        raise UsageError(f"refresh {args.id}: --labels must be a blob here")
    with _progress_bars() as (progress, on_retry):
        library.on_retry = on_retry
        new, changed = library.refresh(args.id, model, labels, progress=progress)
    if args.json:
        _print_json({"changed": changed, "entry": new.model_dump(mode="json")})
    else:
        print(f"{new.id}: " + ("updated, " + _summary(new) if changed else "unchanged (same etag)"))
    return 0


def _sources(args: argparse.Namespace):
    """The model source and the labels source from the command line."""
    from designer.core.models.blob import BlobAccess

    connection = args.connection_string
    if args.file is None and args.blob_url is None and args.account_url is None:
        connection = connection or os.environ.get(CONNECTION_ENV)
    if args.file is not None:
        if args.container or args.blob or args.sas_token:
            raise UsageError("--container, --blob and --sas-token go with blob sources, not --file")
        return Path(args.file), _labels(args.labels, None)
    if args.blob_url is not None:
        if args.container or args.blob:
            raise UsageError("--blob-url already names the container and blob; drop --container/--blob")
        model = BlobAccess.from_url(args.blob_url, sas_token=args.sas_token)
        return model, _labels(args.labels, model)
    if not args.container or not args.blob:
        raise UsageError(
            "say where the model is: --file PATH, --blob-url URL, or --container and --blob "
            f"with --connection-string (or ${CONNECTION_ENV}) or --account-url"
        )
    if connection is not None:
        if args.sas_token:
            raise UsageError(
                "--sas-token goes with --account-url or --blob-url, not with a connection string"
            )
        model = BlobAccess.from_connection_string(connection, args.container, args.blob)
    elif args.account_url is not None:
        model = BlobAccess.from_account(args.account_url, args.container, args.blob, sas_token=args.sas_token)
    else:
        raise UsageError(
            f"--container/--blob need --connection-string (or ${CONNECTION_ENV}) or --account-url"
        )
    return model, _labels(args.labels, model)


def _labels(value: str | None, model):
    """A label source: a URL is a blob; with a blob model, a path that is not a local file is
    a blob in the model's container; anything else is a local file."""
    from designer.core.models.blob import BlobAccess, split_blob_url

    if value is None:
        return None
    if value.startswith(("http://", "https://")):
        account_url, container, blob, query = split_blob_url(value)
        if model is not None and not query and model.account_url == account_url:
            same = BlobAccess(account_url, container, blob, model.credential, model.connection_string)
            return same
        return BlobAccess.from_url(value)
    if model is not None and not Path(value).expanduser().exists():
        return model.sibling(value.lstrip("/"))
    return Path(value)


def _pairs(items: list[str], option: str, *, parse_values: bool) -> dict[str, Any]:
    pairs: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{option} {item!r}: write it as NAME=VALUE")
        if name.strip() in pairs:
            raise UsageError(f"{option} {name.strip()!r} is given twice")
        pairs[name.strip()] = _value(value) if parse_values else value
    return pairs


def _value(text: str) -> Any:
    """``640`` -> 640, ``[0.5, 0.5, 0.5]`` -> list, anything else stays a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _layout(text: str | None):
    if text is None or not text.lstrip().startswith("{"):
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--layout: not valid JSON ({exc})") from None


@contextmanager
def _progress_bars() -> Iterator[tuple]:
    """Download bars on stderr (one per file), and a line for each retry."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    bars = Progress(*columns, console=console)
    tasks: dict[str, TaskID] = {}

    def progress(what: str, done: int, total: int) -> None:
        if not tasks:
            bars.start()  # only once a download begins: local adds print no bar
        if what not in tasks:
            tasks[what] = bars.add_task(what, total=total)
        bars.update(tasks[what], completed=done, total=total)

    def on_retry(message: str) -> None:
        console.print(f"[yellow]connection problem: {message}[/yellow]")

    try:
        yield progress, on_retry
    finally:
        if tasks:
            bars.stop()


# -- list / show / remove / verify -----------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    entries = _library(args).list()
    if args.json:
        _print_json([e.model_dump(mode="json") for e in entries])
        return 0
    if not entries:
        print("no models yet; add one with `skill-designer models add`")
        return 0
    table = Table(title="Models in the library (yours, and the bundled sample)")
    for column in ("id", "name", "type", "layout", "labels", "input", "ms", "source"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            e.id,
            f"{e.name} (bundled sample)" if e.tags.get("source") == "bundled" else e.name,
            e.type,
            e.info.layout.kind,
            str(len(e.labels)),
            _input(e),
            _ms(e.inference_ms),
            e.model_file.source.describe(),
        )
    Console(width=max(120, Console().width)).print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    entry = _library(args).get(args.id)
    if args.json:
        _print_json(entry.model_dump(mode="json"))
        return 0
    info = entry.info
    rows = [
        ("id", entry.id),
        ("name", entry.name),
        ("type", entry.type),
        ("format", entry.format.upper()),
        ("description", entry.description or "-"),
        ("tags", ", ".join(f"{k}={v}" for k, v in entry.tags.items()) or "-"),
        ("layout", info.layout.kind),
        ("opset", str(info.opset)),
        ("inputs", "; ".join(f"{t.name} {t.shape} {t.dtype}" for t in info.inputs)),
        ("outputs", "; ".join(f"{t.name} {t.shape} {t.dtype}" for t in info.outputs)),
        ("pre-processing", _preprocess(entry)),
        ("classes", str(info.num_classes if info.num_classes is not None else "-")),
        ("labels", f"{len(info.labels)} from {info.labels_source}: " + ", ".join(info.labels)),
        ("inference", f"{_ms(entry.inference_ms)} ms on a blank frame (CPU, this machine)"),
        ("accelerations", ", ".join(entry.accelerations) or "-"),
        (
            "model file",
            f"{entry.model_file.source.describe()} ({entry.model_file.size} bytes, "
            f"sha256 {entry.model_file.sha256})",
        ),
        (
            "label file",
            f"{entry.labels_file.source.describe()} (sha256 {entry.labels_file.sha256})"
            if entry.labels_file
            else "-",
        ),
        ("added", entry.added_at.isoformat(timespec="seconds")),
    ]
    if entry.optimization is not None:
        rows += [("optimized", line) for line in optimization_lines(entry.optimization)]
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    Console(width=max(120, Console().width)).print(table)
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from designer.core.models.optimize import optimize_model

    if args.frames < 1:
        raise UsageError(f"--frames {args.frames}: give at least 1")
    library = _library(args)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), console=console, transient=True) as bars:
        task = bars.add_task("optimizing", total=1.0)
        result = optimize_model(
            library,
            args.id,
            Path(args.calibrate),
            target=args.target,
            frames=args.frames,
            name=args.name,
            keep_failed=args.keep_failed,
            progress=lambda fraction, text: bars.update(task, completed=fraction, description=text),
        )
    opt = result.optimization
    if args.json:
        _print_json(
            {
                "optimization": opt.model_dump(mode="json"),
                "entry": result.entry.model_dump(mode="json") if result.entry else None,
            }
        )
    else:
        for line in optimization_lines(opt):
            print(line)
        if result.entry is not None:
            print(f"added {result.entry.id} (source {opt.source_id} kept)")
        else:
            print(
                f"refused: not added ({'; '.join(opt.problems)}); --keep-failed adds it anyway",
                file=sys.stderr,
            )
    return 0 if result.entry is not None and opt.passed else 1


def optimization_lines(opt: Any) -> list[str]:
    """The check's figures as lines: what was made, agreement, cost and size of both."""
    from designer.core.models.optimize import summarise_ops

    a = opt.agreement
    lines = [f"{opt.target} form of {opt.source_id}: {opt.method}"]
    if opt.calibration:
        lines.append(f"calibration  {opt.calibration_frames} frames of {opt.calibration}")
    if opt.float_ops:
        lines.append(f"left in float  {len(opt.float_ops)} ops ({summarise_ops(opt.float_ops)})")
    if a.top1 is not None:
        lines.append(f"agreement    top-1 {a.top1:.1%} on {a.frames} held-out frames")
    else:
        iou = "-" if a.mean_iou is None else f"{a.mean_iou:.3f}"
        lines.append(
            f"agreement    precision {_pct(a.precision)}, recall {_pct(a.recall)}, F1 {_pct(a.f1)} at "
            f"IoU 0.5, mean IoU {iou} ({a.matched} of {a.boxes_source} boxes matched, "
            f"{a.boxes_optimized} found) on {a.frames} held-out frames"
        )
    lines.append(
        f"cost/frame   {opt.ms_source:.1f} ms -> {opt.ms_optimized:.1f} ms "
        f"({opt.speedup:.2f}x, CPU, this machine)"
    )
    lines.append(f"size         {opt.size_source / 1e6:.1f} MB -> {opt.size_optimized / 1e6:.1f} MB")
    lines.append("check        " + ("passed" if opt.passed else "NOT passed: " + "; ".join(opt.problems)))
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _remove(args: argparse.Namespace) -> int:
    entry = _library(args).remove(args.id)
    print(f"removed {entry.id} ({entry.name})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    library = _library(args)
    problems = library.verify()
    if args.json:
        _print_json(
            [
                {"model_id": p.model_id, "role": p.role, "path": str(p.path), "problem": p.problem}
                for p in problems
            ]
        )
    elif problems:
        for problem in problems:
            print(f"error: {problem.message()}", file=sys.stderr)
    else:
        print(f"all cached files of {len(library.list())} model(s) match their SHA-256")
    return 1 if problems else 0


# -- formatting ------------------------------------------------------------------------------


def _summary(entry) -> str:
    return (
        f"{entry.type}, layout {entry.info.layout.kind}, {len(entry.labels)} labels, input "
        f"{_input(entry)}, {_ms(entry.inference_ms)} ms per frame here, runs on "
        f"{', '.join(entry.accelerations)}"
    )


def _input(entry) -> str:
    p = entry.info.preprocess
    return f"{p.width}x{p.height} {p.color}"


def _preprocess(entry) -> str:
    p = entry.info.preprocess
    return (
        f"{p.width}x{p.height} {p.data_format} {p.color} {p.dtype}, {p.resize}, scale "
        f"{p.scale:.6g}, mean {list(p.mean)}, std {list(p.std)}"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, allow_nan=False))
