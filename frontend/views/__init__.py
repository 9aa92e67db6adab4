"""The web frontend's pages. Each starts its queries from rebalancing.access and changes nothing
itself: writes go through the same services the API uses."""

from .auth import ChoosePasswordView, SignInView, SignOutView

__all__ = ["ChoosePasswordView", "SignInView", "SignOutView"]
