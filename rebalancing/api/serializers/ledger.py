"""Shapes of the trading loop and tax ledger over the API (rebalancing.ledger; docs/ledger.md):
executions, reconciliations, order files and the tax reports."""

from __future__ import annotations

from dataclasses import fields

from rest_framework import serializers

from rebalancing.engine_inputs import book_day_check
from rebalancing.ledger.reports import RealisedRow, report_day_check, report_year_check
from rebalancing.models import Execution, Reconciliation, ReconciliationAccount, ReconciliationRow
from tenants.errors import ValidationFailed

from .strict import UnknownFieldsRefused, UnknownParametersRefused


class BookDayField(serializers.DateField):
    """The day a file's dates are checked against: from 1900 to today, as a run's day. A later one would
    let fills dated 9999-12-30 through "not in the future" and into the lots and the wash-sale year."""

    def to_internal_value(self, value):
        return book_day_check(super().to_internal_value(value), what="day the file is read on (as_of)")


class ExecutionSerializer(serializers.ModelSerializer):
    order_id = serializers.CharField(source="order.order_id")
    account_number = serializers.CharField(source="order.account.custodian_number")

    class Meta:
        model = Execution
        fields = ["id", "external_id", "order_id", "account_number", "kind", "quantity", "price", "fees",
                  "trade_date", "lot_id", "source", "applied_by", "applied_at"]


class ExecutionsJsonSerializer(UnknownFieldsRefused, serializers.Serializer):
    executions = serializers.ListField(
        child=serializers.DictField(), allow_empty=False, max_length=100_000,
        help_text="One object per execution, keyed by the CSV's columns (docs/ledger.md)",
    )
    as_of = BookDayField(required=False, allow_null=True, default=None,
                         help_text="Trade dates may not be later (default today); not after today")


class ExecutionsFileSerializer(UnknownFieldsRefused, serializers.Serializer):
    file = serializers.FileField(help_text="A CSV file of executions (docs/ledger.md)")
    as_of = BookDayField(required=False, allow_null=True, default=None)


class ReconciliationRowSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="security.symbol")
    quantity_difference = serializers.DecimalField(max_digits=21, decimal_places=6, read_only=True)
    cost_basis_difference = serializers.DecimalField(max_digits=19, decimal_places=2, read_only=True)

    class Meta:
        model = ReconciliationRow
        fields = ["symbol", "ledger_quantity", "custodian_quantity", "quantity_difference", "ledger_cost_basis",
                  "custodian_cost_basis", "cost_basis_difference"]


class ReconciliationAccountSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.custodian_number")
    rows = ReconciliationRowSerializer(many=True)
    lot_differences = serializers.ListField(child=serializers.DictField())

    class Meta:
        model = ReconciliationAccount
        fields = ["account", "account_number", "decision", "decided_by", "decided_at", "rows", "lot_differences"]


class ReconciliationSerializer(serializers.ModelSerializer):
    accounts = ReconciliationAccountSerializer(many=True)

    class Meta:
        model = Reconciliation
        fields = ["id", "as_of", "file_name", "status", "created_by", "created_at", "accounts"]


class PositionsFileSerializer(UnknownFieldsRefused, serializers.Serializer):
    file = serializers.FileField(help_text="A position file in the lots layout (docs/csv-formats.md)")
    as_of = BookDayField(required=False, allow_null=True, default=None)


class ReconciliationDecisionSerializer(UnknownFieldsRefused, serializers.Serializer):
    accounts = serializers.ListField(child=serializers.CharField(max_length=64), required=False, allow_empty=False,
                                     help_text="Account numbers; all accounts waiting for a decision when left out")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReportPeriodSerializer(UnknownParametersRefused, serializers.Serializer):
    start = serializers.DateField(help_text="First day of the period")
    end = serializers.DateField(help_text="Last day of the period")
    household = serializers.CharField(required=False, max_length=64, help_text="A household: its id or its external id")
    account = serializers.CharField(required=False, max_length=64, help_text="An account: its id or its number")

    def validate(self, data):
        if data["start"] > data["end"]:
            raise serializers.ValidationError({"start": "is after end"})
        return data


def _report_bound(check, value):
    """``value`` if the reports' own bound (``reports.report_year_check``, ``report_day_check``)
    accepts it; its refusal said against the parameter, as any other."""
    try:
        return check(value)
    except ValidationFailed as refused:
        raise serializers.ValidationError(refused.message) from None


class ReportYearField(serializers.IntegerField):
    """A report's tax year, read and refused by ``reports.report_year_check`` (not DRF's "A valid
    integer is required" or its minimum's words): the pages' and the tax_report command's words and
    bounds. ``min_value`` stays for the schema; the check has refused whatever it would."""

    def to_internal_value(self, data):
        return _report_bound(report_year_check, data if isinstance(data, int) else str(data))


class ReportYearSerializer(UnknownParametersRefused, serializers.Serializer):
    year = ReportYearField(min_value=1900, help_text="The tax year: from 1900 to the current one")
    household = serializers.CharField(required=False, max_length=64, help_text="A household: its id or its external id")


class ReportAsOfSerializer(UnknownParametersRefused, serializers.Serializer):
    as_of = serializers.DateField(help_text="Prices and budgets as of this day: from 1900-01-01 to today")
    household = serializers.CharField(required=False, max_length=64, help_text="A household: its id or its external id")
    account = serializers.CharField(required=False, max_length=64, help_text="An account: its id or its number")

    def validate_as_of(self, as_of):
        return _report_bound(report_day_check, as_of)


class OrderFileSerializer(UnknownParametersRefused, serializers.Serializer):
    layout = serializers.ChoiceField(choices=["orders", "blocks"], default="orders")
    day = serializers.DateField(required=False, help_text="Only orders released that day")


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=2, **kwargs)


def _shares() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=6)


class ScheduleDSheetSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    filing_status = serializers.CharField(help_text="The status the year was filed under (a household's status is "
                                                    "each year's: a change applies from a year on)")
    spouse = serializers.CharField(help_text='"" for the household\'s one return, "first" or "second" for a '
                                             "spouse's own in a year filed separately")
    short_term = _money(help_text="The year's own net short-term result (lines 1-5)")
    before_ledger_short = _money(help_text=(
        "Short-term gains and losses realised this year before the ledger's records: the taxable accounts' "
        "year-to-date figures from the custodian less the ledger's own sales of the year (no Form 8949 line "
        "of the ledger's; short_term is those lines). Netted into line 7 with them (IRC §1211(b)): the "
        "figure every tax estimate of the year counts"))
    before_ledger_long = _money(help_text="The same, long-term (netted into line 15)")
    carried_in_short = _money(help_text="Short-term loss carried in (line 6)")
    net_short = _money(help_text="Line 7")
    long_term = _money(help_text="The year's own net long-term result (lines 8-13)")
    carried_in_long = _money(help_text="Long-term loss carried in (line 14)")
    net_long = _money(help_text="Line 15")
    net = _money(help_text="Line 16")
    limit = _money(help_text="3,000; 1,500 married filing separately (IRC §1211(b))")
    deduction = _money(help_text="Line 21: the net loss deducted from ordinary income")
    taxable_income = serializers.DecimalField(
        max_digits=18, decimal_places=2, allow_null=True,
        help_text="The year's taxable income (Form 1040 line 15; negative when deductions exceed income), the "
                  "Capital Loss Carryover Worksheet's line 1, as entered on the household's tax facts; null when "
                  "not entered (the worksheet's taxable-income test is then taken as met)")
    deduction_used = _money(help_text="Worksheet line 4: the part of the deduction the taxable income absorbed - the "
                                      "whole deduction unless taxable_income is entered and lower; the carryover is "
                                      "the loss less this (IRC §1212(b)(2))")
    taxable_short = _money(help_text="Net gain taxed as ordinary income")
    taxable_long = _money(help_text="Net capital gain taxed at the long-term rate")
    carried_out_short = _money(help_text="Short-term loss carried into the next year")
    carried_out_long = _money(help_text="Long-term loss carried into the next year")
    not_carried_short = _money(help_text="A single or head-of-household year after years filed as a married couple: "
                                         "the other spouse's short-term loss carried out of the year before, which "
                                         "does not continue on this return (it is theirs; Household.sole_filer)")
    not_carried_long = _money(help_text="The same, long-term")


class ScheduleDSerializer(serializers.Serializer):
    household = serializers.CharField()
    name = serializers.CharField()
    filing_status = serializers.CharField(help_text="The status of the report's year, as its label")
    spouse = serializers.CharField(help_text='"" for the household\'s one return; married filing separately, each '
                                             'spouse files their own: "first" or "second" (their own accounts and '
                                             'half of each joint one, their own limit and carryover)')
    sheet = ScheduleDSheetSerializer()
    earlier = ScheduleDSheetSerializer(many=True, help_text="The years before whose losses carry into this one: "
                                                            "this return's own, and in a year filed under another "
                                                            "status the household's one return or both spouses' "
                                                            "separate ones")


def _realised_row(line):
    """The report's line (``reports.RealisedRow``) back from the dict the view hands over."""
    if isinstance(line, RealisedRow):
        return line
    return RealisedRow(**{f.name: line[f.name] for f in fields(RealisedRow) if f.name in line})


class _LineMoney(serializers.DecimalField):
    """A figure the line works out from its facts (``reports.RealisedRow``'s property ``name``)."""

    def __init__(self, name: str, **kwargs):
        self.figure = name
        super().__init__(max_digits=20, decimal_places=2, source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        return super().to_representation(getattr(_realised_row(value), self.figure))


class _LineTerm(serializers.CharField):
    def __init__(self, name: str, **kwargs):
        self.figure = name
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        return getattr(_realised_row(value), self.figure)


class RealisedRowSerializer(serializers.Serializer):
    account_number = serializers.CharField()
    household = serializers.CharField()
    symbol = serializers.CharField()
    lot_id = serializers.CharField()
    quantity = _shares()
    acquired = serializers.DateField(help_text="Start of the holding period (moved back by wash sales; for "
                                               "inherited shares a day more than a year before they passed)")
    purchased = serializers.DateField(help_text="When the shares were bought (inherited: the day they passed)")
    inherited = serializers.BooleanField(help_text="Shares from a decedent: long-term whatever their dates "
                                                   "(IRC §1223(9))")
    date_acquired = serializers.CharField(help_text='Form 8949 column (b): "INHERITED" for inherited shares, '
                                                    "else the holding period's start")
    sold = serializers.DateField()
    term = serializers.ChoiceField(choices=["short", "long"])
    proceeds = _money()
    cost_basis = _money(help_text="The basis after every wash sale (the 1099-B may show less: basis_on_1099b)")
    code = serializers.CharField(help_text='Form 8949 column (f), in alphabetical order: "B" the 1099-B\'s basis '
                                           'leaves out basis a wash sale added (a loss in another account or of another '
                                           'security), "T" its term is not the true one, "W" a wash sale')
    adjustment = _money(help_text="The loss a wash sale disallowed (code W)")
    basis_unknown_to_broker = _money(help_text="Of the basis, what wash sales added that the broker does not "
                                               "know of (Treas. Reg. §1.6045-1(d)(6)(iii))")
    basis_on_1099b = _LineMoney("basis_on_1099b", help_text="The basis the broker's 1099-B shows (box 1e)")
    term_on_1099b = _LineTerm("term_on_1099b", help_text="The term the broker's 1099-B shows (box 2): short or "
                                                         "long; code T where it is not term")
    form_8949_cost_basis = _LineMoney("form_8949_cost_basis", help_text="Form 8949 column (e): box A/D the "
                                      "1099-B's basis, box B/E the correct basis")
    form_8949_adjustment = _LineMoney("form_8949_adjustment", help_text="Form 8949 column (g): the wash-sale "
                                      "loss disallowed less, in box A/D, basis the 1099-B leaves out")
    gain_or_loss = _money(help_text="Form 8949 column (h): proceeds - column (e) + column (g)")
    deferred = _money(help_text="Of the adjustment: added to the replacement shares' basis")
    lost = _money(help_text="Of the adjustment: lost for good, the replacement being in an IRA or Roth "
                            "(Rev. Rul. 2008-5)")
    box = serializers.ChoiceField(choices=list("ABCDEF"), help_text="Form 8949's box: A/D on a 1099-B with the "
                                  "basis reported to the IRS, B/E basis not reported (or not known), C/F no 1099-B")
    schedule_d_line = serializers.CharField(help_text='The Schedule D line its total goes on: "1a"/"8a" (box A/D, '
                                                      'nothing to adjust), "1b"/"8b", "2"/"9", "3"/"10"')
    basis_reported_to_irs = serializers.BooleanField(allow_null=True, help_text="null: the ledger cannot know "
                                                     "(a custodian file's lot bought after its cut-off)")
    box_reason = serializers.CharField(help_text="Why this box, in words for the tax preparer")
    spouse = serializers.CharField(help_text=(
        'Whose return the line goes on: "" the household\'s one return; its household filing separately in the '
        'year of the sale, "first" or "second" (the account\'s spouse), or "joint": half on each spouse\'s return'))


class BoxTotalsSerializer(serializers.Serializer):
    household = serializers.CharField()
    name = serializers.CharField()
    year = serializers.IntegerField(help_text="The tax year of the return (the sales' year)")
    spouse = serializers.CharField(help_text=(
        '"" for the household\'s one return; married filing separately in the year, each spouse\'s own: "first" or '
        '"second" (their accounts\' lines and half of each joint account\'s, to the cent: the first spouse takes an '
        "odd cent, as on Schedule D)"))
    part = serializers.ChoiceField(choices=["I", "II"])
    box = serializers.CharField()
    line = serializers.CharField(help_text="Schedule D line")
    lines = serializers.IntegerField()
    unknown = serializers.IntegerField(help_text="Lines whose basis reporting the ledger cannot know (box B/E)")
    proceeds = _money()
    cost_basis = _money(help_text="The lines' column (e)")
    adjustment = _money(help_text="The lines' column (g)")
    gain_or_loss = _money()


class TermTotalsSerializer(serializers.Serializer):
    proceeds = _money()
    cost_basis = _money()
    adjustment = _money()
    gain_or_loss = _money()
    deferred = _money()
    lost = _money(help_text="Disallowed for good (replacements in an IRA or Roth)")


class GainTotalsSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=["account", "household"])
    key = serializers.CharField()
    name = serializers.CharField()
    short = TermTotalsSerializer()
    long = TermTotalsSerializer()
    net = _money()


class RecalculationChangeSerializer(serializers.Serializer):
    account = serializers.CharField()
    lot_id = serializers.CharField()
    sold = serializers.DateField()
    field = serializers.CharField(help_text="cost_basis, gain, disallowed_loss, disallowed_permanently or term")
    before = serializers.CharField()
    after = serializers.CharField()


class RecalculationSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="When the household's wash sales were replayed")
    household = serializers.CharField()
    trigger = serializers.CharField(help_text="What changed its history")
    changes = RecalculationChangeSerializer(many=True)


class RealisedReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    lots = RealisedRowSerializer(many=True)
    accounts = GainTotalsSerializer(many=True)
    households = GainTotalsSerializer(many=True)
    boxes = BoxTotalsSerializer(many=True, help_text="Per return (a household's, or each spouse's filing separately) "
                                                     "and year, Form 8949's totals per box and Schedule D line")
    recalculations = RecalculationSerializer(
        many=True, help_text="Sales of the period whose figures changed after they were recorded, newest first")


class HarvestRowSerializer(serializers.Serializer):
    account_number = serializers.CharField()
    period = serializers.CharField(help_text='"2026-10" (a month) or "2026" (a year)')
    harvested = _money()
    disallowed = _money()
    net_harvested = _money()
    tax_value = _money()
    tracking_error = serializers.FloatField(allow_null=True)


class TransitionYearSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    gain_realised = _money()
    tax = _money()
    legacy_value_left = _money()


class TransitionRowSerializer(serializers.Serializer):
    account_number = serializers.CharField()
    name = serializers.CharField()
    started = serializers.DateField(allow_null=True)
    drift_start = serializers.FloatField(allow_null=True)
    drift_now = serializers.FloatField(allow_null=True)
    progress = serializers.FloatField(allow_null=True)
    market_value = _money()
    legacy_value = _money()
    tax_spent = _money()
    budget = _money(allow_null=True)
    legacy_gain = _money()
    years_left = serializers.IntegerField(allow_null=True)
    path = TransitionYearSerializer(many=True)
