"""Who may do what in a firm: one capability map for pages, API, admin, API keys and commands.

Roles are groups in the firm's schema (``tenants.roles``); each gives capabilities. Advisors see
only the households assigned to them (``rebalancing.access``); every other firm role sees the
whole firm.
"""

from enum import StrEnum

from tenants.roles import FirmRole

__all__ = ["Capability", "ROLE_CAPABILITIES", "ROLE_MODEL_PERMISSIONS", "capabilities_of", "is_advisor_only", "user_can"]


class Capability(StrEnum):
    VIEW_BOOK = "view_book"
    MANAGE_MODELS = "manage_models"  # models and parameter templates
    MANAGE_USERS = "manage_users"  # users, roles, advisor assignments, approval policy
    IMPORT_DATA = "import_data"
    RUN_REBALANCE = "run_rebalance"
    EDIT_PARAMETERS = "edit_parameters"  # account/household overrides (advisors: own, within limits)
    APPROVE = "approve"  # advisor approval (own households; PMs for households without an advisor)
    APPROVE_COMPLIANCE = "approve_compliance"
    RELEASE = "release"
    READ_AUDIT = "read_audit"
    MANAGE_INTEGRATIONS = "manage_integrations"  # webhook endpoints and their delivery log
    MANAGE_RESTRICTED_LIST = "manage_restricted_list"  # the firm's restricted list (compliance, firm admins)
    # Reading, not changing: compliance reviews trades, so it reads the risk model versions proposals
    # name and the position files compared with the ledger; estimating a version needs RUN_REBALANCE,
    # comparing or deciding a file IMPORT_DATA.
    VIEW_RISK_MODEL = "view_risk_model"
    VIEW_RECONCILIATIONS = "view_reconciliations"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    FirmRole.FIRM_ADMIN: frozenset({
        Capability.VIEW_BOOK, Capability.MANAGE_MODELS, Capability.MANAGE_USERS, Capability.IMPORT_DATA,
        Capability.RUN_REBALANCE, Capability.EDIT_PARAMETERS, Capability.READ_AUDIT, Capability.MANAGE_INTEGRATIONS,
        Capability.MANAGE_RESTRICTED_LIST, Capability.VIEW_RISK_MODEL, Capability.VIEW_RECONCILIATIONS,
    }),
    FirmRole.PORTFOLIO_MANAGER: frozenset({
        Capability.VIEW_BOOK, Capability.IMPORT_DATA, Capability.RUN_REBALANCE, Capability.EDIT_PARAMETERS,
        Capability.APPROVE, Capability.RELEASE, Capability.VIEW_RISK_MODEL, Capability.VIEW_RECONCILIATIONS,
    }),
    FirmRole.ADVISOR: frozenset({Capability.VIEW_BOOK, Capability.EDIT_PARAMETERS, Capability.APPROVE}),
    FirmRole.COMPLIANCE: frozenset({Capability.VIEW_BOOK, Capability.APPROVE_COMPLIANCE, Capability.READ_AUDIT,
                                    Capability.MANAGE_RESTRICTED_LIST, Capability.VIEW_RISK_MODEL,
                                    Capability.VIEW_RECONCILIATIONS}),
}


def _perms(app: str, actions: str, models: str) -> tuple[str, ...]:
    return tuple(f"{app}.{action}_{model}" for model in models.split() for action in actions.split())


# The Django admin site's model permissions each role's group carries (tenants.services.role_groups_sync).
# Only firm admins use the admin site (they alone are staff): the firm's reference data and book, with
# every change audited by the admin's mixin; runs, proposals and the audit trail to read. People,
# roles and keys are managed on the firm's pages, through their services, not here.
ROLE_MODEL_PERMISSIONS: dict[str, tuple[str, ...]] = {
    FirmRole.FIRM_ADMIN: (
        *_perms("rebalancing", "view add change delete",
                "security price benchmark benchmarkweight household account taxlot alert"),
        *_perms("rebalancing", "view add change", "modelportfolio modelversion sleeve sleeveholding parametertemplate"),
        *_perms("rebalancing", "view", "rebalancerun proposal runoutcome traderecord"),
        *_perms("audit", "view", "auditevent"),
    ),
}


def capabilities_of(user) -> frozenset[Capability]:
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_firm_capabilities", None)
    if cached is None:
        roles = set(user.groups.values_list("name", flat=True))
        cached = frozenset().union(*(ROLE_CAPABILITIES.get(r, frozenset()) for r in roles))
        user._firm_capabilities = cached
    return cached


def user_can(user, capability: Capability) -> bool:
    return capability in capabilities_of(user)


def is_advisor_only(user) -> bool:
    """An advisor without a firm-wide role: restricted to their own households."""
    roles = set(user.groups.values_list("name", flat=True))
    return FirmRole.ADVISOR in roles and not roles & {
        FirmRole.FIRM_ADMIN, FirmRole.PORTFOLIO_MANAGER, FirmRole.COMPLIANCE
    }
