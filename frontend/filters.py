"""The pages' list filters (django-filter FilterSets), on querysets already scoped to the user.

A value a filter cannot use is a 400 naming the parameter (``frontend.query``), never ignored."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import django_filters as filters
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from rebalancing.access import households_advised_by, households_without_advisor
from rebalancing.models import Alert, Household
from rebalancing.typed_numbers import DOLLARS, PERCENT

from .query import choice_param, date_param, decimal_param, id_param
from .selectors import account_stats, accounts_failed_last, open_alerts

__all__ = ["ACCOUNT_SORTS", "QUEUE_SORTS", "AccountListFilter", "ApprovalQueueFilter", "AuditLogFilter", "run_param"]

ACCOUNT_SORTS = {
    "number": "custodian_number", "name": "name", "household": "household__name", "drift": "-last_drift",
    "cash": "-cash",
}

# The accounts page's "Needs attention" values: an open alert of one kind, of any, or failed in the last run.
ATTENTION = (*Alert.Kind.values, "any", "failed")


class AccountListFilter(filters.FilterSet):
    """The accounts page: ``request`` gives the user (their alerts and runs)."""

    q = filters.CharFilter(method="_search")
    advisor = filters.CharFilter(method="_advisor")
    model = filters.CharFilter(method="_model")
    template = filters.CharFilter(method="_template")
    min_drift = filters.CharFilter(method="_min_drift")
    attention = filters.CharFilter(method="_attention")
    min_cash = filters.CharFilter(method="_min_cash")
    min_loss = filters.CharFilter(method="_min_loss")
    sort = filters.CharFilter(method="_sort")

    def _search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(custodian_number__icontains=value) | Q(name__icontains=value)
                               | Q(household__name__icontains=value)) if value else queryset

    def _advisor(self, queryset, name, value):
        advisor = id_param({name: value}, name, words=("none",), in_filter=True)
        if advisor == "none":
            return queryset.filter(household__in=households_without_advisor())
        return queryset if advisor is None else queryset.filter(household__in=households_advised_by(advisor))

    def _model(self, queryset, name, value):
        model = id_param({name: value}, name, in_filter=True)
        if model is None:
            return queryset
        # An account of a household managed as one follows the household's model, not its own.
        unit = Q(household__managed_as=Household.ManagedAs.HOUSEHOLD)
        return queryset.filter((Q(model_id=model) & ~unit) | (Q(household__model_id=model) & unit))

    def _template(self, queryset, name, value):
        template = id_param({name: value}, name, in_filter=True)
        return queryset if template is None else queryset.governed_by(template)

    def _min_drift(self, queryset, name, value):
        percent = decimal_param({name: value}, name, what="minimum drift", unit=PERCENT)
        return queryset if percent is None else queryset.filter(last_drift__gte=float(percent) / 100)

    def _attention(self, queryset, name, value):
        if value not in ATTENTION:  # a value the page does not offer is named, never ignored
            raise BadRequest(f"Needs attention must be one of {', '.join(ATTENTION)}, not “{value[:40]}”.")
        user = self.request.user
        if value == "failed":  # failed in the latest run of each account, as the dashboard counts
            return accounts_failed_last(queryset)
        alerts = open_alerts(user)  # as the dashboard counts them
        if value != "any":
            alerts = alerts.filter(kind=value)
        return queryset.filter(pk__in=alerts.values("account_id"))

    def _min_cash(self, queryset, name, value):
        percent = decimal_param({name: value}, name, what="minimum cash", unit=PERCENT)
        if percent is None:
            return queryset
        rows = list(queryset.values_list("pk", "cash"))
        stats = account_stats([pk for pk, _ in rows])
        keep = []
        for pk, cash in rows:
            s = stats.get(pk)
            value = (s.securities_value if s else 0.0) + float(cash)
            if value and float(cash) / value * 100 >= float(percent):
                keep.append(pk)
        return queryset.filter(pk__in=keep)

    def _min_loss(self, queryset, name, value):
        amount = decimal_param({name: value}, name, what="minimum unrealised loss", unit=DOLLARS)
        if amount is None:
            return queryset
        stats = account_stats(list(queryset.values_list("pk", flat=True)))
        return queryset.filter(pk__in=[pk for pk, s in stats.items() if -s.unrealised_loss >= float(amount)])

    def _sort(self, queryset, name, value):
        if value == "drift":
            return queryset.order_by(F("last_drift").desc(nulls_last=True), "pk")
        return queryset.order_by(ACCOUNT_SORTS.get(value, "custodian_number"), "pk")

    @property
    def qs(self):
        queryset = super().qs
        if not self.data.get("sort"):
            queryset = queryset.order_by("custodian_number", "pk")
        return queryset

    @property
    def filtered(self) -> bool:
        return any(self.data.get(k) for k in ("q", "advisor", "model", "template", "min_drift", "min_cash", "min_loss",
                                              "attention"))


class AuditLogFilter(filters.FilterSet):
    actor = filters.CharFilter(method="_actor")
    action = filters.CharFilter(field_name="action", lookup_expr="startswith")
    object_type = filters.CharFilter(field_name="object_type")
    object_id = filters.CharFilter(method="_object_id")
    since = filters.CharFilter(method="_since")
    until = filters.CharFilter(method="_until")

    def _actor(self, queryset, name, value):
        """"Who": the record's actor (a user name, key name or process, as it was then), or a person of
        this firm whose first, last or full name has what was typed - the name the page shows beside
        the user name ("Alex", "Admin", "alex admin")."""
        value = " ".join(value.split())
        if not value:
            return queryset
        named = (get_user_model().objects.annotate(full_name=Concat("first_name", Value(" "), "last_name"))
                 .filter(Q(first_name__icontains=value) | Q(last_name__icontains=value)
                         | Q(full_name__icontains=value)).values("username"))
        return queryset.filter(Q(actor__icontains=value) | Q(actor__in=named))

    def _object_id(self, queryset, name, value):
        return queryset.filter(object_id=value.strip()) if value.strip() else queryset

    def _since(self, queryset, name, value):
        day = date_param({name: value}, name)
        return queryset if day is None else queryset.filter(at__gte=timezone.make_aware(datetime.combine(day, time.min)))

    def _until(self, queryset, name, value):
        day = date_param({name: value}, name)
        if day is None:
            return queryset
        return queryset.filter(at__lt=timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min)))

    @property
    def filtered(self) -> bool:
        return any(self.data.get(k) for k in ("actor", "action", "object_type", "object_id", "since", "until"))


# The approvals queue's yes/no filters: the parameter and the proposal's field it reads.
QUEUE_FLAGS = {"compliance": "requires_compliance", "restricted": "restricted_traded"}
YES_NO = ("yes", "no")
# The approvals queue's orders: what the page says, and the ordering (the default first).
QUEUE_SORTS = {
    "tax": ("Largest estimated tax first", ("-estimated_tax", "pk")),
    "turnover": ("Largest turnover first", ("-turnover", "pk")),
    "harvested": ("Largest losses harvested first", ("-harvested_losses", "pk")),
    "oldest": ("Waiting longest first", ("created_at", "pk")),
    "account": ("By account number", ("account__custodian_number", "pk")),
}


def run_param(data) -> int | None:
    """The ``run`` a proposal list is narrowed to (its number, as the run's page links it), or None."""
    try:
        return id_param(data, "run", in_filter=True)
    except BadRequest:
        raise BadRequest(f"The run filter must be a run's number, not “{(data.get('run') or '').strip()[:40]}”.") \
            from None


class ApprovalQueueFilter(filters.FilterSet):
    """The approvals queue (pending proposals already scoped to the user): by advisor ("none": households
    without one, which a portfolio manager decides), household name, whether compliance's approval is
    needed, whether a restricted security is traded, and size. ``advisors`` are the ones the page offers;
    ``problems()`` says what a value cannot mean, by field, before ``qs`` is read."""

    advisor = filters.CharFilter(method="_advisor")
    household = filters.CharFilter(method="_household")
    compliance = filters.CharFilter(method="_flag")
    restricted = filters.CharFilter(method="_flag")
    min_tax = filters.CharFilter(method="_min_tax")
    min_turnover = filters.CharFilter(method="_min_turnover")
    run = filters.CharFilter(method="_run")  # a run's proposals, followed from its page

    def __init__(self, *args, advisors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.advisor_ids = {a.pk for a in advisors}

    def problems(self) -> dict[str, str]:
        out = {}
        for name, read in (("advisor", self._advisor_id), ("compliance", self._yes_no), ("restricted", self._yes_no),
                           ("min_tax", self._dollars), ("min_turnover", self._percent), ("sort", self._sort_key),
                           ("run", self._run_id)):
            try:
                read(name, self.data.get(name, ""))
            except BadRequest as exc:
                out[name] = str(exc)
        return out

    def _sort_key(self, name, value):
        return choice_param({name: value}, name, tuple(QUEUE_SORTS), default="tax")

    @property
    def sort(self) -> str:
        """The order asked for (``QUEUE_SORTS``; read after ``problems()`` found none)."""
        return self._sort_key("sort", self.data.get("sort", ""))

    def _advisor_id(self, name, value):
        advisor = id_param({name: value}, name, words=("none",), in_filter=True)
        if isinstance(advisor, int) and advisor not in self.advisor_ids:
            raise BadRequest(f"No advisor of this firm has the number {advisor}: choose one from the list.")
        return advisor

    def _run_id(self, name, value):
        return run_param({name: value})

    def _run(self, queryset, name, value):
        run = self._run_id(name, value)
        return queryset if run is None else queryset.filter(run_id=run)

    def _yes_no(self, name, value):
        return choice_param({name: value}, name, YES_NO)

    def _dollars(self, name, value):
        amount = decimal_param({name: value}, name, what="minimum estimated tax", unit=DOLLARS)
        if amount is not None and amount < 0:
            raise BadRequest(f"The minimum estimated tax must be zero or more dollars, not “{value.strip()[:40]}”.")
        return amount

    def _percent(self, name, value):
        percent = decimal_param({name: value}, name, what="minimum turnover", unit=PERCENT)
        if percent is not None and not 0 <= percent <= 100:
            raise BadRequest(f"The minimum turnover must be a percentage from 0 to 100, not “{value.strip()[:40]}”.")
        return percent

    def _advisor(self, queryset, name, value):
        advisor = self._advisor_id(name, value)
        if advisor == "none":
            return queryset.filter(account__household__in=households_without_advisor())
        return queryset if advisor is None else queryset.filter(account__household__in=households_advised_by(advisor))

    def _household(self, queryset, name, value):
        value = " ".join(value.split())
        return queryset.filter(account__household__name__icontains=value) if value else queryset

    def _flag(self, queryset, name, value):
        answer = self._yes_no(name, value)
        return queryset.filter(**{QUEUE_FLAGS[name]: answer == "yes"}) if answer else queryset

    def _min_tax(self, queryset, name, value):
        amount = self._dollars(name, value)
        return queryset if amount is None else queryset.filter(estimated_tax__gte=amount)

    def _min_turnover(self, queryset, name, value):
        percent = self._percent(name, value)  # turnover is kept as a fraction (0.25 is 25%)
        return queryset if percent is None else queryset.filter(turnover__gte=float(percent) / 100)

    @property
    def filtered(self) -> bool:
        return any(self.data.get(k) for k in ("advisor", "household", "compliance", "restricted", "min_tax",
                                              "min_turnover", "run"))
