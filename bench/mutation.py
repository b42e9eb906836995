"""Mutation pass: does the suite notice a small plausible bug? One single-token change at a time.

Each mutant flips one token of the code in ``designer/core/engine``, ``designer/core/models``
and ``designer/customnode`` (``<`` -> ``<=``, ``==`` -> ``!=``, ``+`` -> ``-``, ``and`` -> ``or``,
``True`` -> ``False``, a number +- 1, a dropped ``not``, ``break`` -> ``continue``, ...), then runs
the tests that import the changed module (``-x``, with a per-mutant timeout). A mutant is
*killed* when a test fails or the run times out, *survived* when every test passes.

It works on a copy of the last commit (``git archive HEAD``) in a temporary folder, so the
working tree, which others may be editing, is never touched; the copy is imported first via
PYTHONPATH, bytecode is never written (a stale .pyc could hide a mutant), and the services the
tests start come from the same places as in a normal run (``.tools`` is linked in).

    .venv/bin/python bench/mutation.py --sample 100 --seed 13 --timeout 240 --json out.json

Slow on purpose (one pytest run per mutant): use ``--sample`` on a shared machine. Prints a
Markdown summary: score per package and every survivor, for a person to judge (a survivor can
be harmless: a log message's number, an equivalent boundary).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tokenize
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("designer/core/engine", "designer/core/models", "designer/customnode")
SKIP_FILES = {"custom_node_pb2.py", "custom_node_pb2_grpc.py", "regenerate.py"}  # generated / a tool
SLOW_TESTS = ("tests/e2e/", "tests/test_cli_skill.py")  # whole-CLI runs: left to the package tests

SWAPS = {
    "==": "!=",
    "!=": "==",
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "+": "-",
    "-": "+",
    "*": "/",
    "/": "*",
    "//": "/",
    "%": "*",
    "+=": "-=",
    "-=": "+=",
    "and": "or",
    "or": "and",
    "True": "False",
    "False": "True",
    "break": "continue",
    "continue": "break",
    "min": "max",
    "max": "min",
    "any": "all",
    "all": "any",
}
# a line whose only purpose is to say something: mutating it tests wording, not behaviour
_MESSAGE_LINE = re.compile(r"^\s*(log\.\w+|logging\.\w+|print)\(")


@dataclass(frozen=True, slots=True)
class Mutant:
    path: str  # relative to the repository root
    line: int
    col: int
    old: str
    new: str
    source_line: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: `{self.old}` -> `{self.new or '(removed)'}`"


def mutants_of(path: Path, root: Path) -> list[Mutant]:
    """Every single-token mutant of one file (docstrings, comments, strings and log lines left alone)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    found: list[Mutant] = []
    in_annotation = False
    for i, tok in enumerate(tokens):
        line = lines[tok.start[0] - 1] if tok.start[0] - 1 < len(lines) else ""
        if _MESSAGE_LINE.match(line) or line.lstrip().startswith(("def ", "class ", "@", "import ", "from ")):
            continue
        prev = tokens[i - 1].string if i else ""
        nxt = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if tok.type == tokenize.OP and tok.string == ":" and prev.isidentifier():
            in_annotation = True  # `name: Type = ...` declarations: types are not behaviour
        if (tok.type == tokenize.OP and tok.string in ("=", ")")) or tok.type == tokenize.NEWLINE:
            in_annotation = False
        if in_annotation:
            continue
        new: list[str] = []
        if tok.type == tokenize.OP and tok.string in SWAPS:
            if tok.string == "*" and (prev in ("(", ",") or nxt in (")", ",")):
                continue  # *args, keyword-only marker
            if tok.string == "-" and prev in ("(", ",", "=", "[", "return", ":"):
                continue  # a unary minus: the number mutants cover it
            new = [SWAPS[tok.string]]
        elif (
            tok.type == tokenize.NAME
            and tok.string in SWAPS
            and tok.string in ("and", "or", "True", "False", "break", "continue")
        ):
            new = [SWAPS[tok.string]]
        elif tok.type == tokenize.NAME and tok.string in ("min", "max", "any", "all") and nxt == "(":
            new = [SWAPS[tok.string]]
        elif tok.type == tokenize.NAME and tok.string == "not" and prev != "is" and nxt != "in":
            new = [""]
        elif tok.type == tokenize.NUMBER and not tok.string.lower().endswith("j"):
            value = tok.string.replace("_", "")
            try:
                number = int(value, 0)
                new = [str(number + 1)] + ([str(number - 1)] if number > 0 else [])
            except ValueError:
                number = float(value)
                new = [repr(number * 2) if number else "1.0", repr(number / 2) if number else "-1.0"]
        for replacement in new:
            found.append(
                Mutant(
                    str(path.relative_to(root)),
                    tok.start[0],
                    tok.start[1],
                    tok.string,
                    replacement,
                    line.strip(),
                )
            )
    return found


def apply(mutant: Mutant, root: Path) -> str:
    """Write the mutant into the copy; returns the original text to restore."""
    path = root / mutant.path
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    line = lines[mutant.line - 1]
    assert line[mutant.col : mutant.col + len(mutant.old)] == mutant.old, mutant
    replacement = mutant.new
    if not replacement and line[mutant.col + len(mutant.old) : mutant.col + len(mutant.old) + 1] == " ":
        lines[mutant.line - 1] = line[: mutant.col] + line[mutant.col + len(mutant.old) + 1 :]
    else:
        lines[mutant.line - 1] = line[: mutant.col] + replacement + line[mutant.col + len(mutant.old) :]
    path.write_text("".join(lines), encoding="utf-8")
    return original


TEST_FOLDERS = {
    "designer.core.engine": "tests/core/engine",
    "designer.core.models": "tests/core/models",
    "designer.customnode": "tests/customnode",
}


OWN_TESTS = tuple(f"{folder}/" for folder in TEST_FOLDERS.values())


def tests_for(module_path: str, root: Path) -> list[list[str]]:
    """The test runs for a mutant of the module, in order, cheapest first: the test files that
    import it (by dotted name or ``from package import module``), then its package's whole test
    folder, since most code is reached through other modules."""
    dotted = module_path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    package, _, leaf = dotted.rpartition(".")
    pattern = re.compile(
        rf"({re.escape(dotted)}\b|from {re.escape(package)} import [^\n]*\b{re.escape(leaf)}\b)"
    )
    hits = []
    for test in sorted((root / "tests").rglob("test_*.py")):
        rel = str(test.relative_to(root))
        if rel.startswith(SLOW_TESTS) or not rel.startswith(OWN_TESTS):
            continue  # the three packages' own tests: GUI and whole-app tests are not this pass's
        if pattern.search(test.read_text(encoding="utf-8")):
            hits.append(rel)
    folder = next(v for k, v in TEST_FOLDERS.items() if dotted.startswith(k))
    outside = [h for h in hits if not h.startswith(folder + "/")]
    return [hits, [folder, *outside]] if hits else [[folder]]


IGNORED: list[str] = []  # --ignore: test paths left out of every run (flaky or slow ones)


def run_tests(tests: list[str], root: Path, timeout: float) -> tuple[str, float]:
    """('passed' | 'failed' | 'timeout', seconds)."""
    env = dict(
        os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", CI="1", QT_QPA_PLATFORM="offscreen"
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--timeout",
        "60",
        *(f"--ignore={path}" for path in IGNORED),
        *tests,
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
        return "timeout", time.monotonic() - started
    return ("passed" if code == 0 else "failed"), time.monotonic() - started


def snapshot(into: Path, commit: str = "HEAD") -> Path:
    """A commit's files, plus a link to the installed tools (Azurite)."""
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    if (ROOT / ".tools").exists():
        (into / ".tools").symlink_to(ROOT / ".tools")
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=100, help="mutants to run (0: all)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per mutant's test run")
    parser.add_argument("--only", default="", help="comma-separated path prefixes to mutate")
    parser.add_argument("--json", type=Path, help="write every result here as it arrives")
    parser.add_argument("--list", action="store_true", help="count the mutants and stop")
    parser.add_argument("--skip", default="", help="comma-separated path prefixes not to mutate")
    parser.add_argument("--commit", default="HEAD", help="the commit to mutate (default: the last)")
    parser.add_argument("--rerun", type=Path, help="a --json file: run again only its skipped mutants")
    parser.add_argument("--ignore", action="append", default=[], help="a test path to leave out")
    args = parser.parse_args()
    IGNORED.extend(args.ignore)

    work = Path(tempfile.mkdtemp(prefix="mutation-"))
    try:
        root = snapshot(work / "repo", args.commit)
        files = [
            p
            for package in PACKAGES
            for p in sorted((root / package).rglob("*.py"))
            if p.name not in SKIP_FILES
        ]
        if args.only:
            prefixes = tuple(args.only.split(","))
            files = [p for p in files if str(p.relative_to(root)).startswith(prefixes)]
        if args.skip:
            prefixes = tuple(args.skip.split(","))
            files = [p for p in files if not str(p.relative_to(root)).startswith(prefixes)]
        every = [m for p in files for m in mutants_of(p, root)]
        print(f"{len(every)} mutants in {len(files)} files", flush=True)
        if args.list:
            counts = defaultdict(int)
            for m in every:
                counts[m.path] += 1
            for path, count in sorted(counts.items()):
                print(f"  {count:5d}  {path}")
            return 0
        chosen = (
            random.Random(args.seed).sample(every, min(args.sample, len(every))) if args.sample else every
        )
        kept: list[dict] = []
        if args.rerun:
            previous = json.loads(args.rerun.read_text(encoding="utf-8"))
            kept = [r for r in previous if not r["outcome"].startswith("skipped")]
            fields = ("path", "line", "col", "old", "new", "source_line")
            chosen = [Mutant(*(r[f] for f in fields)) for r in previous if r["outcome"].startswith("skipped")]
        chosen.sort(key=lambda m: (m.path, m.line, m.col))

        baseline: dict[tuple[str, ...], str] = {}
        results = list(kept)
        for n, mutant in enumerate(chosen, 1):
            stages = [tuple(stage) for stage in tests_for(mutant.path, root)]
            for stage in stages:
                if stage not in baseline:
                    baseline[stage], seconds = run_tests(list(stage), root, args.timeout)
                    print(f"baseline {baseline[stage]} in {seconds:.0f} s: {' '.join(stage)}", flush=True)
            stages = [stage for stage in stages if baseline[stage] == "passed"]
            outcome, seconds, tests = "skipped (baseline fails)", 0.0, ()
            original = apply(mutant, root)
            try:
                compile((root / mutant.path).read_text(encoding="utf-8"), mutant.path, "exec")
            except SyntaxError:
                stages, outcome = [], "invalid"
            try:
                for stage in stages:
                    outcome, spent = run_tests(list(stage), root, args.timeout)
                    seconds += spent
                    tests = stage
                    if outcome != "passed":
                        break
            finally:
                (root / mutant.path).write_text(original, encoding="utf-8")
            status = {"failed": "killed", "timeout": "killed (timeout)", "passed": "SURVIVED"}.get(
                outcome, outcome
            )
            results.append(
                {**asdict(mutant), "outcome": status, "seconds": round(seconds, 1), "tests": tests}
            )
            print(f"[{n}/{len(chosen)}] {status:16s} {seconds:5.0f} s  {mutant.describe()}", flush=True)
            if args.json:
                args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")

        print(summary(results))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def summary(results: list[dict]) -> str:
    """Markdown: score per package, then the survivors."""
    counted = [r for r in results if r["outcome"].startswith(("killed", "SURVIVED"))]
    lines = ["| package | mutants | killed | score |", "|---|---|---|---|"]
    for package in PACKAGES:
        mine = [r for r in counted if r["path"].startswith(package)]
        killed = sum(r["outcome"].startswith("killed") for r in mine)
        if mine:
            lines.append(f"| `{package}` | {len(mine)} | {killed} | {100 * killed / len(mine):.0f} % |")
    killed = sum(r["outcome"].startswith("killed") for r in counted)
    if counted:
        lines.append(f"| all | {len(counted)} | {killed} | {100 * killed / len(counted):.0f} % |")
    other = [r for r in results if r not in counted]
    if other:
        lines.append(f"\nNot counted: {len(other)} ({', '.join(sorted({r['outcome'] for r in other}))}).")
    lines.append("\nSurvivors:\n")
    for r in counted:
        if r["outcome"] == "SURVIVED":
            change = f"`{r['old']}` -> `{r['new'] or '(removed)'}`"
            lines.append(f"- `{r['path']}:{r['line']}` {change}: `{r['source_line']}`")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
