"""One hierarchy of domain errors with stable codes.

Callers (the API, Celery tasks, the CLI) switch on ``code``; ``message`` is for people and
``detail`` is a JSON-friendly dict with the specifics.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EngineError", "InvalidRequest", "InfeasibleParameters", "SolverFailed"]


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str, detail: dict[str, Any] | None = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = dict(detail or {})
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: ``{"code", "message", "detail"}``."""
        return {"code": self.code, "message": self.message, "detail": self.detail}

    def __str__(self) -> str:
        return self.message


class InvalidRequest(EngineError):
    """The request itself is wrong: unknown symbol, negative quantity, weights not summing to 1..."""

    code = "invalid_request"


class InfeasibleParameters(EngineError):
    """The parameters cannot all hold at once; ``conflicts`` names them (e.g. ``"cash.floor"``)."""

    code = "infeasible_parameters"

    def __init__(
        self, message: str, conflicts: list[str] | tuple[str, ...], detail: dict[str, Any] | None = None
    ):
        self.conflicts = tuple(dict.fromkeys(conflicts))
        super().__init__(message, {**(detail or {}), "conflicts": list(self.conflicts)})


class SolverFailed(EngineError):
    """The solver gave up for numerical reasons; the message says what to relax or retry."""

    code = "solver_failed"
