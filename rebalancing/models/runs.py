import orjson
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from .book import Account, Household
from .portfolios import ModelVersion


class RebalanceRun(models.Model):
    """One batch: a scope of accounts rebalanced by Celery workers, with live progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        MANUAL = "manual", "Started by a person"
        NIGHTLY = "nightly", "Nightly scan"
        API = "api", "Started through the API"
        CASH_FLOW = "cash_flow", "A household's withdrawal or RMD"
        REVISION = "revision", "An advisor's edit of a proposal, solved again"
        INSTRUCTION = "instruction", "A one-off instruction on an account"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MANUAL)
    scope = models.JSONField(default=dict, help_text='e.g. {"firm": true} or {"model": "growth", "min_drift": 0.03}')
    as_of = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_by_label = models.CharField(max_length=200, blank=True, help_text="Who, when not a firm user")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Seconds spent per phase, summed over chunks: {"load": .., "solve": .., "write": ..}.
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(done__gte=0, failed__gte=0), name="run_counts_not_negative")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def remaining(self) -> int:
        return max(self.total - self.done - self.failed, 0)

    @property
    def progress(self) -> float:
        return 1.0 if not self.total else (self.done + self.failed) / self.total


class DocumentField(models.JSONField):
    """A JSON document stored as PostgreSQL ``text``: a proposal's result is written and read whole,
    never queried inside. orjson writes and reads it (several times faster than the standard
    library on a direct-index proposal of 180 KB), and the server stores it without parsing it
    again: ``json`` validated each value (about 0.5 ms a direct-index proposal), ``jsonb`` took longer
    still. Stored values keep their keys' order. lz4 compresses it where the server has lz4
    (``copy_writes``)."""

    def db_type(self, connection):
        return "text"

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        return self.to_text(value)

    @staticmethod
    def to_text(value) -> str:
        """The document as stored (keys that are not strings become strings, as with ``json``)."""
        try:
            # Keys are strings in the engine's documents; orjson's option for other keys costs a
            # third more (0.27 against 0.20 ms on a direct-index proposal) for the same text.
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()

    def from_db_value(self, value, expression, connection):
        return orjson.loads(value) if isinstance(value, str | bytes) else value


class HouseholdProposal(models.Model):
    """A run's proposal for a household managed as one: its accounts' proposals, decided together.

    ``result`` holds what only the household has: the allocation of each asset class across its
    accounts before and after, the household's drift and the tax cost. Its state is its accounts'.
    """

    run = models.ForeignKey(RebalanceRun, on_delete=models.CASCADE, related_name="household_proposals")
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="proposals")
    created_at = models.DateTimeField(auto_now_add=True)
    model_version = models.ForeignKey(ModelVersion, null=True, on_delete=models.PROTECT, related_name="+")
    result = DocumentField(help_text="Allocation before/after by asset class and account, drift, tax cost")
    drift_before = models.FloatField(default=0)
    drift_after = models.FloatField(default=0)
    estimated_tax = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    tax_budget = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True,
                                     help_text="The household's tax budget left for this run")
    # An advisor's edit of the whole household before deciding (services.household_revisions): the
    # household proposal it replaced, who edited, and what, account by account. RESTRICT: the one it
    # replaced is not deleted alone, but a history deleted whole (its runs) may go.
    revised_from = models.OneToOneField("self", null=True, blank=True, on_delete=models.RESTRICT,
                                        related_name="revised_into")
    revised_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    revision = models.JSONField(default=dict, blank=True,
                                help_text='What the edit changed: {"changes": [...], "accounts": {number: [...]}}')

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["run", "household"], name="one_household_proposal_per_run")]

    def __str__(self) -> str:
        return f"household proposal {self.pk} for {self.household_id}"

    @staticmethod
    def state_of(statuses: set[str]) -> str | None:
        """Its state from its accounts' proposals' statuses (the one rule for pages and the API):
        waiting for a decision while any waits, else the status they share; None when they differ."""
        if Proposal.Status.PENDING in statuses:
            return Proposal.Status.PENDING.value
        return next(iter(statuses)) if len(statuses) == 1 else None


class Proposal(models.Model):
    """The engine's trades for one account in one run, with reasons, summary and warnings."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending_approval", "Pending approval"
        APPROVED = "approved", "Approved"
        RELEASED = "released", "Released"
        EXECUTED = "executed", "Executed"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        SUPERSEDED = "superseded", "Superseded"

    run = models.ForeignKey(RebalanceRun, on_delete=models.CASCADE, related_name="proposals")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="proposals")
    model_version = models.ForeignKey(ModelVersion, null=True, on_delete=models.PROTECT)
    # The risk model direct-indexed sleeves were tracked with; empty = the engine's default model,
    # for the reason in risk_model_note (the firm's price history too short, no sleeve to track).
    risk_model_version = models.ForeignKey("rebalancing.RiskModelVersion", null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="+")
    risk_model_note = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    parameters = models.JSONField(help_text="The effective parameters used")
    inputs_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the engine request")
    priced_on = models.DateField(
        null=True, blank=True,
        help_text="The oldest close it was priced with (what it may trade); empty: its run's day (older proposals)")
    result = DocumentField(help_text="The engine's result: trades, reasons, summary, warnings, alerts")
    trade_count = models.PositiveIntegerField(default=0)
    turnover = models.FloatField(default=0)
    estimated_tax = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    harvested_losses = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    drift_before = models.FloatField(default=0)
    drift_after = models.FloatField(default=0)
    requires_compliance = models.BooleanField(default=False)
    restricted_traded = models.BooleanField(default=False)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    household_proposal = models.ForeignKey(HouseholdProposal, null=True, blank=True, on_delete=models.CASCADE,
                                           related_name="proposals",
                                           help_text="Solved with its household's other accounts, decided together")
    # An advisor's edit before approving (services.revisions.proposal_resolve): the proposal it
    # replaced, who edited, and what (trades dropped, instructions added).
    revised_from = models.OneToOneField("self", null=True, blank=True, on_delete=models.RESTRICT,
                                        related_name="revised_into")
    revised_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    revision = models.JSONField(default=dict, blank=True,
                                help_text='What the edit changed: {"dropped": [...], "instructions": [...]}')
    # Everyone who chose its trades, in turn: an instruction's author, then each editor. An edit
    # carries forward the instructions and trades it was made from, so none of them is its second
    # pair of eyes (access._capacities); revised_by names only the last.
    chosen_by = ArrayField(models.BigIntegerField(), default=list, blank=True,
                           help_text="Ids of the users who chose its trades (an instruction, each edit), first to last")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["run", "account"], name="one_proposal_per_account_per_run")]

    def __str__(self) -> str:
        return f"proposal {self.pk} for {self.account_id}"

    def chosen_by_with(self, user) -> list[int]:
        """``chosen_by`` with ``user`` last (once): who chose the trades of a revision of this proposal."""
        return list(self.chosen_by) if user.pk in self.chosen_by else [*self.chosen_by, user.pk]


class RunOutcome(models.Model):
    """The run's ledger: what became of each account (one row per run and account).

    Progress is counted from these rows, so a chunk done twice can never count twice.
    """

    class Outcome(models.TextChoices):
        PROPOSED = "proposed", "Proposal created"
        NO_TRADES = "no_trades", "Nothing to do"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(RebalanceRun, on_delete=models.CASCADE, related_name="outcomes")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    code = models.CharField(max_length=64, blank=True, help_text="The error's stable code, when failed")
    message = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "account"], name="one_outcome_per_account_per_run")]
        indexes = [models.Index(fields=["run", "outcome"])]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.outcome} {self.code}".strip()


class Alert(models.Model):
    """Something about an account a person should look at (a harvest opportunity, drift, tax)."""

    class Kind(models.TextChoices):
        DRIFT = "drift", "Drift beyond band"
        HARVEST = "harvest", "Harvest opportunity"
        TAX_LIMIT = "tax_limit", "Proposal exceeds tax limit"
        RMD = "rmd_due", "RMD due, not yet planned"
        MAX_NAMES = "max_names", "More names than the sleeve allows"
        WASH_SALE = "wash_sale", "Proposal washes a loss"
        OTHER = "other", "Other"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alerts")
    run = models.ForeignKey(RebalanceRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.TextField()
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "account", "kind"], name="one_alert_per_kind_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"
