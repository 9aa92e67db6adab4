"""ESG / values screens: which securities a client does not want to hold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .parameters import ScreenParams
from .request import Security

__all__ = ["screen_reason", "excluded_mask"]


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
    """Boolean mask over ``securities``: True where the screen excludes the security."""
    if screen is None:
        return np.zeros(len(securities), dtype=bool)
    return np.fromiter((screen_reason(s, screen) is not None for s in securities), bool, len(securities))
