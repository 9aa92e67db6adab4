"""What a user may see: every list and every lookup by id in pages, API and exports starts here,
so an advisor asking for a colleague's account by id finds nothing (404), not a refusal that
confirms it exists."""

from guardian.shortcuts import get_objects_for_user

from rebalancing.models import Account, Alert, Household, Proposal
from rebalancing.permissions import Capability, is_advisor_only, user_can
from tenants.errors import PermissionDenied

__all__ = [
    "accounts_visible_to",
    "alerts_visible_to",
    "households_visible_to",
    "proposals_visible_to",
    "require",
]


def require(user, capability: Capability) -> None:
    if not user_can(user, capability):
        raise PermissionDenied(f"Your role does not allow this ({capability.value.replace('_', ' ')}).",
                               detail={"capability": capability.value})


def households_visible_to(user):
    if not user_can(user, Capability.VIEW_BOOK):
        return Household.objects.none()
    if is_advisor_only(user):
        return get_objects_for_user(user, "rebalancing.view_household", klass=Household,
                                    with_superuser=False, accept_global_perms=False)
    return Household.objects.all()


def accounts_visible_to(user):
    if not user_can(user, Capability.VIEW_BOOK):
        return Account.objects.none()
    if is_advisor_only(user):
        return Account.objects.filter(household__in=households_visible_to(user))
    return Account.objects.all()


def proposals_visible_to(user):
    return Proposal.objects.filter(account__in=accounts_visible_to(user))


def alerts_visible_to(user):
    return Alert.objects.filter(account__in=accounts_visible_to(user))
