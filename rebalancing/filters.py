"""Query filters of the list endpoints (django-filter); each narrows a queryset already scoped to the user."""

from datetime import UTC

import django_filters as filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from config.input_limits import full_date_problem, numeral_problem
from rebalancing.access import households_advised_by
from rebalancing.imports.cells import CellProblem, parse_boolean
from rebalancing.models import (
    Account,
    Alert,
    HouseholdProposal,
    Order,
    Price,
    Proposal,
    RebalanceRun,
    Security,
)
from tenants.audit.models import AuditEvent

_MAX_ID = 2**62  # ids beyond bigint are no id at all; refuse them as invalid rather than overflow
_NUMERIC_FIELDS = (forms.IntegerField, forms.DecimalField, forms.FloatField, forms.DateField, forms.DateTimeField,
                   forms.ModelChoiceField)


class _UtcDateTimeField(IsoDateTimeField):
    """An ISO date-time, sent to PostgreSQL in UTC: it refuses offsets beyond ±15:59 that Python allows."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value.astimezone(UTC) if value is not None else None
        except OverflowError:
            raise forms.ValidationError("The date-time is out of range.", code="invalid") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = _UtcDateTimeField


class _YesNoField(forms.NullBooleanField):
    """true/false (yes/no, 1/0, as in the CSV files); a word that is neither is refused. django-filter's
    own select turned ``?taxable=maybe`` (and ``?taxable=1``) into no filter, answering every account."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            return parse_boolean(str(value).strip())
        except CellProblem:
            raise forms.ValidationError("Write true or false.", code="invalid") from None

    def validate(self, value):
        pass


class YesNoFilter(filters.BooleanFilter):
    field_class = _YesNoField


class FirmFilterSet(filters.FilterSet):
    """A list's filters; a query parameter that is neither a filter nor the page's is refused by name,
    as django-filter would drop it: ``proposals/?satus=approved`` answered every proposal."""

    NOT_FILTERS = frozenset({"page", "page_size", "format"})

    def is_valid(self) -> bool:
        unknown = sorted(set(self.data) - set(self.filters) - self.NOT_FILTERS)
        if unknown:
            known = ", ".join([*self.filters, "page", "page_size"])
            raise ValidationError({name: [f"is not a filter of this list; the filters are {known}."]
                                   for name in unknown})
        # A number, date or id filter: Django's fields read "٣" and "３" as 3 (int(), Decimal()).
        refused = {name: [f"is not a number: {problem}."] for name, f in self.filters.items()
                   if name in self.data and issubclass(f.field_class, _NUMERIC_FIELDS)
                   and (problem := next(filter(None, map(numeral_problem, self.data.getlist(name))), ""))}
        # A date filter reads YYYY-MM-DD only, as the API's other dates (config.input_limits).
        refused.update({name: [problem] for name, f in self.filters.items()
                        if name in self.data and issubclass(f.field_class, forms.DateField)
                        and (problem := next(filter(None, map(full_date_problem, self.data.getlist(name))), ""))
                        and name not in refused})
        # A choice filter names the values there are: Django's "Select a valid choice" did not.
        for name, f in self.filters.items():
            raw = self.data.get(name, "")
            if isinstance(f, filters.ChoiceFilter) and raw and name not in refused:
                values = [str(value) for value, _ in f.field.choices if value != ""]
                if raw not in values:
                    refused[name] = [f"must be one of {', '.join(values)}, not {raw!r}."]
        if refused:
            raise ValidationError(refused)
        return super().is_valid()


class _IdField(forms.IntegerField):
    """An id: digits only. Django's IntegerField read ``1.5`` and ``1e0`` as 1 (``?household=1.5`` listed
    household 1's accounts), and a float is never an id."""

    def to_python(self, value):
        if value not in self.empty_values and not (str(value).isascii() and str(value).strip().isdigit()):
            # The value goes in as a parameter, not into the message: django-filter %-formats the message
            # with the error's params (django_filters.utils.raw_validation), so a "%" sent was a 500.
            raise forms.ValidationError("is not an id: write it as a whole number (e.g. 42), not %(value)s.",
                                        code="invalid", params={"value": repr(value)})
        return super().to_python(value)


@extend_schema_field(OpenApiTypes.INT)  # an integer in the schema, not django-filter's "number"
class IdFilter(filters.NumberFilter):
    field_class = _IdField


def _id_filter(field: str, **kwargs):
    return IdFilter(field_name=field, min_value=1, max_value=_MAX_ID, **kwargs)


class SecurityFilter(FirmFilterSet):
    asset_class = filters.CharFilter()
    sector = filters.CharFilter()
    is_fund = YesNoFilter()
    search = filters.CharFilter(method="_search", help_text="Part of the symbol or name")

    class Meta:
        model = Security
        fields = ["asset_class", "sector", "is_fund", "search"]

    def _search(self, queryset, name, value):
        return queryset.filter(Q(symbol__icontains=value) | Q(name__icontains=value))


class PriceFilter(FirmFilterSet):
    symbol = filters.CharFilter(field_name="security__symbol")
    date = filters.DateFilter()
    date_from = filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = Price
        fields = ["symbol", "date", "date_from", "date_to"]


class AccountFilter(FirmFilterSet):
    advisor = IdFilter(method="_advisor", min_value=1, max_value=_MAX_ID, help_text="The advisor's user id")
    household = _id_filter("household_id")
    model = filters.CharFilter(field_name="model__code", help_text="Model code")
    template = filters.CharFilter(method="_template", help_text="Template code (the account's, else its household's)")
    taxable = YesNoFilter()
    tax_status = filters.ChoiceFilter(choices=Account.TaxStatus.choices)
    discretionary = YesNoFilter()
    search = filters.CharFilter(method="_search", help_text="Part of the account number or name")

    class Meta:
        model = Account
        fields = ["advisor", "household", "model", "template", "taxable", "tax_status", "discretionary", "search"]

    def _advisor(self, queryset, name, value):
        return queryset.filter(household__in=households_advised_by(int(value)))

    def _template(self, queryset, name, value):
        return queryset.governed_by(value)

    def _search(self, queryset, name, value):
        return queryset.filter(Q(custodian_number__icontains=value) | Q(name__icontains=value))


class HouseholdProposalFilter(FirmFilterSet):
    run = _id_filter("run_id", help_text="The run that made it (a cash flow's run, for a withdrawal's sales)")
    household = _id_filter("household_id")

    class Meta:
        model = HouseholdProposal
        fields = ["run", "household"]


class RunFilter(FirmFilterSet):
    status = filters.ChoiceFilter(choices=RebalanceRun.Status.choices)
    kind = filters.ChoiceFilter(choices=RebalanceRun.Kind.choices)

    class Meta:
        model = RebalanceRun
        fields = ["status", "kind"]


class ProposalFilter(FirmFilterSet):
    status = filters.ChoiceFilter(choices=Proposal.Status.choices)
    run = _id_filter("run_id")
    account = _id_filter("account_id")
    requires_compliance = YesNoFilter()

    class Meta:
        model = Proposal
        fields = ["status", "run", "account", "requires_compliance"]


class OrderFilter(FirmFilterSet):
    proposal = _id_filter("proposal_id")
    account = _id_filter("account_id")
    run = _id_filter("proposal__run_id")
    status = filters.ChoiceFilter(choices=Order.Status.choices)
    side = filters.ChoiceFilter(choices=[("buy", "buy"), ("sell", "sell")])
    symbol = filters.CharFilter(field_name="security__symbol")

    class Meta:
        model = Order
        fields = ["proposal", "account", "run", "status", "side", "symbol"]


class AlertFilter(FirmFilterSet):
    kind = filters.ChoiceFilter(choices=Alert.Kind.choices)
    account = _id_filter("account_id")
    run = _id_filter("run_id")
    resolved = YesNoFilter(field_name="resolved_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Alert
        fields = ["kind", "account", "run", "resolved"]


class AuditEventFilter(FirmFilterSet):
    action = filters.CharFilter(help_text='Exact, e.g. "proposal.approve.advisor"')
    action_prefix = filters.CharFilter(field_name="action", lookup_expr="startswith", help_text='e.g. "proposal."')
    object_type = filters.CharFilter()
    object_id = filters.CharFilter()
    actor = filters.CharFilter(help_text="User name as recorded")
    actor_kind = filters.ChoiceFilter(choices=AuditEvent.ActorKind.choices)
    at_from = UtcDateTimeFilter(field_name="at", lookup_expr="gte")
    at_to = UtcDateTimeFilter(field_name="at", lookup_expr="lte")

    class Meta:
        model = AuditEvent
        fields = ["action", "action_prefix", "object_type", "object_id", "actor", "actor_kind", "at_from", "at_to"]
