from django.conf import settings
from django.db import models
from django.db.models import Q

from .runs import Proposal


class ApprovalPolicy(models.Model):
    """The firm's rules for who must approve a proposal (one row per firm schema).

    Discretionary accounts whose proposal stays within every auto-approval limit are approved
    automatically; otherwise the advisor approves; above any compliance threshold, or when a
    restricted security is traded, compliance approves too (a second person).
    """

    auto_approve = models.BooleanField(default=True, help_text="Auto-approve discretionary accounts within limits")
    auto_max_estimated_tax = models.DecimalField(max_digits=18, decimal_places=2, default=1000)
    auto_max_turnover = models.FloatField(default=0.05, help_text="Fraction of account value")
    auto_max_trades = models.PositiveIntegerField(default=20)
    compliance_min_estimated_tax = models.DecimalField(max_digits=18, decimal_places=2, default=25000)
    compliance_min_turnover = models.FloatField(default=0.25)
    compliance_on_restricted = models.BooleanField(default=True, help_text="Restricted securities traded")
    max_price_age_days = models.PositiveIntegerField(
        default=3, help_text="A proposal priced longer ago than this expires instead of being released"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "approval policy"
        constraints = [
            models.CheckConstraint(condition=Q(auto_max_turnover__gte=0, compliance_min_turnover__gte=0),
                                   name="policy_turnover_not_negative"),
        ]

    def __str__(self) -> str:
        return "Approval policy"

    @classmethod
    def current(cls) -> "ApprovalPolicy":
        policy = cls.objects.order_by("pk").first()
        return policy if policy is not None else cls.objects.create()


class ProposalApproval(models.Model):
    """One person's decision on a proposal. A person decides once per proposal."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"

    class Capacity(models.TextChoices):
        ADVISOR = "advisor", "Advisor"
        COMPLIANCE = "compliance", "Compliance"
        POLICY = "policy", "Approval policy (automatic)"

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    capacity = models.CharField(max_length=16, choices=Capacity.choices)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "user"], condition=Q(user__isnull=False),
                                    name="one_decision_per_person_per_proposal"),
            models.UniqueConstraint(fields=["proposal", "capacity"], name="one_decision_per_capacity"),
        ]

    def __str__(self) -> str:
        return f"{self.get_capacity_display()} {self.get_decision_display()} proposal {self.proposal_id}"
