from django.conf import settings
from django.db import models
from django.db.models import Q

from .book import Account, Household
from .runs import RebalanceRun


class CashFlow(models.Model):
    """Money into or out of a household: a deposit, a withdrawal, a required minimum distribution.

    A withdrawal or RMD is funded by the sales the engine's ``plan_withdrawal`` chose (``plan``):
    which account, which lots, cash first, never a wash sale; they become proposals of ``run`` and go
    through the approval workflow like any other. A deposit's cash is invested by a household run.
    One ``taken_outside`` was made at the custodian: it is recorded (the IRA's RMD counts it) and
    nothing is sold. An RMD with ``makes_up_year`` makes up that earlier year's missed RMD.
    ``paid``: what left each account, written when the account's sales executed (``services.payouts``).
    """

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        RMD = "rmd", "Required minimum distribution"

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="cash_flows")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="cash_flows",
                                help_text="Deposit: the account receiving it; RMD: the IRA; withdrawal: empty = any")
    as_of = models.DateField()
    reference = models.CharField(max_length=64, blank=True, help_text="Your reference; a CSV row's, to import once")
    plan = models.JSONField(default=dict, blank=True, help_text="The engine's choice: sales, cash used, explanation")
    tax_cost = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    taken_outside = models.BooleanField(
        default=False, db_default=False,
        help_text="Already taken from the IRA at the custodian: recorded so that its RMD counts it; nothing is sold")
    makes_up_year = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="An RMD making up a year's missed RMD: that year (it does not count for the year it is taken in)")
    run = models.ForeignKey(RebalanceRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="cash_flows")
    paid = models.JSONField(
        default=dict, blank=True,
        help_text="Account number -> the dollars paid out of it (a string), written as its sales execute")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="cash_flow_amount_positive"),
            models.CheckConstraint(condition=Q(kind__in=["deposit", "withdrawal", "rmd"]), name="cash_flow_kind_valid"),
            models.CheckConstraint(condition=~Q(kind="deposit") | Q(account__isnull=False),
                                   name="cash_flow_deposit_has_account"),
            models.CheckConstraint(condition=~Q(kind="rmd") | Q(account__isnull=False), name="cash_flow_rmd_has_account"),
            models.CheckConstraint(condition=Q(taken_outside=False) | Q(kind__in=["withdrawal", "rmd"],
                                                                         account__isnull=False, run__isnull=True),
                                   name="cash_flow_taken_outside_from_an_account"),
            models.CheckConstraint(condition=Q(makes_up_year__isnull=True) | Q(kind="rmd"),
                                   name="cash_flow_makes_up_an_rmd"),
            models.UniqueConstraint(fields=["household", "reference"], condition=~Q(reference=""),
                                    name="cash_flow_reference_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} for {self.household_id}"
