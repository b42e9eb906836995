"""`skill-designer models ...`: add, list, show, refresh, remove and verify library models."""

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
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    Console(width=max(120, Console().width)).print(table)
    return 0


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
