"""Problems found in a skill: one located, actionable finding per broken rule."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """A rule a skill breaks, with the node and parameter it concerns.

    ``code`` is stable (tools and tests match on it); ``message`` is for people
    and says what to do.
    """

    severity: Severity
    code: str
    message: str
    node_id: str | None = None
    param: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict:
        return asdict(self)

    def located(self) -> str:
        """``node <id> [<param>]`` or ``skill`` when it concerns the whole skill."""
        where = f"node {self.node_id}" if self.node_id is not None else "skill"
        return f"{where} [{self.param}]" if self.param else where


def error(code: str, message: str, node_id: str | None = None, param: str | None = None) -> Problem:
    return Problem(Severity.ERROR, code, message, node_id, param)


def warning(code: str, message: str, node_id: str | None = None, param: str | None = None) -> Problem:
    return Problem(Severity.WARNING, code, message, node_id, param)
