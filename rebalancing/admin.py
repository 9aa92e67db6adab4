"""The firm's admin (served on the firm's own host, so every query is in the firm's schema)."""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from rebalancing import engine
from rebalancing.effective_parameters import override_limits_problems, overrides_validate
from rebalancing.ledger.account_opening import first_trade_days, opened_after_trades_problem
from rebalancing.models import (
    Account,
    Alert,
    Benchmark,
    BenchmarkWeight,
    Household,
    ModelPortfolio,
    ModelVersion,
    ParameterTemplate,
    Price,
    Proposal,
    RebalanceRun,
    RunOutcome,
    Security,
    Sleeve,
    SleeveHolding,
    TaxLot,
)
from rebalancing.selectors import account_parameters
from rebalancing.services.assignments import settings_changed_supersede
from rebalancing.services.parameter_symbols import parameter_symbols_checked
from rebalancing.services.runs import run_cancel
from rebalancing.services.template_feasibility import template_settings_refuse
from tenants.audit.admin_mixins import AuditedAdminMixin
from tenants.errors import DomainError


@admin.register(Security)
class SecurityAdmin(AuditedAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/rebalancing/security_changelist.html"
    list_display = ("symbol", "name", "asset_class", "sector", "is_fund", "esg_score", "fractional", "equivalence_group")
    list_filter = ("asset_class", "is_fund", "sector")
    search_fields = ("symbol", "name", "equivalence_group")
    autocomplete_fields = ("harvest_substitute",)  # Security.clean refuses a substantially identical one

    def get_urls(self):
        from django.urls import path

        from rebalancing.admin_import import import_view

        # One upload page for every kind of file (securities, prices, weights, accounts, lots, trades).
        return [path("import/", self.admin_site.admin_view(import_view), name="rebalancing_import")] + super().get_urls()


@admin.register(Price)
class PriceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("security", "date", "close")
    list_filter = ("date",)
    search_fields = ("security__symbol",)
    autocomplete_fields = ("security",)
    date_hierarchy = "date"


class BenchmarkWeightInline(admin.TabularInline):
    model = BenchmarkWeight
    extra = 0
    autocomplete_fields = ("security",)
    ordering = ("-date", "-weight")
    max_num = 0  # weights arrive by import; hundreds of rows are not edited by hand
    readonly_fields = ("date", "security", "weight")


@admin.register(Benchmark)
class BenchmarkAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")
    inlines = [BenchmarkWeightInline]


class _PublishedReadOnly:
    """A published model version (its sleeves and their holdings) is frozen: proposals keep the version
    they used, and a new version is made on the model's page (/models/<id>/), where the weights are
    checked. The admin may show these records, never add, change or delete them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SleeveHoldingInline(_PublishedReadOnly, admin.TabularInline):
    model = SleeveHolding
    extra = 0
    fields = ("security", "weight")


@admin.register(Sleeve)
class SleeveAdmin(_PublishedReadOnly, admin.ModelAdmin):
    list_display = ("version", "asset_class", "weight", "kind", "benchmark", "submodel")
    inlines = [SleeveHoldingInline]


class SleeveInline(_PublishedReadOnly, admin.TabularInline):
    model = Sleeve
    extra = 0
    show_change_link = True
    fields = ("asset_class", "weight", "kind", "benchmark", "submodel")


@admin.register(ModelVersion)
class ModelVersionAdmin(_PublishedReadOnly, admin.ModelAdmin):
    list_display = ("model", "number", "created_at", "created_by", "note")
    list_filter = ("model",)
    inlines = [SleeveInline]


@admin.register(ModelPortfolio)
class ModelPortfolioAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "latest_version", "accounts_count")
    search_fields = ("name", "code")

    @admin.display(description="Latest version")
    def latest_version(self, obj):
        version = obj.current_version
        return f"v{version.number}" if version else "none yet"

    @admin.display(description="Accounts")
    def accounts_count(self, obj):
        return obj.accounts.count()


class ParameterTemplateForm(forms.ModelForm):
    class Meta:
        model = ParameterTemplate
        fields = ["code", "name", "description", "parameters", "overridable"]

    def clean_parameters(self):
        value = self.cleaned_data["parameters"] or {}
        try:
            engine.Parameters.from_dict(value)
            # The pages' and the API's checks too (template_save): every security it names is the firm's
            return parameter_symbols_checked(value, field="parameters", level="Template parameters",
                                             before=self.instance.parameters if self.instance.pk else None)
        except engine.InvalidRequest as exc:
            raise forms.ValidationError(exc.message) from None
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_overridable(self):
        value = self.cleaned_data["overridable"] or {}
        if not isinstance(value, dict) or any(not isinstance(v, dict) for v in value.values()):
            raise forms.ValidationError('Give each overridable setting its limits, e.g. {"cash.target": {"max": 0.05}}.')
        problems = override_limits_problems(value)  # the same limits template_save refuses (a minimum above its maximum...)
        if problems:
            raise forms.ValidationError("; ".join(problems))
        return value

    def clean(self):
        cleaned = super().clean()
        if "parameters" in cleaned and "overridable" in cleaned:
            try:  # settings no account could meet (template_save refuses them too)
                template_settings_refuse(parameters=cleaned["parameters"], overridable=cleaned["overridable"],
                                         household_parameters=self.instance.household_parameters or {})
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from None
        return cleaned


class _SettingsSupersedeMixin:
    """A change here of what accounts are solved under (the fields in ``settings``) supersedes their
    open proposals, as the same change through the services does (``settings_changed_supersede``):
    they were solved under settings the accounts no longer have. Each admin names the accounts
    (``accounts_under``) and why (``because``); the admin saves a change in one transaction."""

    settings: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        attnames = [obj._meta.get_field(name).attname for name in self.settings]
        # As stored, not as the form's changed_data says: "vti" typed for a stored "VTI" changes nothing.
        before = type(obj).objects.filter(pk=obj.pk).values(*attnames).first() if change else None
        super().save_model(request, obj, form, change)
        changed = [name for name, attname in zip(self.settings, attnames, strict=True)
                   if before is not None and before[attname] != getattr(obj, attname)]
        if changed:
            settings_changed_supersede(dict.fromkeys(self.accounts_under(obj), self.because(obj, changed)))


@admin.register(ParameterTemplate)
class ParameterTemplateAdmin(_SettingsSupersedeMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = ParameterTemplateForm
    list_display = ("name", "code", "updated_at", "accounts_using")
    search_fields = ("name", "code")
    settings = ("parameters", "household_parameters")

    def accounts_under(self, obj):
        return Account.objects.governed_by(obj).values_list("pk", flat=True)

    def because(self, obj, changed):
        return f"the account's template “{obj.name}” changed its settings"  # template_save's words

    @admin.display(description="Accounts using it")
    def accounts_using(self, obj):
        return Account.objects.governed_by(obj).count()


class _OverridesForm(forms.ModelForm):
    level = "account"

    def clean_overrides(self):
        overrides = self.cleaned_data["overrides"] or {}
        template = self.cleaned_data.get("template")
        if self.level == "account":
            template = self.instance.governing_template_if(template)
        try:
            overrides_validate(overrides=overrides, template=template, level=self.level)
            return parameter_symbols_checked(overrides, field="overrides", level=f"The {self.level}'s overrides",
                                             before=self.instance.overrides if self.instance.pk else None)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None


class HouseholdForm(_OverridesForm):
    level = "household"

    class Meta:
        model = Household
        fields = ["name", "external_id", "template", "overrides", "managed_as", "model", "household_overrides"]


class AccountForm(_OverridesForm):
    class Meta:
        model = Account
        fields = [
            "custodian_number", "name", "household", "model", "template", "overrides", "tax_status", "asset_classes",
            "discretionary",
            "short_term_rate", "long_term_rate", "cash", "realised_short_term_ytd", "realised_long_term_ytd",
            "opened_on",
        ]

    def clean_opened_on(self):
        # The accounts file's rule (``ledger.account_opening``): not after a trade or fill already booked.
        opened_on = self.cleaned_data.get("opened_on")
        if opened_on is not None and self.instance.pk:
            first = first_trade_days([self.instance.pk]).get(self.instance.pk)
            if problem := opened_after_trades_problem(account=self.instance.custodian_number, opened_on=opened_on,
                                                      first_trade=first):
                raise forms.ValidationError(problem)
        return opened_on


_HOUSEHOLD_SETTING_WORDS = {"household_overrides": "household settings (tax budget, asset location)"}


@admin.register(Household)
class HouseholdAdmin(_SettingsSupersedeMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = HouseholdForm
    # household_overrides: a household managed as one is solved under them (its tax budget, asset
    # location), as the household page's change says (``household_settings_set``).
    settings = ("template", "overrides", "managed_as", "model", "household_overrides")

    def accounts_under(self, obj):
        return obj.accounts.values_list("pk", flat=True)

    def because(self, obj, changed):
        if not obj.is_unit and "managed_as" not in changed:
            # Account by account, the household's own settings apply to no proposal (household_settings_set).
            changed = [name for name in changed if name != "household_overrides"]
        if not changed:
            return ""  # settings_changed_supersede supersedes nothing for an empty reason
        words = [_HOUSEHOLD_SETTING_WORDS.get(name, name) for name in changed]
        return f"household {obj.name}'s {' and '.join(words)} changed (in the admin site)"

    # Advisors are object permissions (django-guardian), given on the household page
    # (services.households.household_advisors_set), not a field here.
    list_display = ("name", "external_id", "managed_as", "template")
    list_filter = ("template", "managed_as")
    search_fields = ("name", "external_id")


class TaxLotInline(admin.TabularInline):
    model = TaxLot
    extra = 0
    fields = ("lot_id", "security", "quantity", "cost_basis", "acquired")
    readonly_fields = fields
    can_delete = False


@admin.register(Account)
class AccountAdmin(_SettingsSupersedeMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = AccountForm
    settings = ("household", "model", "template", "overrides", "tax_status", "discretionary", "asset_classes")
    list_display = ("custodian_number", "name", "household", "model", "effective_template", "tax_status", "cash")
    list_filter = ("model", "template", "tax_status", "discretionary")
    search_fields = ("custodian_number", "name", "household__name")
    readonly_fields = ("effective_parameters",)
    inlines = [TaxLotInline]

    def get_queryset(self, request):
        return super().get_queryset(request).with_governing_template().select_related("model")

    def accounts_under(self, obj):
        return [obj.pk]

    def because(self, obj, changed):
        return f"account {obj.custodian_number}'s {' and '.join(changed)} changed (in the admin site)"

    @admin.display(description="Template")
    def effective_template(self, obj):
        template = obj.governing_template
        return template.name if template else "none"

    @admin.display(description="Effective parameters (value, and where it comes from)")
    def effective_parameters(self, obj):
        if not obj.pk:
            return "Saved accounts show their effective parameters here."
        rows = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            ((path, json.dumps(value), source) for path, value, source in account_parameters(obj).leaves()),
        )
        return format_html("<table><tr><th>setting</th><th>value</th><th>from</th></tr>{}</table>", rows)


class RunOutcomeInline(admin.TabularInline):
    model = RunOutcome
    extra = 0
    fields = ("account", "outcome", "code", "message")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(outcome=RunOutcome.Outcome.FAILED)


@admin.register(RebalanceRun)
class RebalanceRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "status", "as_of", "total", "done", "failed", "created_at", "finished_at", "started_by_label")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in RebalanceRun._meta.fields]
    inlines = [RunOutcomeInline]
    actions = ["cancel_runs"]

    def has_add_permission(self, request):
        return False  # runs start through the run service (page, API or command), never as bare rows

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request, queryset):
        for run in queryset:
            try:
                run_cancel(run=run, user=request.user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.WARNING)


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ("pk", "account", "run", "status", "trade_count", "estimated_tax", "turnover", "drift_before", "drift_after")
    list_filter = ("status", "run")
    search_fields = ("account__custodian_number",)
    readonly_fields = [f.name for f in Proposal._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Alert)
class AlertAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("account", "kind", "message", "amount", "created_at", "resolved_at")
    list_filter = ("kind",)
    search_fields = ("account__custodian_number", "message")
