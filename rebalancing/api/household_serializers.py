"""Serializers of the household endpoints: household proposals, cash flows, household settings."""

from datetime import date
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.input_limits import numeral_problem
from rebalancing.models import CashFlow, HouseholdProposal, Proposal
from rebalancing.services.rmd import RMD_SHOWS

from .serializers import ProposalSerializer
from .serializers.strict import UnknownFieldsRefused, UnknownParametersRefused

__all__ = ["CashFlowInSerializer", "CashFlowSerializer", "HouseholdProposalStateSerializer", "HouseholdProposalSerializer", "HouseholdSettingsInSerializer",
           "HouseholdTaxInSerializer", "TaxableIncomeInSerializer"]


class HouseholdProposalSerializer(serializers.ModelSerializer):
    household_external_id = serializers.CharField(source="household.external_id")
    proposals = ProposalSerializer(many=True, help_text="One per account, each with its own trades at proposals/{id}/")
    allocation_before = serializers.SerializerMethodField(help_text="asset class -> account number -> value")
    allocation_after = serializers.SerializerMethodField(help_text="asset class -> account number -> value")
    cash_flow = serializers.SerializerMethodField(help_text="The withdrawal or RMD it funds, if any")
    revised_into = serializers.SerializerMethodField(help_text="The household proposal an edit replaced it with")
    revised_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                              help_text="Who edited it")
    revision = serializers.JSONField(read_only=True, help_text='An edit\'s changes: {"changes": [...], '
                                                               '"accounts": {account number: [...]}}')

    class Meta:
        model = HouseholdProposal
        fields = ["id", "run", "household", "household_external_id", "created_at", "drift_before", "drift_after",
                  "estimated_tax", "tax_budget", "allocation_before", "allocation_after", "cash_flow",
                  "revised_from", "revised_into", "revised_by", "revision", "proposals"]

    def get_allocation_before(self, hp) -> dict:
        return hp.result.get("allocation_before") or {}

    def get_allocation_after(self, hp) -> dict:
        return hp.result.get("allocation_after") or {}

    def get_cash_flow(self, hp) -> dict | None:
        return hp.result.get("cash_flow")

    def get_revised_into(self, hp) -> int | None:
        return HouseholdProposal.objects.filter(revised_from_id=hp.pk).values_list("pk", flat=True).first()


MIXED = "mixed"


def household_proposal_state(statuses: set[str]) -> str:
    """A household proposal's state as a code (``HouseholdProposal.state_of``), ``mixed`` for none."""
    return HouseholdProposal.state_of(statuses) or MIXED


class HouseholdProposalStateSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Decide it at household-proposals/{id}/approve/ or reject/")
    status = serializers.ChoiceField(
        choices=[*Proposal.Status.values, MIXED],
        help_text="Its accounts' proposals': pending_approval while any waits for a decision, else the status "
                  "they share, else mixed")


class CashFlowSerializer(serializers.ModelSerializer):
    household_external_id = serializers.CharField(source="household.external_id")
    account_number = serializers.CharField(source="account.custodian_number", allow_null=True, default=None)
    household_proposal = serializers.SerializerMethodField(
        help_text="A withdrawal's or RMD's sales, waiting as a household proposal: its id and state, once the "
                  "cash flow's run has made it; null before, and for a deposit or what was taken outside")
    paid = serializers.DictField(
        child=serializers.DecimalField(max_digits=18, decimal_places=2), read_only=True,
        help_text="Account number -> dollars paid out of it, written as its sales execute (less than the plan's "
                  "distribution when they raised less); {} until then")

    class Meta:
        model = CashFlow
        fields = ["id", "household", "household_external_id", "kind", "amount", "account", "account_number", "as_of",
                  "reference", "taken_outside", "makes_up_year", "tax_cost", "plan", "paid", "run",
                  "household_proposal", "created_at"]

    @extend_schema_field(HouseholdProposalStateSerializer(allow_null=True))
    def get_household_proposal(self, flow) -> dict | None:
        if flow.run_id is None:
            return None
        # The run's household proposal for this household (one per run and household), prefetched in lists.
        made = next((hp for hp in flow.run.household_proposals.all() if hp.household_id == flow.household_id), None)
        if made is None:
            return None
        return {"id": made.pk, "status": household_proposal_state({p.status for p in made.proposals.all()})}


class CashFlowFileSerializer(UnknownFieldsRefused, serializers.Serializer):
    # cash-flows/upload/: the file is all it reads; any other field (an as_of as imports/ takes, a typo) is
    # refused by name, as imports/, executions/ and reconciliations/ refuse theirs, not dropped.
    file = serializers.FileField(help_text="A CSV of cash flows in the documented layout (docs/csv-formats.md)",
                                 error_messages={"required": "Send the CSV as the multipart field 'file'."})


class CashFlowInSerializer(UnknownFieldsRefused, serializers.Serializer):
    household = serializers.IntegerField(min_value=1, max_value=2**62)
    kind = serializers.ChoiceField(choices=CashFlow.Kind.choices)
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0.01"), required=False,
                                      allow_null=True, default=None,
                                      help_text="Dollars, at most 100,000,000,000 (more is refused as no client "
                                                "account's); omit for an RMD to take what is left of the year's RMD")
    account = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True, default=None,
                                       help_text="Deposit: the account receiving it; RMD: the IRA; withdrawal: "
                                                 "omit to let the engine choose")
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                      help_text="Your reference: sending it again changes nothing")
    as_of = serializers.DateField(required=False, allow_null=True, default=None)
    taken_outside = serializers.BooleanField(required=False, default=False,
                                             help_text="Already taken from the IRA (account) at the custodian on "
                                                       "as_of: recorded so that its RMD counts it; nothing is sold")
    makes_up_year = serializers.IntegerField(min_value=1900, max_value=9999, required=False, allow_null=True,
                                             default=None,
                                             help_text="An RMD making up that year's missed RMD (past its deadline, "
                                                       "not all taken): it counts for that year only; without an "
                                                       "amount it takes what is left to make up")
    repeat = serializers.BooleanField(required=False, default=False,
                                      help_text="A withdrawal the same as one still waiting (amount, account) is "
                                                "refused as sent twice (409 cash_flow_repeated) unless this is true "
                                                "or it has a reference")


class HouseholdSettingsInSerializer(UnknownFieldsRefused, serializers.Serializer):
    settings = serializers.DictField(help_text='{"tax_budget": 5000, "location": {"bonds": ["traditional", "roth", '
                                               '"taxable"]}, "inside_bands": "cash_flows"}; {} follows the template. '
                                               'inside_bands: "tax_free" (kept on model by tax-free trades inside '
                                               'the drift bands) or "cash_flows" (only cash flows move it inside '
                                               'the bands); replaces all the household\'s settings')
    asset_classes = serializers.DictField(child=serializers.ListField(child=serializers.CharField(max_length=64)),
                                          required=False, help_text="account id -> asset classes it may hold "
                                                                    "([]: any)")


def _carried(help_text: str):
    return serializers.DecimalField(max_digits=18, decimal_places=2, required=False, help_text=help_text)


def _rate(help_text: str):
    # Range and places are the service's to refuse, in its words (the page's percent form shares them).
    return serializers.DecimalField(max_digits=12, decimal_places=8, required=False, help_text=help_text)


class TaxableIncomeInSerializer(UnknownFieldsRefused, serializers.Serializer):
    """A filed return's taxable income of a year: the Capital Loss Carryover Worksheet's line 1."""

    # Year, return and amount are the service's to refuse, in its words (the page's form shares them).
    year = serializers.IntegerField(help_text="The tax year, not after this one")
    spouse = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text='"" (default) for the household\'s one return; "first" or "second" for a '
                                             "spouse's own return in a year filed separately")
    amount = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True,
                                      help_text="Taxable income (Form 1040 line 15) in dollars, negative when "
                                                "deductions exceed income (-1200.00); null removes it")


class HouseholdTaxInSerializer(UnknownFieldsRefused, serializers.Serializer):
    """A household's returns (``services.tax_returns.household_tax_set``): what is omitted is kept;
    what makes no sense is refused whole (400, ``detail.field``)."""

    filing_status = serializers.CharField(required=False, help_text="single, married_joint, married_separate or "
                                                                    "head_of_household: the status from "
                                                                    "filing_status_from on")
    filing_status_from = serializers.IntegerField(
        required=False, help_text="The first tax year filing_status applies to (default: this year); the years "
                                  "before keep the status they were filed under, and a loss carried across the "
                                  "change follows Treas. Reg. §1.1212-1(c). 1900: every year (a correction)")
    carryforward_year = serializers.IntegerField(required=False, allow_null=True,
                                                 help_text="The year the opening capital loss carryover is carried "
                                                           "into (later years come from the ledger)")
    carryforward_short_term = _carried("Short-term loss carried into that year, a positive amount: the household's, "
                                       "or the first spouse's part when the year is a married couple's (filed "
                                       "jointly or separately)")
    carryforward_long_term = _carried("Long-term loss carried into that year, a positive amount: the household's, or "
                                      "the first spouse's part in a married couple's year")
    carryforward_second_short_term = _carried(
        "The second spouse's part of the short-term loss carried into that year when it is a married couple's: a "
        "joint return carries in both parts together, and each stays its spouse's when they later file "
        "separately (Treas. Reg. §1.1212-1(c)(1)(iii)); refused for a single or head-of-household year")
    carryforward_second_long_term = _carried("The second spouse's part of the long-term loss carried into that year "
                                             "(a married couple's year only)")
    sole_filer = serializers.CharField(
        required=False, help_text='"first" or "second": whose return a single or head-of-household year is after '
                                  "years filed as a married couple (a divorce, a spouse's death); only that "
                                  "spouse's part of the capital loss carryover continues on it (default first)")
    short_term_rate = _rate("The short-term rate of the household's return (filing separately: the first "
                            "spouse's), a fraction: 0.408 for 40.8%; written to every taxable account on the return")
    long_term_rate = _rate("The long-term rate of the household's return (filing separately: the first spouse's)")
    second_short_term_rate = _rate("Filing separately only: the second spouse's short-term rate")
    second_long_term_rate = _rate("Filing separately only: the second spouse's long-term rate")
    spouses = serializers.DictField(child=serializers.CharField(), required=False,
                                    help_text='account id -> whose return its sales go on when the household files '
                                              'separately: "first", "second" or "joint" (half each; taxable '
                                              'accounts only)')
    taxable_incomes = TaxableIncomeInSerializer(
        many=True, required=False,
        help_text="Filed returns' taxable incomes (the Capital Loss Carryover Worksheet's line 1: the deduction counts "
                  "against the loss carried on only as far as it reduced taxable income, IRC §1212(b)(2)); those "
                  "not listed are kept. A year without one takes the worksheet's test as met")

    def validate_spouses(self, value: dict) -> dict[int, str]:
        for key in value:
            # int() also reads "٣", " 5", "+5" and "5_0": an account id is written in 0-9 only.
            if not (key.isascii() and key.isdigit()):
                problem = numeral_problem(key)
                raise serializers.ValidationError(f"Keys are account ids, written in the digits 0-9; got {key!r}"
                                                  + (f": {problem}" if problem else "."))
        return {int(k): v for k, v in value.items()}


class RmdFactsInSerializer(UnknownFieldsRefused, serializers.Serializer):
    owner_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default=None,
                                       help_text="The IRA's owner; a household's IRAs with the same owner and date "
                                                 "of birth share one RMD total. Omitted: as it is")
    owner_birth_date = serializers.DateField(required=False, allow_null=True,
                                             help_text="The IRA owner's date of birth; null clears it. Omitted: as it is")
    spouse_birth_date = serializers.DateField(required=False, allow_null=True,
                                              help_text="Only when the spouse is the IRA's sole beneficiary; null "
                                                        "clears it. Omitted: as it is")
    year_end_value = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True, required=False,
                                              default=None, help_text="Fair market value on 31 December of "
                                                                      "year_end_year; null with a year removes it")
    year_end_year = serializers.IntegerField(min_value=1900, max_value=9999, allow_null=True, required=False,
                                             default=None, help_text="The year of year_end_value; values of other "
                                                                     "years are kept")
    rmd_amount = serializers.DecimalField(
        max_digits=18, decimal_places=2, allow_null=True, required=False, default=None,
        help_text="The RMD the custodian computed for rmd_amount_year, where the spouse, sole beneficiary, is more "
                  "than 10 years younger (the Joint and Last Survivor Table, which the product does not carry): "
                  "more than 0, at most the 31 December value before it; null with the year removes it")
    rmd_amount_year = serializers.IntegerField(min_value=1900, max_value=9999, allow_null=True, required=False,
                                               default=None, help_text="The year of rmd_amount; other years' are kept")

    def validate(self, attrs):
        amount, year = attrs.pop("rmd_amount", None), attrs.pop("rmd_amount_year", None)
        if amount is not None and year is None:
            raise serializers.ValidationError({"rmd_amount_year": "Enter the year of the RMD from the custodian."})
        if year is not None:
            attrs["rmd_amounts"] = {year: amount}
        return attrs


class RmdOpenQuerySerializer(UnknownParametersRefused, serializers.Serializer):
    as_of = serializers.DateField(required=False)

    def validate_as_of(self, value):
        if not date(1900, 1, 1) <= value <= date(9998, 12, 31):
            raise serializers.ValidationError(f"{value} is not a day RMDs can be read on (1900 to 9998).")
        return value


class RmdQuerySerializer(RmdOpenQuerySerializer):
    year = serializers.IntegerField(min_value=1900, max_value=9999, required=False)


class RmdDueSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account.pk")
    account_number = serializers.CharField(source="account.custodian_number")
    year = serializers.IntegerField(help_text="The distribution year (a first RMD deferred to 1 April: last year)")
    first = serializers.BooleanField(source="is_first", help_text="The owner's first RMD, which may wait until "
                                                                 "1 April of the next year")
    owner_name = serializers.CharField(source="account.owner_name")
    owner_birth_date = serializers.DateField(source="account.owner_birth_date", allow_null=True)
    spouse_birth_date = serializers.DateField(source="account.spouse_birth_date", allow_null=True)
    year_end_value = serializers.SerializerMethodField(help_text="The value on 31 December of the year before, "
                                                                 "which this year's RMD is computed from")
    year_end_values = serializers.DictField(source="account.year_end_values", child=serializers.CharField(),
                                            help_text="Year -> value on 31 December, as entered")
    rmd_amounts = serializers.DictField(source="account.rmd_amounts", child=serializers.CharField(),
                                        help_text="Year -> the RMD the custodian computed, as entered (read only "
                                                  "where the Joint and Last Survivor Table applies)")
    amount_wanted = serializers.BooleanField(help_text="Not computed only for want of the custodian's RMD for the "
                                                       "year (rmd-facts: rmd_amount with rmd_amount_year)")
    owner_accounts = serializers.ListField(child=serializers.CharField(),
                                           help_text="The owner's IRAs in the household whose RMDs are one total "
                                                     "(this one included); empty when it stands alone")
    owner_required = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True,
                                              help_text="The total RMD of owner_accounts")
    owner_distributed = serializers.DecimalField(max_digits=18, decimal_places=2,
                                                 help_text="Taken or planned from any of owner_accounts, counting "
                                                           "for this year")
    owner_note = serializers.CharField(help_text="Why one owner's IRAs are not totalled, when they are not")
    computed = serializers.SerializerMethodField(help_text="null with `problem` when it cannot be computed")
    problem = serializers.CharField(help_text="Which fact is missing, or why the table cannot answer")
    distributed = serializers.DecimalField(max_digits=18, decimal_places=2,
                                           help_text="Taken or planned from this IRA by the household's cash flows, "
                                                     "counting for this year (a first RMD counts what is taken "
                                                     "by 1 April of the next year)")
    remaining = serializers.DecimalField(max_digits=18, decimal_places=2,
                                         help_text="Left to take by the deadline, from this IRA or any of "
                                                   "owner_accounts; once missed, left to make up")
    missed = serializers.BooleanField(help_text="Past its deadline and not all taken by it (IRC §4974)")
    shortfall = serializers.DecimalField(max_digits=18, decimal_places=2,
                                         help_text="Not taken by the deadline (owner-level when totalled); 0 "
                                                   "until missed")
    made_up = serializers.DecimalField(max_digits=18, decimal_places=2,
                                       help_text="Taken or planned from this IRA to make it up (makes_up_year)")
    owner_made_up = serializers.DecimalField(max_digits=18, decimal_places=2,
                                             help_text="The same from any of owner_accounts")
    excise = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True,
                                      help_text="The excise tax on the shortfall so far: 25%, 10% of what is made "
                                                "up by window_end (50%, made up or not, for a deadline before "
                                                "2023); before any waiver (Form 5329). null until missed")
    window_end = serializers.DateField(allow_null=True, help_text="The correction window's last day at the latest; "
                                                                  "null for a deadline before 2023 (no lower rate)")

    @extend_schema_field(serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True))
    def get_year_end_value(self, due):
        value = due.account.year_end_value(due.year - 1)
        return None if value is None else f"{value:.2f}"

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_computed(self, due) -> dict | None:
        r = due.required
        if r is None:
            return None
        return {"due": r.due, "amount": str(r.amount), "age": r.age, "applicable_age": r.applicable_age,
                "first_year": r.first_year, "distribution_period": None if r.distribution_period is None
                else str(r.distribution_period), "deadline": r.deadline.isoformat() if r.deadline else None,
                "explanation": r.explanation, "entered": r.entered}


class RmdsQuerySerializer(RmdOpenQuerySerializer):
    show = serializers.ChoiceField(choices=RMD_SHOWS,
                                   required=False, default="owing",
                                   help_text="owing: computed and not all taken or planned; all: every computed "
                                             "one; missing: those that cannot be computed (problem says why)")


class RmdOwedSerializer(serializers.Serializer):
    household = serializers.IntegerField(source="household.pk")
    household_external_id = serializers.CharField(source="household.external_id")
    owner = serializers.CharField(help_text="The IRAs' owner name (empty when not entered)")
    accounts = serializers.SerializerMethodField(help_text="The IRAs (custodian numbers) whose RMDs are this total")
    year = serializers.IntegerField()
    first = serializers.BooleanField(help_text="The owner's first RMD (due by 1 April of the next year)")
    required = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    distributed = serializers.DecimalField(max_digits=18, decimal_places=2)
    remaining = serializers.DecimalField(max_digits=18, decimal_places=2)
    deadline = serializers.DateField(allow_null=True)
    problem = serializers.CharField()
    missed = serializers.BooleanField(help_text="Past its deadline and not all taken by it: remaining is left to "
                                                "make up")
    shortfall = serializers.DecimalField(max_digits=18, decimal_places=2)
    made_up = serializers.DecimalField(max_digits=18, decimal_places=2)
    excise = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True,
                                      help_text="25% of the shortfall, 10% of what is made up by window_end "
                                                "(50%, made up or not, for a deadline before 2023)")
    window_end = serializers.DateField(allow_null=True, help_text="null for a deadline before 2023 (no lower rate)")

    def get_accounts(self, row) -> list[str]:
        return [a.custodian_number for a in row.accounts]
