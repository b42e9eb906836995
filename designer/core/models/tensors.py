"""Description of one model input or output, as onnxruntime reports it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

Dim = int | str | None


class TensorInfo(BaseModel):
    """Symbolic dimensions keep their name (a str); unknown ones are None."""

    model_config = ConfigDict(frozen=True)

    name: str
    shape: list[Dim]
    dtype: str

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name} [{dims}] {self.dtype}"


def fixed(dim: Dim) -> int | None:
    """The dimension's size when it is known, else None."""
    return dim if isinstance(dim, int) and dim >= 0 else None
