"""What an API key may be used for. A key's scopes narrow its owner's role; they never widen it.

A request made with a key may do what the owner's role allows *and* the key's scopes name; a
browser session has every scope its roles give (``scopes_of``).
"""

from enum import StrEnum

__all__ = ["SCOPE_CAPABILITIES", "Scope", "scopes_of"]


class Scope(StrEnum):
    READ = "read"  # every GET, the what-if engine call (stores nothing), backtests (store their own report)
    IMPORT = "import"  # CSV/JSON imports of the book
    RUN = "run"  # starting and cancelling rebalance runs
    APPROVE = "approve"  # approving, rejecting and releasing proposals
    PARAMETERS = "parameters"  # account and household parameter overrides
    ADMIN = "admin"  # models, parameter templates, webhook endpoints, the restricted list


# A role holds a scope when it holds any of these capabilities (tenants.permissions.Capability values).
SCOPE_CAPABILITIES: dict[Scope, frozenset[str]] = {
    Scope.READ: frozenset({"view_book", "read_audit"}),
    Scope.IMPORT: frozenset({"import_data"}),
    Scope.RUN: frozenset({"run_rebalance"}),
    Scope.APPROVE: frozenset({"approve", "approve_compliance", "release"}),
    Scope.PARAMETERS: frozenset({"edit_parameters"}),
    Scope.ADMIN: frozenset({"manage_models", "manage_users", "manage_integrations", "manage_restricted_list"}),
}


def scopes_of(user) -> frozenset[Scope]:
    """The scopes a user's roles give (what a signed-in browser session may use)."""
    from tenants.permissions import capabilities_of

    capabilities = {str(c) for c in capabilities_of(user)}
    return frozenset(scope for scope, needs in SCOPE_CAPABILITIES.items() if needs & capabilities)
