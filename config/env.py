"""The one place that reads the process environment.

Every setting that comes from outside goes through these readers, so a missing or malformed
variable fails at start-up with the variable's name instead of deep inside a request.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

__all__ = ["env_bool", "env_choice", "env_int", "env_list", "env_str", "load_env_file", "REQUIRED"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


def env_str(name: str, default: str | _Required = REQUIRED) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if isinstance(default, _Required):
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None


def env_list(name: str, default: list[str] | _Required = REQUIRED) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        if isinstance(default, _Required):
            raise ImproperlyConfigured(f"Set the {name} environment variable (comma-separated).")
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def load_env_file(path) -> None:
    """Set variables from a KEY=VALUE file without overriding what the environment already has."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip())
