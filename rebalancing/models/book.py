from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import models
from django.db.models import Case, Func, Q, Value, When
from django.db.models.functions import Cast, Coalesce, Upper
from guardian.models import UserObjectPermissionBase

from rebalancing.ledger.filing_years import PastStatuses, status_in

from .market import Security
from .portfolios import ModelPortfolio
from .templates import ParameterTemplate


class Household(models.Model):
    """Accounts of one family: wash sales are matched across all of them (IRS Pub. 550; Rev. Rul.
    2008-5), a spouse's purchase included even when the spouses file separately. Schedule D is
    figured per return and year: the household's one return (a married couple filing jointly is one
    taxpayer), or, married filing separately, one per spouse over the accounts each owns
    (``Account.spouse``; IRC §1211(b), §1212(b))."""

    class FilingStatus(models.TextChoices):
        SINGLE = "single", "Single"
        JOINT = "married_joint", "Married filing jointly"
        SEPARATE = "married_separate", "Married filing separately"
        HEAD = "head_of_household", "Head of household"

    class ManagedAs(models.TextChoices):
        ACCOUNTS = "accounts", "Account by account"
        HOUSEHOLD = "household", "As one household"

    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=64, unique=True)
    template = models.ForeignKey(ParameterTemplate, null=True, blank=True, on_delete=models.PROTECT)
    overrides = models.JSONField(default=dict, blank=True, help_text="Overrides of its accounts' parameters")
    managed_as = models.CharField(
        max_length=16, choices=ManagedAs.choices, default=ManagedAs.ACCOUNTS,
        help_text="As one household: one model for the combined value, its sleeves held across the accounts",
    )
    model = models.ForeignKey(
        ModelPortfolio, null=True, blank=True, on_delete=models.PROTECT, related_name="households",
        help_text="The household's one model (managed as one household)",
    )
    household_overrides = models.JSONField(
        default=dict, blank=True, help_text="Household settings over its template's: tax budget, asset location",
    )
    filing_status = models.CharField(
        max_length=20, choices=FilingStatus.choices, default=FilingStatus.JOINT,
        help_text="Sets the yearly limit on net capital losses against ordinary income (IRC §1211(b)); married "
                  "filing separately, each spouse files their own Schedule D",
    )
    carryforward_year = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The year the opening capital loss carryover below is carried into",
    )
    carryforward_short_term = models.DecimalField(
        max_digits=18, decimal_places=2, default=0,
        help_text="Short-term capital loss carried into that year (filing separately: the first spouse's)",
    )
    carryforward_long_term = models.DecimalField(
        max_digits=18, decimal_places=2, default=0,
        help_text="Long-term capital loss carried into that year (filing separately: the first spouse's)",
    )
    # A separate return's carryover stays with its spouse (Pub. 550 "Capital Losses"): the second
    # spouse's own, into the same year. Read only when the household files separately.
    carryforward_second_short_term = models.DecimalField(
        max_digits=18, decimal_places=2, default=0, db_default=0,
        help_text="Filing separately: the second spouse's short-term capital loss carried into that year",
    )
    carryforward_second_long_term = models.DecimalField(
        max_digits=18, decimal_places=2, default=0, db_default=0,
        help_text="Filing separately: the second spouse's long-term capital loss carried into that year",
    )

    # A single or head-of-household year after a married couple's: whose return it is (a divorce, a
    # death). Only that spouse's part of the loss carryover continues (ledger.filing_years).
    sole_filer = models.CharField(
        max_length=8, choices=[("first", "First spouse"), ("second", "Second spouse")], default="first",
        db_default="first",
        help_text="Filing single or as head of household after years filed as a married couple (a divorce, a "
                  "spouse's death): whose return it is. The other spouse's capital loss carryover does not continue "
                  "on it",
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(sole_filer__in=["first", "second"]), name="household_sole_filer_valid"),
            models.CheckConstraint(condition=Q(carryforward_short_term__gte=0, carryforward_long_term__gte=0),
                                   name="household_carryforward_not_negative"),
            models.CheckConstraint(condition=Q(carryforward_second_short_term__gte=0,
                                               carryforward_second_long_term__gte=0),
                                   name="household_second_carryforward_not_negative"),
            models.CheckConstraint(condition=~Q(managed_as="household") | Q(model__isnull=False),
                                   name="household_unit_has_model"),
            # Ids equal but for capitals are one id to a person reading a report or a file
            # (services.households.household_ids_clashing says which, before a write gets here).
            models.UniqueConstraint(Upper("external_id"), name="household_external_id_unique_ignoring_case",
                                    violation_error_message="A household id equal to another but for capitals is "
                                                            "refused: household ids are told apart ignoring capitals."),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def advisors(self) -> list:
        """The advisors looking after the household: users holding its ``view_household`` object
        permission (django-guardian, the one source). Prefetch with ``access.with_advisors``."""
        users = {g.user for g in self.advisor_grants.all() if g.permission.codename == "view_household"}
        return sorted(users, key=lambda u: u.get_username())

    @property
    def advisor_names(self) -> str:
        return ", ".join(u.get_full_name() or u.get_username() for u in self.advisors)

    @property
    def files_separately(self) -> bool:
        """Married filing separately now: two returns, one per spouse (the one home of the rule)."""
        return self.filing_status == self.FilingStatus.SEPARATE

    @property
    def past_statuses(self) -> PastStatuses:
        """The statuses of the years before the current one took over, each with the last year it
        covered, ascending (``PastFilingStatus``; prefetch ``past_filing_statuses`` for a list)."""
        if self.pk is None:
            return ()
        return tuple(sorted((p.last_year, p.filing_status) for p in self.past_filing_statuses.all()))

    @property
    def taxable_income_by_return(self) -> dict[tuple[int, str], Decimal]:
        """(year, return key: "" or "first"/"second") -> the return's taxable income of that year
        (``ReturnTaxableIncome``; prefetch ``taxable_incomes`` for a list)."""
        if self.pk is None:
            return {}
        return {(t.year, t.spouse): t.amount for t in self.taxable_incomes.all()}

    def filing_status_in(self, year: int) -> str:
        """The status its return(s) of ``year`` are filed under (``ledger.filing_years``)."""
        return status_in(year, self.filing_status, self.past_statuses)

    def files_separately_in(self, year: int) -> bool:
        return self.filing_status_in(year) == self.FilingStatus.SEPARATE

    @property
    def filing_history(self) -> list[tuple[int | None, int | None, str]]:
        """Each period of one status, oldest first: (first year or None, last year or None, status)."""
        out, first = [], None
        for last_year, status in self.past_statuses:
            out.append((first, last_year, status))
            first = last_year + 1
        return [*out, (first, None, self.filing_status)]

    @property
    def filing_history_text(self) -> str:
        """"Married filing jointly through 2025; Married filing separately from 2026"."""
        def period(first: int | None, last: int | None, status: str) -> str:
            label = self.FilingStatus(status).label
            if first is None:
                return label if last is None else f"{label} through {last}"
            return f"{label} from {first}" if last is None else f"{label} {first}-{last}"
        return "; ".join(period(*p) for p in self.filing_history)

    @property
    def returns(self) -> tuple[str, ...]:
        """The returns its Schedule D is figured on: ``("first", "second")`` (a spouse's each) when
        filing separately, else ``("",)``, the household's one."""
        return (Account.Spouse.FIRST, Account.Spouse.SECOND) if self.files_separately else ("",)

    def opening_carryover(self, spouse: str = "") -> tuple[Decimal, Decimal]:
        """The (short-term, long-term) loss carried into ``carryforward_year``: the household's, or a
        spouse's part into a married couple's year, joint or separate (the first spouse's are the
        household's fields). A joint return carries in both parts together, and each stays its
        spouse's when they later file apart (Treas. Reg. §1.1212-1(c)(1)(iii), ``ledger.filing_years``)."""
        if spouse == Account.Spouse.SECOND:
            return self.carryforward_second_short_term, self.carryforward_second_long_term
        return self.carryforward_short_term, self.carryforward_long_term

    @property
    def is_unit(self) -> bool:
        """Managed as one household (one model across its accounts, ``engine.rebalance_household``)."""
        return self.managed_as == self.ManagedAs.HOUSEHOLD


class PastFilingStatus(models.Model):
    """A status the household filed under before its current one: every year up to ``last_year``
    back to the previous period's (``ledger.filing_years``). Written only by
    ``services.tax_returns`` when the status changes from a year on."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="past_filing_statuses")
    last_year = models.PositiveSmallIntegerField()
    filing_status = models.CharField(max_length=20, choices=Household.FilingStatus.choices)

    class Meta:
        ordering = ["household", "last_year"]
        constraints = [models.UniqueConstraint(fields=["household", "last_year"], name="past_filing_status_once")]

    def __str__(self) -> str:
        return f"{self.household} {self.get_filing_status_display()} through {self.last_year}"


class HouseholdUserObjectPermission(UserObjectPermissionBase):
    """An advisor's households (django-guardian, direct foreign key: a join, not a generic lookup)."""

    content_object = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="advisor_grants")


# Which template governs an account - its own, else its household's - as the paths it is read by:
# the one home of the rule for the queries below and ``Account.governing_template_if``.
_OWN_TEMPLATE, _HOUSEHOLD_TEMPLATE = _GOVERNING = ("template", "household__template")


class AccountQuerySet(models.QuerySet):
    def managed(self) -> AccountQuerySet:
        """Accounts a run can rebalance: with a model of their own, or in a household managed as one."""
        return self.filter(Q(household__managed_as=Household.ManagedAs.HOUSEHOLD) | Q(model__isnull=False))

    def managed_to(self, code: str) -> AccountQuerySet:
        """Accounts managed to the model ``code``: their own, or their household's when it is one unit
        (the one home of the rule, with ``Account.managed_model_id``)."""
        unit = Household.ManagedAs.HOUSEHOLD
        return self.filter(Q(household__managed_as=unit, household__model__code=code)
                           | ~Q(household__managed_as=unit) & Q(model__code=code))

    def realised_add(self, gains, *, year: int) -> None:
        """Add each ``(account id, tax year) -> {"short": ..., "long": ...}`` of ``gains`` (realised
        by sales the ledger books or corrects) to the accounts' figures, oldest year first: a year
        before ``year`` (the book's day) by ``Account.realised_past_added``; ``year`` and any later
        one by ``Account.realised_ytd_added`` (whose first gain of a new year keeps the year before's
        figures). A later year's gains come from a sale the book already holds whose wash-sale
        result an earlier purchase, read now, corrects (a December buy read after a January loss)."""
        for (account_id, sold_year), pair in sorted(gains.items(), key=lambda item: item[0][1]):
            if pair["short"] or pair["long"]:
                how = Account.realised_ytd_added if sold_year >= year else Account.realised_past_added
                self.filter(pk=account_id).update(**how(sold_year, pair["short"], pair["long"]))

    def with_governing_template(self, *, batch: bool = False) -> AccountQuerySet:
        """Loads what ``Account.governing_template`` reads (its template and its household's), in
        the same query; ``batch``: the households joined and the templates fetched once in a query
        of their own (a chunk's thousand accounts share a few templates, whose parameters' JSON a
        join would carry and parse again on every row)."""
        if batch:
            return self.select_related("household").prefetch_related(*_GOVERNING)
        return self.select_related(*_GOVERNING)

    def following_household_template(self) -> AccountQuerySet:
        """Accounts with no template of their own: their household's governs them (the one home of
        the rule, with ``governed_by`` and ``Account.governing_template``)."""
        return self.filter(**{f"{_OWN_TEMPLATE}__isnull": True})

    def governed_by(self, template) -> AccountQuerySet:
        """Accounts whose parameters ``template`` governs (a template, its id or its code): their
        own template, or their household's when they have none. The one home of the rule, with
        ``Account.governing_template``."""
        field, value = ("code", template) if isinstance(template, str) else ("id", getattr(template, "pk", template))
        return self.filter(Q(**{f"{_OWN_TEMPLATE}__{field}": value})) | self.following_household_template().filter(
            **{f"{_HOUSEHOLD_TEMPLATE}__{field}": value})


_HOUSEHOLDS = object()  # ``governing_template_if``: the household's template as it is


class Account(models.Model):
    """A custodial account managed to a model under its effective parameters."""

    custodian_number = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="accounts")
    model = models.ForeignKey(ModelPortfolio, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts")
    template = models.ForeignKey(
        ParameterTemplate, null=True, blank=True, on_delete=models.PROTECT,
        help_text="Overrides the household's template when set",
    )
    class TaxStatus(models.TextChoices):
        TAXABLE = "taxable", "Taxable"
        TRADITIONAL = "traditional", "Traditional IRA (tax-deferred)"
        ROTH = "roth", "Roth IRA"

    class Spouse(models.TextChoices):
        """Whose the account is when its household files separately (each spouse's return nets only
        their own sales, IRC §1211(b)); ignored for the other filing statuses."""

        FIRST = "first", "First spouse"
        SECOND = "second", "Second spouse"
        # Who owns a joint account's results between separate returns is state law; the usual
        # reading, taken here: half each (``ledger.schedule_d.joint_halves``).
        JOINT = "joint", "Joint (half each)"

    overrides = models.JSONField(default=dict, blank=True)
    tax_status = models.CharField(max_length=16, choices=TaxStatus.choices, default=TaxStatus.TAXABLE)
    # Follows the tax status (one source): wash sales, carryovers and reports filter on it.
    taxable = models.GeneratedField(
        expression=Case(When(tax_status="taxable", then=Value(True)), default=Value(False)),
        output_field=models.BooleanField(), db_persist=True,
    )
    spouse = models.CharField(
        max_length=8, choices=Spouse.choices, default=Spouse.FIRST, db_default=Spouse.FIRST,
        help_text="Whose return its gains and losses go on when the household files separately: the first "
                  "spouse's, the second's, or half each (joint; taxable accounts only)")
    asset_classes = models.JSONField(
        default=list, blank=True,
        help_text="Asset classes the account may hold when its household is managed as one (empty: any)",
    )
    discretionary = models.BooleanField(default=True)
    short_term_rate = models.DecimalField(max_digits=5, decimal_places=4, default=0.37)
    long_term_rate = models.DecimalField(max_digits=5, decimal_places=4, default=0.20)
    cash = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    realised_short_term_ytd = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    realised_long_term_ytd = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    # The tax year the two figures above are for: a year's realised gains are not the next year's,
    # so from 1 January they count as nothing until a fill or a file of the new year writes them.
    realised_ytd_year = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="The tax year of the realised year-to-date gains (empty: taken as the current year's)")
    # {"2026": ["-1013.00", "6609.00"]}: an earlier year's realised figures (short-term, long-term) as
    # they stood when a later year's replaced them (a fill or an accounts file of the new year): that
    # year's Schedule D, and the loss it carries on, still net what was realised before the ledger.
    realised_past_years = models.JSONField(default=dict, db_default=Value({}, models.JSONField()), blank=True)
    opened_on = models.DateField(null=True, blank=True)
    # What a traditional IRA's required minimum distribution is computed from (engine/rmd.py).
    owner_name = models.CharField(
        max_length=200, blank=True, default="", db_default="",
        help_text="The IRA's owner: a household's IRAs with the same owner and date of birth share one RMD total")
    owner_birth_date = models.DateField(null=True, blank=True, help_text="The IRA owner's date of birth")
    spouse_birth_date = models.DateField(
        null=True, blank=True, help_text="Only when the owner's spouse is the IRA's sole beneficiary")
    # {"2025": "399000.00"}: the fair market value on 31 December of each year, as the custodian reports
    # it (Form 5498). Kept by year: a first RMD deferred to 1 April needs the year before last's.
    year_end_values = models.JSONField(default=dict, db_default=Value({}, models.JSONField()), blank=True)
    # {"2026": "3052.12"}: the RMD the custodian computed for a year the product cannot compute - the
    # spouse, sole beneficiary, more than 10 years younger (the Joint and Last Survivor Table).
    rmd_amounts = models.JSONField(
        default=dict, db_default=Value({}, models.JSONField()), blank=True,
        help_text="Year -> the RMD the custodian computed, where the Joint and Last Survivor Table applies")

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["custodian_number"]
        constraints = [
            models.CheckConstraint(condition=Q(short_term_rate__gte=0, short_term_rate__lte=1), name="account_st_rate_0_1"),
            models.CheckConstraint(condition=Q(long_term_rate__gte=0, long_term_rate__lte=1), name="account_lt_rate_0_1"),
            models.CheckConstraint(condition=Q(tax_status__in=["taxable", "traditional", "roth"]),
                                   name="account_tax_status_valid"),
            models.CheckConstraint(condition=Q(spouse__in=["first", "second", "joint"]), name="account_spouse_valid"),
            # An IRA or Roth is one person's (IRC §408(a): an individual retirement account).
            models.CheckConstraint(condition=~Q(spouse="joint") | Q(tax_status="taxable"),
                                   name="account_ira_not_joint"),
        ]

    def __str__(self) -> str:
        return f"{self.custodian_number} {self.name}"

    # What the account is, in a sentence ("ACM-000028 is a Roth IRA"): the tax status as a noun.
    TAX_STATUS_NOUNS = {"taxable": "a taxable account", "traditional": "a traditional IRA", "roth": "a Roth IRA"}

    @property
    def tax_status_noun(self) -> str:
        """The tax status as a noun: a taxable account, a traditional IRA or a Roth IRA."""
        return self.TAX_STATUS_NOUNS.get(self.tax_status, self.get_tax_status_display())

    @classmethod
    def spouse_problem(cls, *, spouse: str, tax_status: str) -> str:
        """Why an account of ``tax_status`` cannot be ``spouse``'s ("" when it can): the one home of
        the rule, for the services, the accounts file and the constraints above."""
        if spouse not in cls.Spouse.values:
            return f"whose it is must be first, second or joint, not {spouse!r}"
        if spouse == cls.Spouse.JOINT and tax_status != cls.TaxStatus.TAXABLE:
            return ("an IRA or Roth IRA cannot be joint: an individual retirement account is one person's "
                    "(IRC §408(a)); mark it the first or the second spouse's")
        return ""

    def realised_ytd(self, year: int) -> tuple[Decimal, Decimal]:
        """Short- and long-term gains realised so far in tax year ``year``: nothing when the stored
        figures are another year's (``realised_ytd_year``)."""
        if self.realised_ytd_year is not None and self.realised_ytd_year != year:
            return Decimal(0), Decimal(0)
        return self.realised_short_term_ytd, self.realised_long_term_ytd

    def realised_by_year(self, this_year: int) -> dict[int, tuple[Decimal, Decimal]]:
        """Year -> the short- and long-term gains realised that year, as the account's figures say:
        the current ones (of ``this_year`` when they state no year) and those kept from earlier years."""
        out = {int(y): (Decimal(short), Decimal(long)) for y, (short, long) in (self.realised_past_years or {}).items()}
        out[self.realised_ytd_year or this_year] = (self.realised_short_term_ytd, self.realised_long_term_ytd)
        return out

    @staticmethod
    def realised_past_with(past: dict, year: int, short, long) -> dict:
        """``past`` (``realised_past_years``) keeping ``year``'s figures, replaced by a later year's."""
        return dict(sorted({**(past or {}), str(year): [f"{Decimal(short):.2f}", f"{Decimal(long):.2f}"]}.items()))

    @staticmethod
    def realised_ytd_added(year: int, short, long) -> dict:
        """``update()`` arguments adding gains realised in tax year ``year``: onto the figures when
        they are that year's (or of no stated year), in their place when they are an earlier year's
        (a new year starts afresh), and onto the ones kept of ``year`` (``realised_past_years``) when
        a later year's replaced them (a file as of 31 December read after January's)."""
        same = Q(realised_ytd_year=year) | Q(realised_ytd_year__isnull=True)
        later = Q(realised_ytd_year__gt=year)
        money = models.DecimalField(max_digits=18, decimal_places=2)

        def added(field: str, gain) -> Case:
            gain = Value(Decimal(gain), output_field=money)
            return Case(When(same, then=models.F(field) + gain), When(later, then=models.F(field)), default=gain,
                        output_field=money)

        # An earlier year's figures, replaced, are kept (``realised_past_with``, in SQL).
        kept = Func(models.F("realised_past_years"),
                    Func(Cast("realised_ytd_year", models.TextField()),
                         Func(Cast("realised_short_term_ytd", models.TextField()),
                              Cast("realised_long_term_ytd", models.TextField()), function="jsonb_build_array"),
                         function="jsonb_build_object"),
                    arg_joiner=" || ", template="(%(expressions)s)", output_field=models.JSONField())
        return {
            "realised_past_years": Case(When(realised_ytd_year__lt=year, then=kept),
                                        When(later, then=Account._onto_kept(year, short, long)),
                                        default=models.F("realised_past_years"), output_field=models.JSONField()),
            "realised_short_term_ytd": added("realised_short_term_ytd", short),
            "realised_long_term_ytd": added("realised_long_term_ytd", long),
            "realised_ytd_year": Case(When(later, then=models.F("realised_ytd_year")), default=Value(year),
                                      output_field=models.PositiveSmallIntegerField()),
        }

    @staticmethod
    def realised_past_added(year: int, short, long) -> dict:
        """``update()`` arguments adding gains realised in an earlier tax year than the book's (a fill
        of 31 December booked in January, a correction of last year's sale): onto the figures when
        they are still that year's, onto the ones kept of it (``realised_past_years``) when a later
        year's replaced them, and nowhere when the account has no figures of that year."""
        money = models.DecimalField(max_digits=18, decimal_places=2)

        def added(field: str, gain) -> Case:
            return Case(When(realised_ytd_year=year, then=models.F(field) + Value(Decimal(gain), output_field=money)),
                        default=models.F(field), output_field=money)

        return {"realised_short_term_ytd": added("realised_short_term_ytd", short),
                "realised_long_term_ytd": added("realised_long_term_ytd", long),
                "realised_past_years": Account._onto_kept(year, short, long)}

    @staticmethod
    def _onto_kept(year: int, short, long) -> Func:
        """``realised_past_years`` with gains of ``year`` added onto the figures kept of it, if any
        (none kept: the year's gains are all the ledger's, and its Schedule D reads them there)."""
        y, gains = str(int(year)), [f"{Decimal(gain):f}" for gain in (short, long)]
        return Func(models.F("realised_past_years"), output_field=models.JSONField(), template=(
            f"CASE WHEN %(expressions)s ? '{y}' THEN jsonb_set(%(expressions)s, '{{{y}}}', jsonb_build_array("
            f"(((%(expressions)s -> '{y}' ->> 0)::numeric + {gains[0]})::text), "
            f"(((%(expressions)s -> '{y}' ->> 1)::numeric + {gains[1]})::text))) ELSE %(expressions)s END"))

    def year_end_value(self, year: int) -> Decimal | None:
        """The IRA's value on 31 December of ``year``, if entered."""
        value = (self.year_end_values or {}).get(str(year))
        return None if value is None else Decimal(value)

    def rmd_amount(self, year: int) -> Decimal | None:
        """The RMD of ``year`` as the custodian computed it, if entered (``rmd_amounts``)."""
        value = (self.rmd_amounts or {}).get(str(year))
        return None if value is None else Decimal(value)

    @property
    def managed_model_id(self) -> int | None:
        """The model the account is managed to: its household's when the household is one unit."""
        return self.household.model_id if self.household.is_unit else self.model_id

    @property
    def governing_template(self) -> ParameterTemplate | None:
        """The template whose parameters the account follows: its own, else its household's."""
        return self.governing_template_if(self.template)

    def governing_template_if(self, own: ParameterTemplate | None, *,
                              household_template=_HOUSEHOLDS) -> ParameterTemplate | None:
        """The template that would govern the account with ``own`` as its own template (an
        assignment or a form not saved yet): ``own``, else its household's - or, given, the
        ``household_template`` its household is about to take."""
        if own is not None:
            return own
        if household_template is not _HOUSEHOLDS:
            return household_template
        # (``_HOUSEHOLD_TEMPLATE`` read on the instance.)
        return self.household.template if self.household_id else None

    def governing_template_under(self, household_template: ParameterTemplate | None) -> ParameterTemplate | None:
        """The template that will govern the account once its household takes ``household_template``."""
        return self.governing_template_if(self.template, household_template=household_template)


class TaxLot(models.Model):
    """Shares of one security bought on one date at one cost: the unit of tax accounting.

    Wash sales across the household may have moved ``cost_basis`` (by ``wash_adjustment``) and
    ``acquired`` (the holding period's start; ``purchased`` is the real purchase date), and split
    replacement shares off into ``{lot}-W{n}`` pieces: ``purchase_lot_id`` names the lot they were
    bought as. The ledger rewrites these from the household's history (``ledger.adjustments``).
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="lots")
    lot_id = models.CharField(max_length=64, help_text="The custodian's lot identifier")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    cost_basis = models.DecimalField(max_digits=18, decimal_places=2, help_text="Total cost of the lot")
    acquired = models.DateField()
    purchased = models.DateField(null=True, blank=True, help_text="When bought; empty: on ``acquired``")
    # Database defaults too: the demo seed and imports write lots with COPY, naming their columns.
    purchase_lot_id = models.CharField(max_length=64, blank=True, default="", db_default="",
                                       help_text="The lot these shares were bought as; empty: this one")
    wash_adjustment = models.DecimalField(max_digits=18, decimal_places=2, default=0, db_default=0,
                                          help_text="Basis added by wash sales (IRC §1091(d))")
    unit_cost = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True,
                                    help_text="Cost per share as bought (before wash sales); empty: basis / quantity")
    inherited = models.BooleanField(
        default=False, db_default=False,
        help_text="Acquired from a decedent on ``purchased``: held long-term from the start (IRC §1223(9), "
                  "``acquired`` is where that holding period starts) and never a wash-sale replacement")
    # A gift (IRC §1015(a)): ``acquired`` and the basis are the donor's; below them, the shares'
    # value on the gift day is the basis for a loss (``engine.tax.gift_basis``). Never a wash-sale
    # replacement: not bought (§1091(a)).
    gift_date = models.DateField(null=True, blank=True, help_text="Received as a gift on this day")
    gift_unit_value = models.DecimalField(
        max_digits=30, decimal_places=12, null=True, blank=True,
        help_text="Fair market value per share on the gift day (IRC §1015(a): the basis for a loss when below the "
                  "donor's)")
    # What the run's lots query reads (``engine_inputs._lots_by_account``), kept by PostgreSQL from
    # the columns above (the source of truth): the primary key, security id, quantity and basis as
    # float8 and the acquisition date, each in PostgreSQL's binary format, 36 bytes. Turning five
    # values into their binary form at every read was most of the query's server time (0.62 ms for
    # a direct-indexed account's 2,000 lots, against 0.35 ms reading this); the numeric-to-float8
    # cast is the one a client parsing the decimal's text makes.
    run_record = models.GeneratedField(
        expression=Func(
            Func("id", function="int8send"), Func("security_id", function="int8send"),
            Func(Cast("quantity", models.FloatField()), function="float8send"),
            Func(Cast("cost_basis", models.FloatField()), function="float8send"),
            Func("acquired", function="date_send"),
            template="(%(expressions)s)", arg_joiner=" || ", output_field=models.BinaryField()),
        output_field=models.BinaryField(), db_persist=True)

    class Meta:
        ordering = ["account", "acquired", "id"]
        # The day the shares were bought: a run looks up the lots bought in the wash-sale window
        # (``ledger.holdings.purchases_known_from_lots``) without reading every lot of the chunk.
        indexes = [models.Index(Coalesce("purchased", "acquired"), name="lot_purchase_day"),
                   # The few gifted lots a run prices apart (``engine_inputs._gifts_priced``).
                   models.Index(fields=["account"], condition=Q(gift_date__isnull=False), name="lot_gifted")]
        constraints = [
            models.UniqueConstraint(fields=["account", "lot_id"], name="lot_id_unique_in_account"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="lot_quantity_positive"),
            models.CheckConstraint(condition=Q(cost_basis__gte=0), name="lot_cost_basis_not_negative"),
            models.CheckConstraint(condition=Q(gift_date__isnull=True, gift_unit_value__isnull=True)
                                   | Q(gift_date__isnull=False, gift_unit_value__gte=0, inherited=False),
                                   name="lot_gift_whole"),
        ]

    def __str__(self) -> str:
        return f"{self.lot_id}: {self.quantity} {self.security_id}"

    @property
    def bought_as(self) -> str:
        return self.purchase_lot_id or self.lot_id

    @property
    def bought_on(self):
        return self.purchased or self.acquired

    @property
    def gift_value(self) -> Decimal | None:
        """The lot's fair market value on the gift day, to the cent (None: not a gift)."""
        if self.gift_unit_value is None:
            return None
        return (self.gift_unit_value * self.quantity).quantize(Decimal("0.01"), ROUND_HALF_UP)


class TradeRecord(models.Model):
    """An executed trade in an account; the last 30 days of a household's feed the wash-sale rules."""

    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="trades")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    price = models.DecimalField(max_digits=18, decimal_places=6)
    trade_date = models.DateField(db_index=True)
    realised_gain = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    # A sale whose gains outweigh one lot's loss still sold that lot's shares at a loss, which a
    # purchase in the window washes share by share (Pub. 550): the wash-sale rules read this.
    realised_loss = models.DecimalField(
        max_digits=18, decimal_places=2, null=True, blank=True,
        help_text="The sale's losing lots' losses (0 or negative); empty where its lots are unknown (an imported trade)")
    external_id = models.CharField(max_length=64, blank=True)
    cancelled = models.BooleanField(default=False, db_default=False,
                                    help_text="Cancelled by the custodian (a bust): it does not count")

    class Meta:
        ordering = ["-trade_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(side__in=["buy", "sell"]), name="trade_side_valid"),
            models.UniqueConstraint(
                fields=["account", "external_id"], condition=~Q(external_id=""), name="trade_external_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trade_date} {self.side} {self.quantity} {self.security_id}"


class ReturnTaxableIncome(models.Model):
    """A filed return's taxable income of a year (Form 1040 line 15, negative when deductions exceed
    income): the Capital Loss Carryover Worksheet's line 1, which limits how much of the year's
    capital loss deduction counts against the loss carried on (IRC §1212(b)(2);
    ``ScheduleD.deduction_used``). Optional: a year without it takes the worksheet's test as met.
    ``spouse``: "" for the household's one return, "first"/"second" for a spouse's own in a year
    filed separately. Written only by ``services.tax_returns``."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="taxable_incomes")
    year = models.PositiveSmallIntegerField()
    spouse = models.CharField(max_length=8, blank=True, default="",
                              choices=[("", "The household's return"), ("first", "First spouse's return"),
                                       ("second", "Second spouse's return")])
    amount = models.DecimalField(max_digits=18, decimal_places=2,
                                 help_text="Taxable income of the year's return (Form 1040 line 15); negative when "
                                           "deductions exceed income")

    class Meta:
        ordering = ["household", "year", "spouse"]
        constraints = [
            models.UniqueConstraint(fields=["household", "year", "spouse"], name="return_taxable_income_once"),
            models.CheckConstraint(condition=Q(spouse__in=["", "first", "second"]),
                                   name="return_taxable_income_spouse_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.household} {self.year}{f' {self.spouse}' if self.spouse else ''}: {self.amount}"
