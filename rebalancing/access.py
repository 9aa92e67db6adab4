"""What a user may see: every list and every lookup by id in pages, API and exports starts here,
so an advisor asking for a colleague's account by id finds nothing (404), not a refusal that
confirms it exists."""

from django.db.models import Count, Prefetch, Q

from rebalancing.models import (
    Account,
    Alert,
    Household,
    HouseholdUserObjectPermission,
    Proposal,
    ProposalApproval,
)
from tenants.api_keys.models import ApiKey
from tenants.errors import PermissionDenied
from tenants.permissions import ROLE_CAPABILITIES, Capability, is_advisor_only, user_can
from tenants.roles import FirmRole

__all__ = [
    "ADVISOR_PERMISSION",
    "own_choice_approval_refusal",
    "accounts_visible_to",
    "advised_households_count",
    "households_advised_by",
    "households_without_advisor",
    "with_advisors",
    "decision_capacity",
    "decision_refusal",
    "proposals_decidable_by",
    "alerts_visible_to",
    "api_keys_visible_to",
    "households_visible_to",
    "proposals_visible_to",
    "require",
]


def require(user, capability: Capability) -> None:
    if not user_can(user, capability):
        raise PermissionDenied(f"Your role does not allow this ({capability.value.replace('_', ' ')}).",
                               detail={"capability": capability.value})


# An advisor's households are the ones they hold this object permission on (django-guardian): the
# one source of "who advises a household", granted and taken by services.people.
ADVISOR_PERMISSION = "view_household"


def _advisor_grants():
    return HouseholdUserObjectPermission.objects.filter(permission__codename=ADVISOR_PERMISSION,
                                                        permission__content_type__app_label="rebalancing")


def households_advised_by(user_or_id):
    """Households the user (or user id) advises."""
    user_id = getattr(user_or_id, "pk", user_or_id)
    return Household.objects.filter(pk__in=_advisor_grants().filter(user_id=user_id).values("content_object_id"))


def households_without_advisor():
    return Household.objects.exclude(pk__in=_advisor_grants().values("content_object_id"))


def advised_households_count():
    """An annotation of users: how many households each advises."""
    return Count("householduserobjectpermission__content_object", distinct=True,
                 filter=Q(householduserobjectpermission__permission__codename=ADVISOR_PERMISSION))


def with_advisors(queryset, path: str = ""):
    """``queryset`` with each household's advisors prefetched (``Household.advisors``); ``path``
    leads from the queryset's model to the household (``"household__"``, ``"account__household__"``)."""
    grants = HouseholdUserObjectPermission.objects.select_related("user", "permission")
    return queryset.prefetch_related(Prefetch(f"{path}advisor_grants", queryset=grants))


def households_visible_to(user):
    if not user_can(user, Capability.VIEW_BOOK):
        return Household.objects.none()
    if is_advisor_only(user):
        return households_advised_by(user)
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


def api_keys_visible_to(user):
    """A person's own API keys; everyone's for those who manage people (who issue and revoke them)."""
    keys = ApiKey.objects.all()
    return keys if user_can(user, Capability.MANAGE_USERS) else keys.filter(user_id=user.pk)


# --- Who may decide a proposal: the one home of the rule, for pages, the API and the services -----

def _capacities(user) -> list[tuple[str, Q]]:
    """The capacities open to ``user`` on a pending proposal, each with the proposals it covers:
    the advisor's (their own households; portfolio managers and admins: households without an
    advisor) and compliance's (where the policy requires a second approval)."""
    out = []
    if user_can(user, Capability.APPROVE):
        mine = Q(account__household__in=households_advised_by(user))
        if _approves_firm_wide(user):
            mine |= Q(account__household__in=households_without_advisor())
        out.append((ProposalApproval.Capacity.ADVISOR, mine & ~Q(approvals__capacity=ProposalApproval.Capacity.ADVISOR)))
    if user_can(user, Capability.APPROVE_COMPLIANCE):
        # Whoever chose a proposal's trades (an instruction, any edit along its revisions: an edit
        # carries the earlier ones forward) is not its second pair of eyes.
        out.append((ProposalApproval.Capacity.COMPLIANCE,
                    Q(requires_compliance=True) & ~Q(approvals__capacity=ProposalApproval.Capacity.COMPLIANCE)
                    & ~Q(chosen_by__contains=[user.pk])))
    return out


def _approves_firm_wide(user) -> bool:
    """Whether ``user`` holds the approval through a role other than the advisor's (a portfolio
    manager's): only such a role decides for households without an advisor. Another firm-wide role
    beside the advisor's (compliance, firm admin) widens what the advisor sees, not what they approve."""
    roles = set(user.groups.values_list("name", flat=True)) - {FirmRole.ADVISOR}
    return any(Capability.APPROVE in ROLE_CAPABILITIES.get(role, ()) for role in roles)


def proposals_decidable_by(user):
    """Pending proposals ``user`` may approve or reject now (never one they decided already)."""
    condition = Q(pk__in=[])
    for _, covers in _capacities(user):
        condition |= covers
    pending = proposals_visible_to(user).filter(status=Proposal.Status.PENDING)
    # A subquery, not .distinct(): the result column is PostgreSQL json, which has no equality.
    return Proposal.objects.filter(pk__in=pending.filter(condition).exclude(approvals__user=user).values("pk"))


def decision_refusal(user, proposal: Proposal, what: str = "this proposal") -> PermissionDenied:
    """Why ``user`` may not decide on the pending ``proposal`` (``decision_capacity`` gave None), in
    words naming whose decision it is: the refusal a page or the API shows."""
    detail = {"proposal": proposal.pk}
    approves, checks = user_can(user, Capability.APPROVE), user_can(user, Capability.APPROVE_COMPLIANCE)
    if not (approves or checks):
        return PermissionDenied("Your role does not allow this (approve): the household's advisor approves "
                                "proposals, and compliance where the firm's policy asks for it.",
                                detail={**detail, "capability": Capability.APPROVE.value})
    given = set(proposal.approvals.filter(decision=ProposalApproval.Decision.APPROVE)
                .values_list("capacity", flat=True))
    why = []
    if approves:
        household = proposal.account.household
        advisors = household.advisors if household is not None else []
        if ProposalApproval.Capacity.ADVISOR in given:
            why.append("its advisor's approval is given already")
        elif advisors and user not in advisors:
            names = ", ".join(u.get_full_name() or u.get_username() for u in advisors)
            why.append(f"its household's advisor ({names}) approves it")
        elif not advisors and not _approves_firm_wide(user):
            why.append("its household has no advisor, so a portfolio manager approves it")
    if checks:
        if not proposal.requires_compliance:
            why.append("the firm's policy asks no compliance approval of it")
        elif ProposalApproval.Capacity.COMPLIANCE in given:
            why.append("compliance has approved it already")
        elif user.pk in proposal.chosen_by:
            return PermissionDenied("You chose trades of this proposal (an edit or a one-off instruction, in it or in "
                                    "a proposal it revises): its compliance approval must come from someone else.",
                                    detail={**detail, "chosen_by": user.pk})
    return PermissionDenied(f"You may not approve or reject {what}: " + "; ".join(why or ["it is not yours to decide"])
                            + ".", detail=detail)


def own_choice_approval_refusal(user, proposal: Proposal) -> PermissionDenied | None:
    """Why ``user``, who may decide ``proposal``, may reject it but not approve it: they chose its
    trades (an instruction or an edit, ``Proposal.chosen_by``) and its household has no advisor, so as
    the portfolio manager deciding for it they would choose, approve and release the trades alone.
    (The household's own advisor approves what they chose: they answer for the client.)"""
    household = proposal.account.household
    if user.pk not in (proposal.chosen_by or []) or (household is not None and household.advisors):
        return None
    return PermissionDenied("You chose trades of this proposal (an instruction or an edit, in it or in a proposal "
                            "it revises) and its household has no advisor: another portfolio manager approves it, "
                            "so that no one chooses, approves and releases trades alone. You may still reject it.",
                            detail={"proposal": proposal.pk, "chosen_by": user.pk})


def decision_capacity(user, proposal: Proposal) -> str | None:
    """The capacity in which ``user`` may decide on ``proposal`` now, or None (never a second one:
    who approved in one capacity neither decides again in another nor edits it afterwards)."""
    for capacity, covers in _capacities(user):
        if Proposal.objects.filter(covers, pk=proposal.pk, status=Proposal.Status.PENDING) \
                .exclude(approvals__user=user).exists():
            return capacity
    return None
