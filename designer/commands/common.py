"""Helpers shared by the subcommands."""

from __future__ import annotations

import sys
from pathlib import Path


def model_library():
    """The user's model library (validation checks model ids, the engine resolves them).

    The bundled sample model is registered on first use, so the samples work
    out of the box. None when the library cannot open: a broken library must
    not stop validating or running skills that name their model files directly.
    """
    from designer.core.models.open import open_model_library

    return open_model_library(lambda message: print(f"warning: {message}", file=sys.stderr))


def refuse_overwrite(
    output: str | Path, inputs: tuple[str | Path, ...] = (), force: bool = False
) -> str | None:
    """Why writing ``output`` must not happen, or None: one rule for every command that writes a file.

    An input is never overwritten (not even with --force: a failed conversion would lose it);
    any other existing file needs --force.
    """
    target = Path(output)
    for source in inputs:
        try:
            same = target.exists() and Path(source).exists() and target.samefile(source)
        except OSError:
            same = False
        if same or target.resolve() == Path(source).resolve():
            return f"{output}: is the input file {source}; write the output to another file"
    if target.exists() and not force:
        return f"{output}: already exists; pass --force to overwrite it"
    return None
