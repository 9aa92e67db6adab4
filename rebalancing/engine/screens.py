"""ESG / values screens: which securities a client does not want to hold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from .parameters import ScreenParams
from .request import Security

__all__ = ["screen_reason", "excluded_mask"]

_SYMBOL, _SECTOR, _TAGS, _ESG = (attrgetter(a) for a in ("symbol", "sector", "tags", "esg_score"))


def screen_reason(security: Security, screen: ScreenParams | None) -> str | None:
    """Why ``security`` is excluded by ``screen`` (e.g. ``"sector Energy"``), or None if it is not."""
    if screen is None:
        return None
    if security.symbol in screen.excluded_symbols:
        return f"symbol {security.symbol}"
    if security.sector is not None and security.sector in screen.excluded_sectors:
        return f"sector {security.sector}"
    tags = set(security.tags).intersection(screen.excluded_tags)
    if tags:
        return f"tag {sorted(tags)[0]}"
    # A missing ESG score does not exclude: the screen applies to rated securities (documented).
    if (
        screen.min_esg_score is not None
        and security.esg_score is not None
        and security.esg_score < screen.min_esg_score
    ):
        return f"ESG score {security.esg_score:g} < {screen.min_esg_score:g}"
    return None


def excluded_mask(securities: Sequence[Security], screen: ScreenParams | None) -> np.ndarray:
    """Boolean mask over ``securities``: True where the screen excludes the security (the same
    test as ``screen_reason``, one criterion at a time over all securities)."""
    n = len(securities)
    if screen is None:
        return np.zeros(n, dtype=bool)
    out = np.fromiter(map(set(screen.excluded_symbols).__contains__, map(_SYMBOL, securities)), bool, n)
    sectors = set(screen.excluded_sectors) - {None}
    if sectors:
        out |= np.fromiter(map(sectors.__contains__, map(_SECTOR, securities)), bool, n)
    if screen.excluded_tags:
        out |= ~np.fromiter(map(set(screen.excluded_tags).isdisjoint, map(_TAGS, securities)), bool, n)
    if screen.min_esg_score is not None:
        scores = (math.inf if v is None else v for v in map(_ESG, securities))
        out |= np.fromiter(scores, float, n) < screen.min_esg_score
    return out
