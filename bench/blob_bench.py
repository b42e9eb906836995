"""Blob download throughput and model add time (run by hand; prints, asserts nothing).

    .venv/bin/python bench/blob_bench.py [--size-mb 50] [--rounds 9]

Starts a private Azurite (``$AZURITE_BLOB``, ``.tools/node_modules/.bin/azurite-blob`` or PATH),
uploads one random blob and downloads it alternately with a plain
``BlobClient.download_blob().readinto(file)`` and with our resumable, verifying
``designer.core.models.blob.download`` (SHA-256 + Content-MD5 + progress callbacks).
Prints median MB/s of each and their ratio (goal >= 0.9x), with the CPU each used (ours also
hashes SHA-256 and MD5, in threads: on a loaded machine that CPU shows up as wall time),
then the median time to add (copy, hash, inspect, time one inference) the bundled model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from azure.storage.blob import BlobClient, BlobServiceClient

from designer.core.models.blob import BlobAccess, download
from designer.core.models.library import ModelLibrary

REPO = Path(__file__).resolve().parents[1]
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_executable() -> str:
    found = os.environ.get("AZURITE_BLOB") or str(REPO / ".tools/node_modules/.bin/azurite-blob")
    if Path(found).is_file():
        return found
    found = shutil.which("azurite-blob")
    if found is None:
        sys.exit("azurite-blob not found: npm install --prefix .tools azurite@3")
    return found


def start_azurite(location: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            azurite_executable(),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    cs = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    return process, cs


def plain(cs: str, dest: Path) -> None:
    with open(dest, "wb") as out:
        BlobClient.from_connection_string(cs, "bench", "big.bin").download_blob().readinto(out)


def ours(cs: str, dest: Path) -> None:
    progress_calls = []
    download(
        BlobAccess.from_connection_string(cs, "bench", "big.bin"),
        dest,
        progress=lambda done, total: progress_calls.append(done),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "azurite").mkdir()
        process, cs = start_azurite(tmp_path / "azurite")
        try:
            service = BlobServiceClient.from_connection_string(cs)
            service.create_container("bench").upload_blob("big.bin", os.urandom(size))
            times: dict[str, list[float]] = {"plain readinto": [], "ours": []}
            cpu: dict[str, list[float]] = {"plain readinto": [], "ours": []}
            for _ in range(args.rounds):
                for name, func in (("plain readinto", plain), ("ours", ours)):
                    dest = tmp_path / f"{name}.bin"
                    start, start_cpu = time.perf_counter(), time.process_time()
                    func(cs, dest)
                    times[name].append(time.perf_counter() - start)
                    cpu[name].append(time.process_time() - start_cpu)
                    dest.unlink()
        finally:
            process.kill()
            process.wait()

        rates = {name: size / 1e6 / statistics.median(t) for name, t in times.items()}
        print(f"download of a {args.size_mb} MB blob from Azurite, median of {args.rounds}:")
        for name, rate in rates.items():
            print(
                f"  {name:<15} {rate:8.1f} MB/s  ({statistics.median(times[name]):.3f} s, "
                f"{statistics.median(cpu[name]):.3f} s of this process's CPU)"
            )
        print(f"  ratio ours / plain: {rates['ours'] / rates['plain readinto']:.2f}x (goal >= 0.9x)")

        adds, inference = [], []
        for i in range(3):
            start = time.perf_counter()
            entry = ModelLibrary(tmp_path / f"lib{i}").ensure_bundled_sample()
            adds.append(time.perf_counter() - start)
            inference.append(entry.inference_ms or 0.0)
        print(
            f"add (copy + hash + inspect + timed inference) of the bundled model: "
            f"median {statistics.median(adds) * 1000:.0f} ms; its inference on a blank frame: "
            f"{statistics.median(inference):.1f} ms"
        )


if __name__ == "__main__":
    main()
