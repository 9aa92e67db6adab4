"""Shapes of the API's answers and of what it accepts. Writes go through services, never ``save()``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from rebalancing.household_parameters import accounts_on_return, household_settings_effective, return_rates
from rebalancing.imports import KINDS
from rebalancing.models import (
    Account,
    Alert,
    Backtest,
    Benchmark,
    BenchmarkWeight,
    Household,
    ModelPortfolio,
    ModelVersion,
    Order,
    ParameterTemplate,
    Price,
    Proposal,
    ProposalApproval,
    RebalanceRun,
    ReleaseBatch,
    RiskModelEstimate,
    RiskModelVersion,
    RunOutcome,
    Security,
    Sleeve,
    TaxLot,
)
from rebalancing.selectors import account_parameters
from rebalancing.services.proposals import rejection_reason_check
from rebalancing.services.runs import alert_text
from tenants.api_keys.models import ApiKey
from tenants.api_keys.scopes import Scope
from tenants.audit.models import AuditEvent

from ..schema import engine_ref
from .strict import MULTI_LINE, UnknownFieldsRefused, UnknownParametersRefused

# --- Market data -------------------------------------------------------------------------------


class SecuritySerializer(serializers.ModelSerializer):
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    harvest_substitute = serializers.SlugRelatedField(
        slug_field="symbol", read_only=True, allow_null=True,
        help_text="The firm-wide harvest substitute (bought while this security is wash-blocked after a loss sale)")

    class Meta:
        model = Security
        fields = ["id", "symbol", "name", "asset_class", "sector", "is_fund", "tags", "esg_score", "fractional",
                  "equivalence_group", "harvest_substitute"]


class PriceSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="security.symbol", read_only=True)

    class Meta:
        model = Price
        fields = ["id", "symbol", "date", "close"]


class BenchmarkSerializer(serializers.ModelSerializer):
    class Meta:
        model = Benchmark
        fields = ["id", "code", "name"]


class BenchmarkWeightsQuerySerializer(UnknownParametersRefused, serializers.Serializer):
    not_fields = UnknownParametersRefused.not_fields | {"page", "page_size"}  # a page of the weights

    date = serializers.DateField(required=False, help_text="Weights as of this date (default: the latest)")


class BenchmarkWeightSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="security.symbol", read_only=True)

    class Meta:
        model = BenchmarkWeight
        fields = ["date", "symbol", "weight"]


# --- Models and templates ----------------------------------------------------------------------


class HoldingOutSerializer(serializers.Serializer):
    symbol = serializers.CharField(source="security.symbol")
    weight = serializers.DecimalField(max_digits=9, decimal_places=8)


class SleeveSerializer(serializers.ModelSerializer):
    benchmark = serializers.CharField(source="benchmark.code", allow_null=True, default=None)
    submodel = serializers.CharField(source="submodel.code", allow_null=True, default=None)
    holdings = HoldingOutSerializer(many=True)

    class Meta:
        model = Sleeve
        fields = ["asset_class", "weight", "kind", "benchmark", "submodel", "holdings"]


class ModelVersionSerializer(serializers.ModelSerializer):
    sleeves = SleeveSerializer(many=True)
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)

    class Meta:
        model = ModelVersion
        fields = ["id", "number", "created_at", "created_by", "note", "sleeves"]


class ModelPortfolioSerializer(serializers.ModelSerializer):
    current_version = serializers.SerializerMethodField()

    class Meta:
        model = ModelPortfolio
        fields = ["id", "code", "name", "description", "created_at", "current_version"]

    @extend_schema_field(serializers.IntegerField(allow_null=True))  # null: no version yet
    def get_current_version(self, model) -> int | None:
        versions = [v.number for v in model.versions.all()]  # prefetched
        return max(versions) if versions else None


class ModelPortfolioDetailSerializer(ModelPortfolioSerializer):
    current_version = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()

    class Meta(ModelPortfolioSerializer.Meta):
        fields = [*ModelPortfolioSerializer.Meta.fields, "versions"]

    @extend_schema_field(ModelVersionSerializer(allow_null=True))
    def get_current_version(self, model):
        version = max(model.versions.all(), key=lambda v: v.number, default=None)
        return ModelVersionSerializer(version).data if version else None

    def get_versions(self, model) -> list[int]:
        return sorted((v.number for v in model.versions.all()), reverse=True)


class WeightField(serializers.DecimalField):
    """A model weight as a fraction of 0 to 1, 8 places. A weight in percent ("100", "60%") is named
    as such before DRF's digit count ("no more than 1 digits before the decimal point") would be."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=9, decimal_places=8, min_value=0, max_value=1, **kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        if text.endswith("%"):
            raise serializers.ValidationError(f"{text} is in percent: weights are fractions (0.6 for 60%).")
        try:
            value = Decimal(text)
        except (InvalidOperation, ValueError):
            value = None
        if value is not None and value.is_finite() and value > 1:
            raise serializers.ValidationError(f"{text} is more than 1: weights are fractions (0.6 for 60%).")
        if value is not None and value.is_finite() and value < 0:
            raise serializers.ValidationError(f"{text} is negative: a model holds, it does not short.")
        return super().to_internal_value(data)


class SleeveInSerializer(UnknownFieldsRefused, serializers.Serializer):
    asset_class = serializers.CharField(max_length=64)
    weight = WeightField()
    kind = serializers.ChoiceField(choices=Sleeve.Kind.choices, default=Sleeve.Kind.HOLDINGS)
    holdings = serializers.DictField(
        child=WeightField(), default=dict,
        help_text='symbol -> weight within the sleeve, e.g. {"VTI": "1"}',
    )
    benchmark = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
    submodel = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)

    def validate_holdings(self, holdings: dict) -> dict:
        # Symbols in the master's spelling, as instruct/ and the CSV files read them: "aapl" is AAPL.
        spelled: dict = {}
        for symbol, weight in holdings.items():
            key = symbol.strip().upper()
            if key in spelled:
                raise serializers.ValidationError(f"{key} is given twice (as {symbol!r} too); give each symbol once.")
            spelled[key] = weight
        return spelled


class ModelVersionInSerializer(UnknownFieldsRefused, serializers.Serializer):
    sleeves = SleeveInSerializer(many=True, allow_empty=False)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ModelCreateInSerializer(ModelVersionInSerializer):
    code = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", style=MULTI_LINE)


class TemplateSerializer(UnknownFieldsRefused, serializers.ModelSerializer):
    parameters = serializers.DictField(help_text="A partial engine parameter object (docs/engine.md)")
    overridable = serializers.DictField(
        child=serializers.DictField(), default=dict,
        help_text='Which settings households/accounts may override, with limits: {"cash.target": {"max": 0.05}}; '
                  'household settings under "household." ({"household.tax_budget": {"max": 20000}, '
                  '"household.inside_bands": {}})',
    )
    household_parameters = serializers.DictField(
        default=dict, help_text='Settings of households managed as one: {"tax_budget": 5000, "location": '
                                '{"bonds": ["traditional", "roth", "taxable"]}, "inside_bands": "cash_flows"}. '
                                'inside_bands: how a household is rebalanced inside its drift bands - "tax_free" '
                                '(default: kept on its model by IRA/Roth trades and new cash, no gain realised) '
                                'or "cash_flows" (only income, deposits and withdrawals move it; nothing is sold '
                                'to rebalance until a band breaks)')

    class Meta:
        model = ParameterTemplate
        fields = ["id", "code", "name", "description", "parameters", "overridable", "household_parameters",
                  "updated_at"]
        read_only_fields = ["id", "updated_at"]

    def get_fields(self):
        # A code taken is the service's to refuse (template_save), as a model's is (model_create): one
        # answer for both, not DRF's unique validator's 400.
        fields = super().get_fields()
        if "code" in fields:
            fields["code"].validators = [v for v in fields["code"].validators if not isinstance(v, UniqueValidator)]
        return fields


class TemplateSavedSerializer(TemplateSerializer):
    # The answer of a save: what template_save says of the settings it saved (a GET does not carry them;
    # the template's page shows them).
    warnings = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="What the saved settings do that is allowed but almost surely not meant, in words (a 100% cash "
                  "target, a 0% turnover cap, a minimum trade above every account's value); empty when none")

    class Meta(TemplateSerializer.Meta):
        fields = [*TemplateSerializer.Meta.fields, "warnings"]


class TemplateUpdateSerializer(TemplateSerializer):
    # A PATCH merges its documents into the stored ones (JSON Merge Patch, RFC 7396; views/book.py), where
    # null removes a key: {"overridable": {"cash.target": null}} takes that setting's override away.
    overridable = serializers.DictField(
        child=serializers.DictField(allow_null=True), default=dict,
        help_text=f"{TemplateSerializer._declared_fields['overridable'].help_text}. PATCH: merged into the stored "
                  "limits (null removes a setting's); PUT: replaces them")

    class Meta(TemplateSerializer.Meta):
        read_only_fields = ["id", "code", "updated_at"]

    # A body read back from a GET may carry the read-only fields; one that gives them another value asks
    # for a change that cannot be made (a template's code is what accounts and files refer to), and
    # answering 200 with the old code would tell the caller it was made. updated_at is left alone: an
    # older body is not an error.
    unchangeable = ("id", "code")

    def to_internal_value(self, data):
        if isinstance(data, dict) and self.instance is not None:
            changed = {name: [f"cannot be changed (it is {getattr(self.instance, name)!r}); leave it out or send "
                              f"it as it is"]
                       for name in self.unchangeable
                       if name in data and str(data[name]) != str(getattr(self.instance, name))}
            if changed:
                raise serializers.ValidationError(changed)
        return super().to_internal_value(data)


# --- Households and accounts -------------------------------------------------------------------


class HouseholdSettingsEffectiveSerializer(serializers.Serializer):
    values = serializers.DictField(help_text='{"tax_budget": null, "location": {}, "inside_bands": "tax_free"}')
    sources = serializers.DictField(child=serializers.CharField(),
                                    help_text='setting -> "default", "template:<code>" or "household"')


class ReturnRatesSerializer(serializers.Serializer):
    spouse = serializers.CharField(help_text='"" for the household\'s one return; "first" or "second" filing separately')
    short_term_rate = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True,
                                               help_text="null: its taxable accounts carry different rates, or none")
    long_term_rate = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    accounts = serializers.ListField(child=serializers.CharField(), help_text="Its taxable accounts")


class FilingPeriodSerializer(serializers.Serializer):
    first_year = serializers.IntegerField(allow_null=True)
    last_year = serializers.IntegerField(allow_null=True)
    filing_status = serializers.CharField()


class TaxableIncomeSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    spouse = serializers.CharField(help_text='"" for the household\'s one return; "first"/"second" in a year filed '
                                             "separately")
    amount = serializers.DecimalField(max_digits=18, decimal_places=2,
                                      help_text="Taxable income (Form 1040 line 15; negative when deductions exceed it)")


class HouseholdSerializer(serializers.ModelSerializer):
    advisors = serializers.SerializerMethodField(help_text="User names of the advisors looking after it")
    template = serializers.CharField(source="template.code", allow_null=True, default=None)
    model = serializers.CharField(source="model.code", allow_null=True, default=None,
                                  help_text="The household's one model (managed as one household)")
    overrides = serializers.DictField()
    household_overrides = serializers.DictField(help_text="Household settings over its template's")
    tax_returns = serializers.SerializerMethodField(
        help_text="Each tax return's marginal rates (every taxable account on it carries them) and its accounts")
    household_settings = serializers.SerializerMethodField(
        help_text="The settings a household run uses (tax_budget, location, inside_bands) and where each comes "
                  'from: "default", "template:<code>" or "household"')
    filing_history = serializers.SerializerMethodField(
        help_text="The status of each period of years, oldest first: first_year null = every year before, "
                  "last_year null = to this day (filing_status is the last period's)")
    taxable_incomes = TaxableIncomeSerializer(
        many=True, read_only=True,
        help_text="Filed returns' taxable incomes entered (the Capital Loss Carryover Worksheet's line 1), by year; "
                  "a year not listed takes the worksheet's taxable-income test as met")

    class Meta:
        model = Household
        fields = ["id", "name", "external_id", "advisors", "template", "overrides", "managed_as", "model",
                  "household_overrides", "household_settings", "filing_status", "carryforward_year",
                  "carryforward_short_term", "carryforward_long_term", "carryforward_second_short_term",
                  "carryforward_second_long_term", "sole_filer", "tax_returns", "filing_history", "taxable_incomes"]
        # Each spouse's part into a married couple's year, joint or separate (Treas. Reg. §1.1212-1(c)(1)(iii)).
        extra_kwargs = {
            "carryforward_short_term": {"help_text": "Short-term capital loss carried into that year: the "
                                                     "household's, or the first spouse's part in a married "
                                                     "couple's year (joint or separate)"},
            "carryforward_long_term": {"help_text": "Long-term capital loss carried into that year: the household's, "
                                                    "or the first spouse's part in a married couple's year"},
            "carryforward_second_short_term": {"help_text": "The second spouse's part of the short-term loss carried "
                                                            "into a married couple's year (a joint return carries "
                                                            "in both parts together); 0 otherwise"},
            "carryforward_second_long_term": {"help_text": "The second spouse's part of the long-term loss carried "
                                                           "into a married couple's year; 0 otherwise"}}

    def get_advisors(self, household) -> list[str]:
        return [u.get_username() for u in household.advisors]

    @extend_schema_field(FilingPeriodSerializer(many=True))
    def get_filing_history(self, household) -> list[dict]:
        return [{"first_year": first, "last_year": last, "filing_status": status}
                for first, last, status in household.filing_history]

    @extend_schema_field(ReturnRatesSerializer(many=True))
    def get_tax_returns(self, household) -> list[dict]:
        accounts = list(household.accounts.all())
        rates = return_rates(household, accounts)
        return [{"spouse": spouse, "short_term_rate": None if rates[spouse] is None else f"{rates[spouse][0]:.4f}",
                 "long_term_rate": None if rates[spouse] is None else f"{rates[spouse][1]:.4f}",
                 "accounts": sorted(a.custodian_number for a in accounts_on_return(household, accounts, spouse))}
                for spouse in household.returns]

    @extend_schema_field(HouseholdSettingsEffectiveSerializer)
    def get_household_settings(self, household) -> dict:
        effective = household_settings_effective(household)
        return {"values": effective.values, "sources": effective.sources}


class OverridesInSerializer(UnknownFieldsRefused, serializers.Serializer):
    overrides = serializers.DictField(
        help_text='Nested parameters the template allows, e.g. {"cash": {"target": 0.02}}. PATCH merges them into '
                  'the overrides there are (JSON Merge Patch, RFC 7396: objects merged, null removes an override, '
                  'lists and values replaced whole); PUT replaces them all ({} clears them)'
    )


class AccountSerializer(serializers.ModelSerializer):
    household = serializers.IntegerField(source="household_id")
    household_name = serializers.CharField(source="household.name")
    advisors = serializers.SerializerMethodField(help_text="User names of the household's advisors")
    model = serializers.CharField(source="model.code", allow_null=True, default=None)
    template = serializers.SerializerMethodField(help_text="The account's template, else its household's")

    class Meta:
        model = Account
        fields = ["id", "custodian_number", "name", "household", "household_name", "advisors", "model", "template",
                  "tax_status", "taxable", "spouse", "asset_classes", "discretionary", "cash", "opened_on"]

    def get_advisors(self, account) -> list[str]:
        return [u.get_username() for u in account.household.advisors]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_template(self, account) -> str | None:
        template = account.governing_template
        return template.code if template else None


class ParameterLeafSerializer(serializers.Serializer):
    path = serializers.CharField()
    value = serializers.JSONField(help_text="Any JSON value, null included")
    source = serializers.CharField(help_text='"default", "firm" (the firm-wide harvest substitutes), "template:<code>", "household", '
                                             '"account", or "firm + <one of those>" for harvest substitutes from both; '
                                             '"restricted" (the firm\'s restricted list in force today) or "restricted + '
                                             '<one of those>" for restrictions from both')


class EffectiveParametersSerializer(serializers.Serializer):
    values = serializers.DictField(help_text="The full engine parameter object the account is rebalanced with")
    leaves = ParameterLeafSerializer(many=True)


class AccountDetailSerializer(AccountSerializer):
    overrides = serializers.DictField()
    effective_parameters = serializers.SerializerMethodField()

    class Meta(AccountSerializer.Meta):
        fields = [*AccountSerializer.Meta.fields, "short_term_rate", "long_term_rate", "realised_short_term_ytd",
                  "realised_long_term_ytd", "realised_ytd_year", "overrides", "effective_parameters"]

    @extend_schema_field(EffectiveParametersSerializer)
    def get_effective_parameters(self, account):
        effective = account_parameters(account)
        return {
            "values": effective.values,
            "leaves": [{"path": p, "value": v, "source": s} for p, v, s in effective.leaves()],
        }


class TaxLotSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="security.symbol")
    acquired = serializers.DateField(help_text="Where the holding period starts (moved by a wash sale, IRC §1223(3); "
                                               "for inherited shares more than a year before they passed, §1223(9))")
    purchased = serializers.DateField(source="bought_on", help_text="When the shares were bought, or passed")
    gift_value = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True, allow_null=True,
                                          help_text="Received as a gift (gift_date): the lot's fair market value that "
                                                    "day, the basis for a loss when below cost_basis, the donor's "
                                                    "(IRC §1015(a))")

    class Meta:
        model = TaxLot
        fields = ["id", "lot_id", "symbol", "quantity", "cost_basis", "acquired", "purchased", "inherited",
                  "gift_date", "gift_value"]


# --- Runs, proposals, orders, alerts -----------------------------------------------------------


class RunScopeSerializer(UnknownFieldsRefused, serializers.Serializer):
    """Which accounts a run covers; criteria combine (AND). ``{"firm": true}`` alone: every account."""

    firm = serializers.BooleanField(required=False)
    account_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62),
                                        required=False, max_length=10000)
    household_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    model_code = serializers.CharField(required=False, max_length=64)
    template_code = serializers.CharField(required=False, max_length=64)
    advisor_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    min_drift = serializers.FloatField(required=False, min_value=0, max_value=10)
    replace_approved = serializers.BooleanField(
        required=False, help_text="Replace approved proposals not yet released (default: those accounts are left out "
                                  "and their approval stands)")

    def validate(self, attrs):
        if not any(v not in (None, False, []) for k, v in attrs.items() if k != "replace_approved"):
            raise serializers.ValidationError("Name the accounts: firm, account_ids, household_id, model_code, "
                                              "template_code, advisor_id or min_drift.")
        if attrs.get("account_ids"):
            attrs["account_ids"] = list(dict.fromkeys(attrs["account_ids"]))  # an id twice is one account
        return attrs


class RunStartSerializer(UnknownFieldsRefused, serializers.Serializer):
    scope = RunScopeSerializer()
    as_of = serializers.DateField(required=False, allow_null=True, default=None,
                                  help_text="Pricing date (default today)")


class RunSerializer(serializers.ModelSerializer):
    started_by = serializers.SerializerMethodField()
    remaining = serializers.IntegerField(read_only=True)
    progress = serializers.FloatField(read_only=True, help_text="(done + failed) / total")
    timings = serializers.DictField(child=serializers.FloatField(), help_text="Seconds per phase, summed over chunks")
    scope = serializers.DictField()

    class Meta:
        model = RebalanceRun
        fields = ["id", "kind", "scope", "as_of", "status", "started_by", "total", "done", "failed", "remaining",
                  "progress", "created_at", "started_at", "finished_at", "timings"]

    def get_started_by(self, run) -> str:
        return run.started_by.username if run.started_by_id else run.started_by_label


class RunFailureSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.custodian_number")
    detail = serializers.DictField()

    class Meta:
        model = RunOutcome
        fields = ["account", "account_number", "code", "message", "detail"]


class ApprovalSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", allow_null=True, default=None)

    class Meta:
        model = ProposalApproval
        fields = ["user", "capacity", "decision", "comment", "at"]


class ProposalSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.custodian_number")
    model_version = serializers.IntegerField(source="model_version.number", allow_null=True, default=None)

    class Meta:
        model = Proposal
        fields = ["id", "run", "account", "account_number", "status", "created_at", "status_changed_at",
                  "model_version", "trade_count", "turnover", "estimated_tax", "harvested_losses", "drift_before",
                  "drift_after", "requires_compliance", "restricted_traded", "revised_from", "priced_on"]
        extra_kwargs = {"revised_from": {"help_text": "The proposal this one replaced after an edit (null: none)"},
                        "priced_on": {"help_text": "The day of the oldest close it was priced with (what it may trade): "
                                                   "the policy's price-age limit counts from it (null: its run's day)"}}


def _result_field(name: str, schema: dict):
    @extend_schema_field(schema)
    def get(self, proposal):
        return proposal.result.get(name)

    get.__name__ = f"get_{name}"
    return get


class ProposalRevisionSerializer(serializers.Serializer):
    """An edit before approving (``services.revisions``): who solved the proposal again, and without
    which trades or with which one-off instructions."""

    revised_from = serializers.IntegerField(source="revised_from_id", allow_null=True,
                                            help_text="The proposal it replaced (null: a one-off instruction on "
                                                      "the account, accounts/{id}/instruct/)")
    revised_by = serializers.CharField(source="revised_by.username", allow_null=True, default=None,
                                       help_text="Null when that user has since been removed")
    at = serializers.DateTimeField(source="created_at")
    dropped = serializers.SerializerMethodField(help_text="The trades taken out (not traded this time)")
    instructions = serializers.SerializerMethodField(help_text="The one-off instructions added, in words")
    changes = serializers.SerializerMethodField(help_text="Every change, in words, as the history shows it")

    @extend_schema_field({"type": "array", "items": {"type": "object", "properties": {
        "symbol": {"type": "string"}, "side": {"type": "string", "enum": ["buy", "sell"]}},
        "required": ["symbol", "side"]}})
    def get_dropped(self, proposal) -> list:
        return proposal.revision.get("dropped") or []

    def get_instructions(self, proposal) -> list[str]:
        return proposal.revision.get("instructions") or []

    def get_changes(self, proposal) -> list[str]:
        return proposal.revision.get("changes") or []


class ProposalDetailSerializer(ProposalSerializer):
    approvals = ApprovalSerializer(many=True)
    revision = serializers.SerializerMethodField(help_text="This proposal's edit, or the one-off instruction it "
                                                           "carries out (null: it came from a run)")
    revised_into = serializers.IntegerField(
        source="revised_into_pk", allow_null=True, read_only=True,
        help_text="The proposal an edit of this one made (it is then superseded; null: none)")
    risk_model_version = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True,
        help_text="The firm's risk model version direct-indexed sleeves were tracked with (risk-models/{id}/); "
                  "null: the engine's default model")
    risk_model_note = serializers.CharField(read_only=True, help_text="Why the default model was used, if it was")
    parameters = serializers.DictField(help_text="The effective parameters the engine used")
    trades = serializers.SerializerMethodField(help_text="Each trade with its reasons and, for sells, the lots sold")
    summary = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()
    alerts = serializers.SerializerMethodField()
    weights_before = serializers.SerializerMethodField()
    weights_after = serializers.SerializerMethodField()
    targets = serializers.SerializerMethodField()
    tax_restated = serializers.SerializerMethodField(
        help_text="Each time the estimated tax was restated because the household's open proposals changed: "
                  "at, before, after, because (null: never)")

    class Meta(ProposalSerializer.Meta):
        fields = [*ProposalSerializer.Meta.fields, "revised_into", "revision", "risk_model_version", "risk_model_note",
                  "approvals", "parameters", "trades", "summary", "warnings", "alerts", "weights_before",
                  "weights_after", "targets", "tax_restated"]

    @extend_schema_field(ProposalRevisionSerializer(allow_null=True))
    def get_revision(self, proposal):
        return ProposalRevisionSerializer(proposal).data if proposal.revised_from_id or proposal.revision else None

    get_trades = _result_field("trades", {"type": "array", "items": engine_ref("result", "trade")})
    get_summary = _result_field("summary", engine_ref("result", "summary"))
    get_warnings = _result_field("warnings", {"type": "array", "items": {"type": "string"}})

    @extend_schema_field({"type": "array", "items": engine_ref("result", "alert")})
    def get_alerts(self, proposal):
        # As alerts/ says them (services.runs writes Alert rows through the same rule): the engine states
        # a money alert's dollars bare ("2,000.00 of losses are disallowed"); ``amount`` stays the number.
        alerts = proposal.result.get("alerts")
        return alerts if alerts is None else [{**a, "message": alert_text(a["code"], a["message"])} for a in alerts]

    get_weights_before = _result_field("weights_before", engine_ref("result", "weights"))
    get_weights_after = _result_field("weights_after", engine_ref("result", "weights"))
    get_targets = _result_field("targets", engine_ref("result", "weights"))
    get_tax_restated = _result_field("tax_restated", {"type": "array", "nullable": True, "items": {
        "type": "object", "properties": {k: {"type": "string"} for k in ("at", "before", "after", "because")}}})


class DecisionSerializer(UnknownFieldsRefused, serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000, style=MULTI_LINE)


class RejectionReasonField(serializers.CharField):
    """A rejection's reason: required and not blank, as the schema says; missing, null or blank, it is
    refused in the service's own words (``rejection_reason_check``), as it was before the schema said so."""

    def run_validation(self, data=serializers.empty):
        if data is serializers.empty or data is None or (isinstance(data, str) and not data.strip()):
            rejection_reason_check(None)
        return super().run_validation(data)


class RejectionSerializer(UnknownFieldsRefused, serializers.Serializer):
    comment = RejectionReasonField(max_length=5000, style=MULTI_LINE, help_text="Why it is rejected (required)")


class OrderSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="order_id", help_text='"P<proposal id>-<trade number>", stable')
    account_number = serializers.CharField(source="account.custodian_number")
    symbol = serializers.CharField(source="security.symbol")
    open_quantity = serializers.DecimalField(max_digits=20, decimal_places=6, read_only=True)
    lots = serializers.ListField(child=serializers.DictField(), help_text="Sells: the lots to sell, in order")
    reasons = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Order
        fields = ["id", "proposal", "account", "account_number", "symbol", "side", "quantity", "reference_price",
                  "limit_price", "lots", "reasons", "block_id", "released_on", "status", "filled_quantity",
                  "cancelled_quantity", "open_quantity", "created_at", "closed_at"]


class AlertSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.custodian_number")

    class Meta:
        model = Alert
        fields = ["id", "account", "account_number", "run", "kind", "message", "amount", "created_at", "resolved_at"]


# --- The firm's risk model ---------------------------------------------------------------------


class RiskModelVersionSerializer(serializers.ModelSerializer):
    """A version as the nightly refresh (or a person) recorded it; ``in_use``: the one runs track
    direct-indexed sleeves with today (the latest, unless it is over 31 days old)."""

    securities = serializers.IntegerField(source="security_count", read_only=True,
                                          help_text="How many securities it covers")
    estimated_at = serializers.DateTimeField(source="created_at", read_only=True)
    estimated_by = serializers.CharField(
        source="created_by.username", allow_null=True, default=None, read_only=True,
        help_text="Who asked for it; null: the nightly refresh (or a user since removed)")
    in_use = serializers.SerializerMethodField()

    class Meta:
        model = RiskModelVersion
        fields = ["id", "label", "as_of", "window_days", "observations", "method", "factor_count", "securities",
                  "estimated_at", "estimated_by", "in_use"]
        extra_kwargs = {"as_of": {"help_text": "The last day of prices estimated from"},
                        "window_days": {"help_text": "Daily returns asked for (trading days)"},
                        "observations": {"help_text": "Daily returns used"},
                        "factor_count": {"help_text": "Principal-component factors"}}

    def get_in_use(self, version) -> bool:
        return version.pk == self.context.get("in_use")


class SecurityRiskSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    volatility = serializers.FloatField(help_text="Annual: the square root of its factor plus specific variance")


class RiskModelVersionDetailSerializer(RiskModelVersionSerializer):
    risks = serializers.SerializerMethodField(help_text="Each covered security's annual volatility, riskiest first")

    class Meta(RiskModelVersionSerializer.Meta):
        fields = [*RiskModelVersionSerializer.Meta.fields, "risks"]

    @extend_schema_field(SecurityRiskSerializer(many=True))
    def get_risks(self, version) -> list:
        return [{"symbol": s, "volatility": v} for s, v in version.volatilities()]


class RiskModelEstimateSerializer(serializers.ModelSerializer):
    """An estimate of the firm's risk model (asked for now, or the nightly refresh's), followed until
    it names its outcome."""

    status = serializers.ChoiceField(choices=RiskModelEstimate.Status.choices, read_only=True, help_text=(
        "queued and running: under way; completed: see outcome and version; failed: see error"))
    outcome = serializers.CharField(read_only=True, help_text=(
        'Once completed: "new" (a new version) or "unchanged" (the prices have not changed: the same version)'))
    version = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                                 help_text="Once completed: the version, at risk-models/{id}/")
    error = serializers.CharField(read_only=True, help_text="Once failed: what is missing or wrong")
    error_code = serializers.CharField(read_only=True, help_text="Once failed: e.g. insufficient_price_history")
    origin = serializers.ChoiceField(choices=RiskModelEstimate.Origin.choices, read_only=True, help_text=(
        "request: asked for (started_by names who); nightly: the nightly refresh (started_by null)"))
    started_by = serializers.CharField(source="created_by.username", allow_null=True, default=None, read_only=True)

    class Meta:
        model = RiskModelEstimate
        fields = ["id", "status", "as_of", "window_days", "origin", "outcome", "version", "error", "error_code",
                  "started_by", "created_at", "started_at", "finished_at"]
        extra_kwargs = {"as_of": {"help_text": "Prices up to this day are estimated from"}}


class ReleaseBatchStartSerializer(UnknownFieldsRefused, serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                    help_text="Recorded on each released proposal")


class ReleaseBatchSerializer(serializers.ModelSerializer):
    """A release of every approved proposal, followed until it completes."""

    status = serializers.ChoiceField(choices=ReleaseBatch.Status.choices, read_only=True, help_text=(
        "queued and running: under way (done of total); completed: released and refused say how it went; "
        "failed: see error (what it released stays released)"))
    total = serializers.IntegerField(read_only=True, help_text="Approved proposals when it was asked for")
    refusals = serializers.ListField(child=serializers.DictField(), read_only=True, help_text=(
        "The first 200 refused: proposal (id), account and message (why)"))
    started_by = serializers.CharField(source="created_by.username", allow_null=True, default=None, read_only=True)

    class Meta:
        model = ReleaseBatch
        fields = ["id", "status", "total", "done", "released", "refused", "refusals", "comment", "error",
                  "proposal_ids", "started_by", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


# --- Audit log, imports, what-if, keys ---------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer):
    before = serializers.JSONField()
    after = serializers.JSONField()

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "firm", "actor_kind", "actor_id", "actor", "action", "object_type", "object_id",
                  "object_repr", "before", "after", "comment"]


class _LengthFirst(serializers.ListField):
    """A list refused for its length before any item is read: DRF checks ``max_length`` after
    reading every item (300,000 rows took 15 s to be told at most 200,000 fit)."""

    def to_internal_value(self, data):
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class ImportJsonSerializer(UnknownFieldsRefused, serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(KINDS))
    rows = _LengthFirst(
        child=serializers.DictField(), allow_empty=False, max_length=200_000,
        help_text="One object per row, keyed by the kind's CSV columns (docs/csv-formats.md)",
    )
    as_of = serializers.DateField(required=False, allow_null=True, default=None,
                                  help_text="Dates are checked against this day (default today)")


class ImportFileSerializer(UnknownFieldsRefused, serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(KINDS))
    file = serializers.FileField(help_text="A CSV file in the documented layout (docs/csv-formats.md)")
    as_of = serializers.DateField(required=False, allow_null=True, default=None)


class ImportSummarySerializer(serializers.Serializer):
    kind = serializers.CharField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    deleted = serializers.IntegerField()
    notes = serializers.ListField(child=serializers.CharField())


class ApiKeySerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="user.username")
    status = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "user", "owner", "scopes", "status", "created_at", "expires_at",
                  "revoked_at", "last_used_at"]

    @extend_schema_field(serializers.ChoiceField(choices=["active", "awaiting_owner", "expired", "revoked"]))
    def get_status(self, key) -> str:
        # awaiting_owner: issued for someone else, its token not collected yet (it works for nobody).
        return ("revoked" if key.revoked_at else "expired" if key.is_expired()
                else "awaiting_owner" if key.awaits_owner else "active")


class ApiKeyCreateSerializer(UnknownFieldsRefused, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=[s.value for s in Scope]), allow_empty=False,
                                   help_text="Each scope once (one given twice is refused, naming it)")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    user = serializers.IntegerField(required=False, min_value=1, max_value=2**62,
                                    help_text="The owner's id (default: you; someone else: firm admins only)")

    def validate_scopes(self, scopes: list[str]) -> list[str]:
        # Refused, not folded into one: a list with a repeat is not what the caller meant to send.
        repeated = sorted({s for s in scopes if scopes.count(s) > 1})
        if repeated:
            raise serializers.ValidationError(
                [f"{s} is given {scopes.count(s)} times; give each scope once." for s in repeated])
        return scopes


class ApiKeyIssuedSerializer(ApiKeySerializer):
    token = serializers.CharField(required=False, help_text=(
        "rk_<prefix>_<secret>: shown this once, store it now. Never kept: a replayed answer (same "
        "Idempotency-Key) leaves it out and says so in Idempotent-Withheld; revoke that key and issue another."))

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "token"]


class BacktestStartSerializer(UnknownFieldsRefused, serializers.Serializer):
    """A backtest to start: a strategy (template, or the engine's defaults), a basket, money, dates."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    template = serializers.SlugRelatedField(slug_field="code", queryset=ParameterTemplate.objects.all(),
                                            required=False, allow_null=True, default=None,
                                            help_text="Template code; its harvesting settings are replayed")
    basket = serializers.ChoiceField(choices=Backtest.Basket.choices, default=Backtest.Basket.SAMPLE)
    model = serializers.SlugRelatedField(slug_field="code", queryset=ModelPortfolio.objects.all(), required=False,
                                         allow_null=True, default=None)
    benchmark = serializers.SlugRelatedField(slug_field="code", queryset=Benchmark.objects.all(), required=False,
                                             allow_null=True, default=None)
    prices = serializers.ChoiceField(choices=Backtest.Prices.choices, default=Backtest.Prices.SAMPLE)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=1000, max_value=Backtest.AMOUNT_MAX,
                                      default=1_000_000)
    start = serializers.DateField(help_text="The basket is bought at the close of the last trading day on or before it")
    years = serializers.IntegerField(min_value=1, max_value=40, default=10)
    cohorts = serializers.IntegerField(min_value=1, max_value=30, default=1, help_text="Yearly start dates")
    short_term_rate = serializers.DecimalField(max_digits=6, decimal_places=4, min_value=0, max_value=1,
                                               default="0.408")
    long_term_rate = serializers.DecimalField(max_digits=6, decimal_places=4, min_value=0, max_value=1,
                                              default="0.238")
    losses = serializers.ChoiceField(choices=Backtest.Losses.choices, default=Backtest.Losses.OFFSET)

    def validate(self, attrs):
        if attrs["basket"] == Backtest.Basket.MODEL and attrs.get("model") is None:
            raise serializers.ValidationError({"model": "a model basket needs the model's code"})
        if attrs["basket"] == Backtest.Basket.BENCHMARK and attrs.get("benchmark") is None:
            raise serializers.ValidationError({"benchmark": "a benchmark basket needs the benchmark's code"})
        return attrs


class BacktestSerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    model = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    benchmark = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    progress = serializers.FloatField(read_only=True, help_text="Share of the start dates replayed")
    weights = serializers.DictField(child=serializers.FloatField())
    parameters = serializers.DictField()

    class Meta:
        model = Backtest
        fields = ["id", "name", "template", "basket", "model", "benchmark", "prices", "amount", "start", "years",
                  "cohorts", "short_term_rate", "long_term_rate", "losses", "weights", "parameters", "status",
                  "done", "progress", "error", "created_by", "created_at", "started_at", "finished_at"]


@extend_schema_field({"type": "object", "additionalProperties": True})
class _ReportField(serializers.JSONField):
    """A report document, or null until the backtest has run: an object in the schema (a bare JSON
    field is "any value", and "any or null" makes null match both branches of its oneOf)."""


class BacktestDetailSerializer(BacktestSerializer):
    report = _ReportField(read_only=True, allow_null=True, help_text=(
        "groups (all start dates, and earlier/later halves): each strategy's mean figures and the engine against "
        "the naive harvester; by_year; cohorts (whole-period and yearly figures, month-end values, failures)"))

    class Meta(BacktestSerializer.Meta):
        fields = [*BacktestSerializer.Meta.fields, "report"]
