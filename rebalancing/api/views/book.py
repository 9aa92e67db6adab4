"""Market data, models, templates, households and accounts."""

from django.db import transaction
from django.db.models import IntegerField, Prefetch, Value
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from rebalancing import filters
from rebalancing.access import accounts_visible_to, households_visible_to, proposals_visible_to, with_advisors
from rebalancing.models import (
    Account,
    Benchmark,
    BenchmarkWeight,
    Household,
    ModelPortfolio,
    ModelVersion,
    ParameterTemplate,
    Price,
    Security,
    Sleeve,
    TaxLot,
)
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.book import (
    SleeveSpec,
    household_overrides_set,
    model_create,
    model_version_create,
    template_save,
)
from rebalancing.services.previews import account_overrides_save
from rebalancing.services.rmd import (
    account_rmd_facts_set,
    rmd_due,
    rmd_due_for_household,
    rmds_owed,
    rmds_shown,
)
from rebalancing.services.tax_returns import household_tax_set
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .. import household_serializers, serializers
from ..base import FirmAPIView, FirmScopedViewSet, Rule, idempotent
from ..merge_patch import merge_patch
from ..serializers.revisions import AccountInstructSerializer
from ..visibility import book_wide_visible_to
from .households import HouseholdWhatIfSerializer, household_settings_update, household_whatif

MANAGE_MODELS = Rule(Scope.ADMIN, Capability.MANAGE_MODELS)
EDIT_PARAMETERS = Rule(Scope.PARAMETERS, Capability.EDIT_PARAMETERS)
RUN = Rule(Scope.RUN, Capability.RUN_REBALANCE)
# A template's JSON documents: a PATCH merges into each (RFC 7396), a PUT replaces it.
PATCHED_DOCUMENTS = ("parameters", "household_parameters", "overridable")


class SecurityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """The firm's security master."""

    serializer_class = serializers.SecuritySerializer
    filterset_class = filters.SecurityFilter

    def visible_queryset(self, user):
        return book_wide_visible_to(user, Security.objects.select_related("harvest_substitute"))


class PriceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Closing prices by security and date (newest first)."""

    serializer_class = serializers.PriceSerializer
    filterset_class = filters.PriceFilter

    def visible_queryset(self, user):
        return book_wide_visible_to(user, Price.objects.select_related("security").order_by("-date", "security_id"))


class BenchmarkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    serializer_class = serializers.BenchmarkSerializer

    def visible_queryset(self, user):
        return book_wide_visible_to(user, Benchmark.objects.all())

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, description="Weights as of this date (default: the latest)")],
        responses=serializers.BenchmarkWeightSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def weights(self, request, pk=None):
        """Constituent weights on the latest date not after ``date``."""
        benchmark = self.get_object()
        weights = BenchmarkWeight.objects.filter(benchmark=benchmark)
        query = serializers.BenchmarkWeightsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)  # a bad date is a 400 naming it, as everywhere
        if "date" in query.validated_data:
            weights = weights.filter(date__lte=query.validated_data["date"])
        latest = weights.order_by("-date").values_list("date", flat=True).first()
        page = self.paginate_queryset(
            weights.filter(date=latest).select_related("security").order_by("-weight", "security__symbol")
        )
        return self.get_paginated_response(serializers.BenchmarkWeightSerializer(page, many=True).data)


class ModelPortfolioViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, FirmScopedViewSet):
    """Model portfolios with their current version; editing one makes a new version."""

    rules = {"versions": MANAGE_MODELS, "create": MANAGE_MODELS}

    def get_serializer_class(self):
        return serializers.ModelPortfolioDetailSerializer if self.action == "retrieve" else \
            serializers.ModelPortfolioSerializer

    @extend_schema(request=serializers.ModelCreateInSerializer,
                   responses={201: serializers.ModelPortfolioDetailSerializer})
    @idempotent
    def create(self, request):
        """A new model with its first version (sleeves as for a new version)."""
        data = self._valid(serializers.ModelCreateInSerializer, request.data)
        model = model_create(user=request.user, code=data["code"], name=data["name"],
                             description=data["description"], sleeves=self._sleeves(data))
        return Response(serializers.ModelPortfolioDetailSerializer(self.visible_queryset(request.user).get(pk=model.pk)).data,
                        status=status.HTTP_201_CREATED)

    @staticmethod
    def _sleeves(data) -> list[SleeveSpec]:
        return [
            SleeveSpec(asset_class=s["asset_class"], weight=s["weight"], holdings=dict(s["holdings"]), kind=s["kind"],
                       benchmark=s["benchmark"], submodel=s["submodel"])
            for s in data["sleeves"]
        ]

    def visible_queryset(self, user):
        versions = ModelVersion.objects.select_related("created_by").prefetch_related(
            Prefetch("sleeves", Sleeve.objects.select_related("benchmark", "submodel").prefetch_related(
                "holdings__security"))
        )
        return book_wide_visible_to(user, ModelPortfolio.objects.prefetch_related(Prefetch("versions", versions)))

    @extend_schema(request=serializers.ModelVersionInSerializer,
                   responses={201: serializers.ModelVersionSerializer, 200: serializers.ModelVersionSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def versions(self, request, pk=None):
        """Make a new version of the model from its sleeves (the old versions stay, proposals keep theirs).
        Sleeves the same as the current version's make none: the current version is answered (200, not
        201) and no proposal is superseded."""
        model = self.get_object()
        data = self._valid(serializers.ModelVersionInSerializer, request.data)
        version = model_version_create(model=model, sleeves=self._sleeves(data), user=request.user, note=data["note"])
        unchanged = getattr(version, "unchanged", False)  # the current version's sleeves: no new version
        version = ModelVersion.objects.select_related("created_by").prefetch_related(
            "sleeves__holdings__security", "sleeves__benchmark", "sleeves__submodel").get(pk=version.pk)
        return Response(serializers.ModelVersionSerializer(version).data,
                        status=status.HTTP_200_OK if unchanged else status.HTTP_201_CREATED)

    @staticmethod
    def _valid(serializer_class, data):
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class TemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Parameter templates: named parameter sets that households and accounts inherit."""

    serializer_class = serializers.TemplateSerializer
    rules = {"create": MANAGE_MODELS, "update": MANAGE_MODELS, "partial_update": MANAGE_MODELS}

    def visible_queryset(self, user):
        return book_wide_visible_to(user, ParameterTemplate.objects.all())

    @extend_schema(request=serializers.TemplateSerializer, responses={201: serializers.TemplateSavedSerializer})
    @idempotent
    def create(self, request):
        serializer = serializers.TemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        template = template_save(user=request.user, code=data["code"], name=data["name"],
                                 parameters=data["parameters"], overridable=data["overridable"],
                                 description=data.get("description", ""),
                                 household_parameters=data.get("household_parameters", {}))
        return Response(serializers.TemplateSavedSerializer(template).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.TemplateUpdateSerializer, responses=serializers.TemplateSavedSerializer)
    def update(self, request, pk=None):
        return self._change(request, partial=False)

    @extend_schema(request=serializers.TemplateUpdateSerializer, responses=serializers.TemplateSavedSerializer)
    def partial_update(self, request, pk=None):
        return self._change(request, partial=True)

    @transaction.atomic
    def _change(self, request, *, partial: bool):
        template = self.get_object()
        # Locked while the patch is merged into what is stored: a concurrent PATCH is not lost.
        template = ParameterTemplate.objects.select_for_update().get(pk=template.pk)
        serializer = serializers.TemplateUpdateSerializer(template, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        given = dict(serializer.validated_data)
        if partial:  # RFC 7396: the documents are merged into the stored ones; PUT replaces them
            for name in PATCHED_DOCUMENTS:
                if name in given:
                    given[name] = merge_patch(getattr(template, name) or {}, given[name])
        data = {**serializers.TemplateUpdateSerializer(template).data, **given}
        template = template_save(user=request.user, code=template.code, name=data["name"],
                                 parameters=data["parameters"], overridable=data["overridable"],
                                 description=data["description"], template=template,
                                 household_parameters=data["household_parameters"])
        return Response(serializers.TemplateSavedSerializer(template).data)


def _overrides_sent(request, stored: dict | None, serializer) -> dict:
    """The overrides a PUT or PATCH of ``parameters/`` asks for: PATCH's merged into the stored ones."""
    sent = serializer.validated_data["overrides"]
    return merge_patch(stored or {}, sent) if request.method == "PATCH" else sent


class HouseholdViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Households with their advisors; managed account by account or as one (``managed_as``)."""

    serializer_class = serializers.HouseholdSerializer
    rules = {"parameters": EDIT_PARAMETERS, "household_settings": EDIT_PARAMETERS, "tax": EDIT_PARAMETERS,
             "whatif": Rule(Scope.READ, Capability.VIEW_BOOK), "rmds": Rule(Scope.READ, Capability.VIEW_BOOK)}
    throttle_scope = None  # the key's or user's rate; the what-if action names its own bucket

    def visible_queryset(self, user):
        return with_advisors(households_visible_to(user).select_related("template", "model")
                             .prefetch_related("accounts", "past_filing_statuses", "taxable_incomes"))  # each return's rates, its filing history

    @extend_schema(request=serializers.OverridesInSerializer, responses=serializers.HouseholdSerializer)
    @action(detail=True, methods=["put", "patch"])
    @transaction.atomic
    def parameters(self, request, pk=None):
        """The household's parameter overrides (within its template's limits): PATCH merges the body's
        into them (JSON Merge Patch, RFC 7396: objects merged, null removes an override, lists and
        values replaced whole); PUT replaces them all ({} clears them)."""
        household = Household.objects.select_for_update().get(pk=self.get_object().pk)
        serializer = serializers.OverridesInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        household_overrides_set(household=household, user=request.user,
                                overrides=_overrides_sent(request, household.overrides, serializer))
        return Response(serializers.HouseholdSerializer(self.get_object()).data)

    @extend_schema(request=household_serializers.HouseholdSettingsInSerializer, responses=serializers.HouseholdSerializer)
    @action(detail=True, methods=["patch"], url_path="settings")
    def household_settings(self, request, pk=None):
        """Replace the household's settings (tax budget per year, asset location) within its template's
        limits, and which asset classes its accounts may hold."""
        household_settings_update(request, self.get_object())
        return Response(serializers.HouseholdSerializer(self.get_object()).data)

    @extend_schema(request=household_serializers.HouseholdTaxInSerializer, responses=serializers.HouseholdSerializer)
    @action(detail=True, methods=["patch"])
    def tax(self, request, pk=None):
        """Set the household's returns: its filing status, its opening capital loss carryover (each
        spouse's when married filing separately), whose return each account is on and filed returns'
        taxable incomes (the carryover worksheet's line 1). Omitted: kept."""
        serializer = household_serializers.HouseholdTaxInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        facts = dict(serializer.validated_data)
        spouses, incomes = facts.pop("spouses", None), facts.pop("taxable_incomes", None)
        household_tax_set(user=request.user, household=self.get_object(), facts=facts, spouses=spouses,
                          taxable_incomes=[dict(entry) for entry in incomes or []])
        return Response(serializers.HouseholdSerializer(self.get_object()).data)

    @extend_schema(request=HouseholdWhatIfSerializer, responses={200: OpenApiTypes.OBJECT})
    # A solve costs milliseconds to seconds of CPU: the what-if bucket, as POST whatif/ (docs/api.md, Rates).
    @action(detail=True, methods=["post"], url_path="what-if", throttle_scope="whatif")
    def whatif(self, request, pk=None):
        """The household rebalanced as one on its book as it is (engine.rebalance_household's result:
        each account's trades, the allocation across accounts before and after). Nothing is stored."""
        serializer = HouseholdWhatIfSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(household_whatif(request, self.get_object(), serializer.validated_data["as_of"]))


    @extend_schema(parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE, description="Default: today")],
                   responses=household_serializers.RmdDueSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def rmds(self, request, pk=None):
        """The RMDs open on a day for each traditional IRA of the household: the year's and, until 1 April,
        an owner's first RMD deferred from the year before; one owner's IRAs totalled."""
        query = household_serializers.RmdOpenQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of") or timezone.localdate()
        lines = rmd_due_for_household(self.get_object(), as_of=as_of)
        return Response(household_serializers.RmdDueSerializer(lines, many=True).data)


class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Accounts; one account's answer shows its effective parameters and where each comes from."""

    filterset_class = filters.AccountFilter
    rules = {"parameters": EDIT_PARAMETERS, "rmd_facts": EDIT_PARAMETERS, "instruct": RUN}

    def get_serializer_class(self):
        return serializers.AccountSerializer if self.action == "list" else serializers.AccountDetailSerializer

    @extend_schema(parameters=[OpenApiParameter("year", int, description="Default: the reading day's year"),
                               OpenApiParameter("as_of", OpenApiTypes.DATE, description="The reading day. Default: today")],
                   responses=household_serializers.RmdDueSerializer)
    @action(detail=True, methods=["get"], filterset_class=None)
    def rmd(self, request, pk=None):
        """A traditional IRA's required minimum distribution for a year, read on a day: the amount, what the
        household's cash flows have taken or planned from it that counts for the year (a plan still waiting
        on that day is paid that day at the earliest), what is left, whether it is missed, and the facts it
        is computed from."""
        query = household_serializers.RmdQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of") or timezone.localdate()
        year = query.validated_data.get("year") or as_of.year
        line = rmd_due(account=self.get_object(), year=year, as_of=as_of)
        return Response(household_serializers.RmdDueSerializer(line).data)

    @extend_schema(request=household_serializers.RmdFactsInSerializer, responses=household_serializers.RmdDueSerializer)
    @action(detail=True, methods=["patch"], url_path="rmd-facts", filterset_class=None)
    def rmd_facts(self, request, pk=None):
        """Set what the IRA's RMD is computed from: the owner's name and dates of birth (omitted: as they
        are; null clears a date) and one year's 31 December value (with its year; null with a year removes that
        year's value; values of other years are kept)."""
        serializer = household_serializers.RmdFactsInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        today = timezone.localdate()
        # A PATCH leaves what it does not name: a spouse sole beneficiary more than 10 years younger
        # changes the table (Treas. Reg. §1.401(a)(9)-5), so an omitted date must not clear it. The
        # service fills an omitted date from the row it has locked (a read here could be stale).
        account = account_rmd_facts_set(user=request.user, account=self.get_object(), today=today,
                                        **serializer.validated_data)
        return Response(household_serializers.RmdDueSerializer(rmd_due(account=account, year=today.year,
                                                                        as_of=today)).data)

    def visible_queryset(self, user):
        return with_advisors(accounts_visible_to(user).with_governing_template().select_related("model"),
                             "household__")

    @extend_schema(request=serializers.OverridesInSerializer, responses=serializers.AccountDetailSerializer)
    @action(detail=True, methods=["put", "patch"], filterset_class=None)
    @transaction.atomic
    def parameters(self, request, pk=None):
        """The account's parameter overrides (within its template's limits; refused, naming the engine's
        reason, when the engine could not rebalance the account with them): PATCH merges the body's into
        them (JSON Merge Patch, RFC 7396: objects merged, null removes an override, lists and values
        replaced whole); PUT replaces them all ({} clears them)."""
        account = Account.objects.select_for_update().get(pk=self.get_object().pk)
        serializer = serializers.OverridesInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account_overrides_save(account=account, user=request.user,
                               overrides=_overrides_sent(request, account.overrides, serializer))
        return Response(serializers.AccountDetailSerializer(self.get_object()).data)

    @extend_schema(request=AccountInstructSerializer, responses={201: serializers.ProposalDetailSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def instruct(self, request, pk=None):
        """A one-off instruction (sell a security - all, or an amount - and buy another with the proceeds;
        raise cash; sell everything; bring back to the model), solved now as a proposal that supersedes the
        one pending approval and follows the firm's approval policy (201). The account's parameters are
        unchanged. An account of a household managed as one is solved with its household (sell and raise_cash
        only): the answer is its proposal of the new household proposal. Refused by name, writing nothing: an
        unknown or unheld security, a sale of more than is held, open withdrawal sales, orders or an approved
        proposal (409), nothing left to trade (409)."""
        serializer = AccountInstructSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proposal = account_instruct(account=self.get_object(), instructions=serializer.instructions_added(),
                                    by=request.user)
        fresh = (proposals_visible_to(request.user).select_related("account", "model_version", "revised_by")
                 .prefetch_related("approvals__user")
                 .annotate(revised_into_pk=Value(None, output_field=IntegerField())))  # nothing revised it yet
        return Response(serializers.ProposalDetailSerializer(fresh.get(pk=proposal.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses=serializers.TaxLotSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def lots(self, request, pk=None):
        """The account's tax lots, oldest first."""
        account = self.get_object()
        page = self.paginate_queryset(
            TaxLot.objects.filter(account=account).select_related("security").order_by("acquired", "id")
        )
        return self.get_paginated_response(serializers.TaxLotSerializer(page, many=True).data)


class RmdsView(FirmAPIView):
    """The book's RMDs open on a day, one row per owner (an owner's IRAs in a household totalled) and
    year, earliest deadline first; the same rows as the /households/rmds/ page."""

    @extend_schema(parameters=[household_serializers.RmdsQuerySerializer],
                   responses=household_serializers.RmdOwedSerializer(many=True))
    def get(self, request):
        query = household_serializers.RmdsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of") or timezone.localdate()
        rows = rmds_shown(rmds_owed(accounts_visible_to(request.user), as_of=as_of), query.validated_data["show"])
        return Response(household_serializers.RmdOwedSerializer(rows, many=True).data)
