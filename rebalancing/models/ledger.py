"""The trading ledger: orders out, executions in, realised lots and wash-sale basis adjustments,
and custodian reconciliations waiting for a person's decision (docs/ledger.md)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .book import Account
from .market import Security
from .runs import Proposal

_SHARES = {"max_digits": 20, "decimal_places": 6}
_MONEY = {"max_digits": 18, "decimal_places": 2}
_PRICE = {"max_digits": 18, "decimal_places": 6}


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class Term(models.TextChoices):
    SHORT = "short", "Short-term"
    LONG = "long", "Long-term"


class Order(models.Model):
    """One trade of a released proposal, sent to the custodian or OMS.

    ``order_id`` (``P{proposal}-{n}``) is stable: a resent order file is recognised line by line.
    A sale names its lots (specific identification, IRS Pub. 550 "Adequate identification"):
    ``lots`` = ``[{"lot_id", "quantity"}]`` as the engine chose them, relieved in that order.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIALLY_FILLED = "partially_filled", "Partially filled"
        FILLED = "filled", "Filled"
        CANCELLED = "cancelled", "Cancelled"

    order_id = models.CharField(max_length=32, unique=True)
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="orders")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="orders")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**_SHARES)
    reference_price = models.DecimalField(**_PRICE, help_text="The price the engine used")
    limit_price = models.DecimalField(**_PRICE, null=True, blank=True, help_text="Empty: a market order")
    lots = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    block_id = models.CharField(max_length=64, db_index=True, help_text="Release day, side and security")
    # The book's day of the release (``created_at`` is the clock's): no fill or cancel is dated before
    # it - a lot acquired before its order existed would rest its holding period and wash-sale
    # window on an impossible date.
    released_on = models.DateField(help_text="The day the proposal was released")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    filled_quantity = models.DecimalField(**_SHARES, default=0)
    cancelled_quantity = models.DecimalField(**_SHARES, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(condition=Q(side__in=["buy", "sell"]), name="order_side_valid"),
            models.CheckConstraint(condition=Q(filled_quantity__gte=0, cancelled_quantity__gte=0),
                                   name="order_done_not_negative"),
            models.CheckConstraint(condition=Q(filled_quantity__lte=F("quantity") - F("cancelled_quantity")),
                                   name="order_not_overfilled"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.side} {self.quantity} {self.security_id}"

    @property
    def open_quantity(self):
        return self.quantity - self.filled_quantity - self.cancelled_quantity


class Execution(models.Model):
    """A fill or a cancel of an order, as the custodian reported it.

    ``external_id`` is the custodian's execution id and the idempotency key: an execution already
    applied is recognised and changes nothing. A buy fill creates the lot ``lot_id``.
    """

    class Kind(models.TextChoices):
        FILL = "fill", "Fill"
        CANCEL = "cancel", "Cancel"

    external_id = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="executions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    quantity = models.DecimalField(**_SHARES)
    price = models.DecimalField(**_PRICE, null=True, blank=True)
    fees = models.DecimalField(**_MONEY, default=0, help_text="Commission and fees (added to basis, taken from proceeds)")
    trade_date = models.DateField(db_index=True)
    lot_id = models.CharField(max_length=64, blank=True, help_text="The lot a buy fill created")
    source = models.CharField(max_length=16, default="csv")
    applied_by = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trade_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="execution_quantity_positive"),
            models.CheckConstraint(condition=Q(fees__gte=0), name="execution_fees_not_negative"),
            models.CheckConstraint(condition=Q(kind="cancel") | Q(price__gt=0), name="fill_has_price"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.kind} {self.quantity} of {self.order_id}"


class RealisedLot(models.Model):
    """The part of a sale drawn from one lot: the realised gain or loss, its term, and the loss a
    wash sale disallowed (IRC §1091). ``gain`` is proceeds - cost basis; what a tax form reports is
    ``gain + disallowed_loss`` (Form 8949, code W).

    ``acquired`` starts the holding period the term was judged by (moved back when the shares were
    wash-sale replacements); ``purchased`` is when the shares were actually bought.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="realised_lots")
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="realised_lots")
    lot_id = models.CharField(max_length=64)
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**_SHARES)
    proceeds = models.DecimalField(**_MONEY)
    cost_basis = models.DecimalField(**_MONEY)
    gain = models.DecimalField(**_MONEY)
    term = models.CharField(max_length=5, choices=Term.choices)
    acquired = models.DateField()
    purchased = models.DateField()
    sold = models.DateField(db_index=True)
    disallowed_loss = models.DecimalField(**_MONEY, default=0)
    disallowed_permanently = models.DecimalField(
        **_MONEY, default=0, db_default=0, help_text="The part of the disallowed loss replaced in an IRA or Roth: lost for good "
        "(Rev. Rul. 2008-5)")
    wash_matched_quantity = models.DecimalField(**_SHARES, default=0, help_text="Shares whose loss a purchase washed")
    wash_adjustment = models.DecimalField(**_MONEY, default=0, db_default=0, help_text="Basis added by wash sales")
    named_lot_id = models.CharField(max_length=64, blank=True, default="", db_default="",
                                    help_text="The lot the order named")
    purchase_lot_id = models.CharField(max_length=64, blank=True, default="", db_default="",
                                       help_text="The lot the shares were bought as")
    unit_cost = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True,
                                    help_text="Cost per share as bought (before wash sales)")
    origin = models.ForeignKey(Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="The buy fill that created the sold lot")
    replacement = models.BooleanField(default=False, help_text="The shares were wash-sale replacement shares")
    inherited = models.BooleanField(default=False, db_default=False,
                                    help_text="Inherited shares (Form 8949: date acquired INHERITED, long-term)")
    # Gifted shares (TaxLot.gift_date): ``cost_basis`` and ``acquired`` are those IRC §1015(a) gives
    # the sale (``engine.tax.gift_basis``); ``unit_cost`` and ``purchased`` stay the donor's.
    gift_date = models.DateField(null=True, blank=True, help_text="The shares were received as a gift on this day")
    gift_unit_value = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True,
                                          help_text="Fair market value per share on the gift day")

    class Meta:
        ordering = ["sold", "id"]
        indexes = [models.Index(fields=["account", "sold"])]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="realised_quantity_positive"),
            models.CheckConstraint(condition=Q(gain=F("proceeds") - F("cost_basis")), name="realised_gain_is_difference"),
            models.CheckConstraint(
                condition=Q(disallowed_loss=0) | Q(disallowed_loss__gt=0, disallowed_loss__lte=F("gain") * -1),
                name="realised_disallowed_within_loss",
            ),
            models.CheckConstraint(condition=Q(wash_matched_quantity__gte=0, wash_matched_quantity__lte=F("quantity")),
                                   name="realised_matched_within_quantity"),
            models.CheckConstraint(
                condition=Q(disallowed_permanently__gte=0, disallowed_permanently__lte=F("disallowed_loss")),
                name="realised_permanent_within_disallowed"),
            models.CheckConstraint(condition=Q(term__in=["short", "long"]), name="realised_term_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.sold} {self.quantity} {self.security_id} ({self.lot_id}): {self.gain}"

    @property
    def reportable_gain(self):
        return self.gain + self.disallowed_loss

    @property
    def bought_as(self) -> str:
        return self.purchase_lot_id or self.lot_id

    @property
    def named_as(self) -> str:
        return self.named_lot_id or self.lot_id


class BasisAdjustment(models.Model):
    """A wash sale, seen from the replacement shares: the loss ``source`` disallowed, added to the
    basis of ``quantity`` replacement shares (lot ``lot_id``, or the sale ``realised_lot`` when the
    replacement shares were sold before the wash sale was known), whose holding period then
    includes that of the shares sold (IRC §1091(d), §1223(3); IRS Pub. 550 "Wash Sales").

    ``basis_added`` is 0 when the replacement was bought in a tax-deferred account: the loss is
    then lost for good (Rev. Rul. 2008-5). Shares known only from a trade record (``trade``) have
    no lot here: ``lot_id`` is empty and the reason says so.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="basis_adjustments")
    lot_id = models.CharField(max_length=64, blank=True, help_text="The replacement lot, as adjusted")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(RealisedLot, on_delete=models.CASCADE, related_name="wash_adjustments",
                               help_text="The loss sale washed")
    purchase = models.ForeignKey(Execution, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="wash_adjustments",
                                 help_text="The buy fill whose shares replace those sold, when the ledger made the lot")
    trade = models.ForeignKey("TradeRecord", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                              help_text="The trade whose shares replace those sold, when they are in no lot")
    realised_lot = models.ForeignKey(RealisedLot, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="basis_adjustments",
                                     help_text="When the replacement shares had already been sold")
    quantity = models.DecimalField(**_SHARES)
    disallowed_loss = models.DecimalField(**_MONEY)
    basis_added = models.DecimalField(**_MONEY)
    holding_days_added = models.PositiveIntegerField(default=0)
    acquired_before = models.DateField(help_text="The replacement shares' purchase date")
    acquired_after = models.DateField(help_text="Their holding period's start after tacking")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["account", "lot_id"])]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="adjustment_quantity_positive"),
            models.CheckConstraint(condition=Q(disallowed_loss__gte=0), name="adjustment_loss_not_negative"),
            models.CheckConstraint(condition=Q(basis_added__gte=0, basis_added__lte=F("disallowed_loss")),
                                   name="adjustment_basis_within_loss"),
            models.CheckConstraint(condition=Q(acquired_after__lte=F("acquired_before")),
                                   name="adjustment_tacks_backwards"),
        ]

    def __str__(self) -> str:
        return f"{self.lot_id}: +{self.basis_added} basis, +{self.holding_days_added} days"


class WashSaleRecalculation(models.Model):
    """A household's wash sales in one equivalence group replayed again because its history
    changed (a late, earlier-dated purchase or sale, a correction, a new lots file), and what that
    changed in sales already recorded: the trail a report of an earlier period points to."""

    household = models.ForeignKey("Household", on_delete=models.CASCADE, related_name="wash_recalculations")
    group = models.CharField(max_length=64, help_text="The equivalence group (or =SYMBOL)")
    trigger = models.CharField(max_length=200, help_text="What changed the history")
    actor = models.CharField(max_length=200, blank=True)
    first_sold = models.DateField(help_text="The earliest sale whose figures changed")
    last_sold = models.DateField()
    changes = models.JSONField(default=list, help_text='[{"account", "lot_id", "sold", "field", "before", "after"}]')
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["first_sold", "last_sold"])]

    def __str__(self) -> str:
        return f"{self.household_id} {self.group}: {len(self.changes)} changes ({self.trigger})"


class Reconciliation(models.Model):
    """A custodian's position file compared with the ledger. Nothing changes until a person
    accepts the differences of an account; the custodian's lots then replace the ledger's."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    as_of = models.DateField()
    file_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"reconciliation {self.pk} as of {self.as_of}"


class ReconciliationAccount(models.Model):
    """One account of a reconciliation: the custodian's lots, whether they differ, the decision."""

    class Decision(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        MATCHED = "matched", "Nothing differs"
        ACCEPTED = "accepted", "Accepted: the custodian's lots replaced the ledger's"
        REJECTED = "rejected", "Rejected: the ledger was kept"

    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="accounts")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    custodian_lots = models.JSONField(default=list, help_text='[{"lot_id", "symbol", "quantity", "cost_basis", "acquired"}]')
    ledger_fingerprint = models.CharField(max_length=64, help_text="The ledger's lots when compared")
    lot_differences = models.JSONField(default=list, blank=True)
    decision = models.CharField(max_length=8, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["reconciliation", "account"]
        constraints = [
            models.UniqueConstraint(fields=["reconciliation", "account"], name="reconciliation_account_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.decision}"


class ReconciliationRow(models.Model):
    """A security whose quantity or cost basis differs between the ledger and the custodian."""

    reconciliation_account = models.ForeignKey(ReconciliationAccount, on_delete=models.CASCADE, related_name="rows")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    ledger_quantity = models.DecimalField(**_SHARES)
    custodian_quantity = models.DecimalField(**_SHARES)
    ledger_cost_basis = models.DecimalField(**_MONEY)
    custodian_cost_basis = models.DecimalField(**_MONEY)

    class Meta:
        ordering = ["reconciliation_account", "security"]
        constraints = [
            models.UniqueConstraint(fields=["reconciliation_account", "security"], name="reconciliation_row_once"),
        ]

    def __str__(self) -> str:
        return f"{self.security_id}: {self.ledger_quantity} / {self.custodian_quantity}"

    @property
    def quantity_difference(self):
        return self.custodian_quantity - self.ledger_quantity

    @property
    def cost_basis_difference(self):
        return self.custodian_cost_basis - self.ledger_cost_basis
