"""JSON Merge Patch (RFC 7396): what a PATCH of a JSON document changes.

A PATCH of a template's ``parameters`` or of an account's ``overrides`` names only what it changes:
objects merge key by key (recursively), ``null`` removes a key, anything else - arrays and scalars
included - replaces the value whole. Replacing the whole document is PUT's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied, as RFC 7396 section 2 defines ``MergePatch``; a new value
    (neither argument is changed)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged
