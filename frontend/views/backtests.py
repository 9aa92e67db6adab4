"""What harvesting would have saved: start a backtest (the prospect view), watch it, read it,
download it. The replay runs in a Celery worker (rebalancing.services.backtests)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from frontend.query import NumbersIn0To9
from rebalancing.api.serializers.strict import unseen_character_problem
from rebalancing.api.visibility import backtests_visible_to, book_wide_visible_to
from rebalancing.backtest.prices import load_sample
from rebalancing.backtest.report import CSV_FIELDS, LABELS, STRATEGIES, report_csv_rows
from rebalancing.exports import csv_download, csv_text
from rebalancing.models import Backtest, Benchmark, ModelPortfolio, ParameterTemplate
from rebalancing.services.backtests import backtest_start
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, is_htmx, paginate, visible_or_404

FINISHED = (Backtest.Status.COMPLETED, Backtest.Status.FAILED)


class BacktestForm(NumbersIn0To9, forms.Form):
    """The prospect's question: this strategy, on this basket, with this money, from then, for so long."""

    name = forms.CharField(max_length=200, required=False)
    template = forms.ModelChoiceField(ParameterTemplate.objects.none(), required=False,
                                      empty_label="Engine defaults (harvesting on)")
    basket = forms.ChoiceField(choices=Backtest.Basket.choices, initial=Backtest.Basket.SAMPLE)
    model = forms.ModelChoiceField(ModelPortfolio.objects.none(), required=False)
    benchmark = forms.ModelChoiceField(Benchmark.objects.none(), required=False)
    prices = forms.ChoiceField(choices=Backtest.Prices.choices, initial=Backtest.Prices.SAMPLE)
    amount = forms.DecimalField(min_value=Decimal("1000"), max_value=Backtest.AMOUNT_MAX, decimal_places=2,
                                initial=Decimal("1000000"))
    start = forms.DateField(initial=date(2007, 12, 31), help_text="The basket is bought at this day's close")
    years = forms.IntegerField(min_value=1, max_value=40, initial=10)
    cohorts = forms.IntegerField(min_value=1, max_value=30, initial=1,
                                 help_text="Start again every year after the first: more start dates, steadier figures")
    short_term_rate = forms.DecimalField(min_value=0, max_value=100, decimal_places=2, initial=Decimal("40.8"))
    long_term_rate = forms.DecimalField(min_value=0, max_value=100, decimal_places=2, initial=Decimal("23.8"))
    losses = forms.ChoiceField(choices=Backtest.Losses.choices, initial=Backtest.Losses.OFFSET)

    # Each bound said with the field's name (a message may be read away from its field: a screen reader, the API).
    NAMED = {"amount": "The amount invested", "years": "The horizon (years)", "cohorts": "The number of start dates",
             "short_term_rate": "The short-term rate (in percent)",
             "long_term_rate": "The long-term rate (in percent)"}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, words in self.NAMED.items():
            field = self.fields[name]
            # The bounds written as a reader reads them: 100,000,000,000, not 100000000000.
            self.fields[name].error_messages.update({
                "min_value": f"{words} must be at least {field.min_value:,}.",
                "max_value": f"{words} must be at most {field.max_value:,}.",
                "invalid": f"{words} must be a number.", "required": f"{words} is required."})
        self.fields["template"].queryset = book_wide_visible_to(user, ParameterTemplate.objects.order_by("name"))
        self.fields["model"].queryset = book_wide_visible_to(user, ModelPortfolio.objects.order_by("name"))
        self.fields["benchmark"].queryset = book_wide_visible_to(user, Benchmark.objects.order_by("code"))

    def clean_name(self):
        # The API's rule for text, with its words (a line break, an escape, a bidi override...), read
        # from the name as sent, as the API reads it: one rule for a backtest's name wherever it is typed.
        if problem := unseen_character_problem(self.data.get(self.add_prefix("name"), "")):
            raise forms.ValidationError(f"The name {problem}")
        return self.cleaned_data["name"]

    def clean(self):
        data = super().clean()
        if data.get("basket") == Backtest.Basket.MODEL and not data.get("model"):
            self.add_error("model", "Choose the model whose holdings to replay.")
        if data.get("basket") == Backtest.Basket.BENCHMARK and not data.get("benchmark"):
            self.add_error("benchmark", "Choose the benchmark whose constituents to replay.")
        return data


def _start(request, form: BacktestForm):
    d = form.cleaned_data
    return backtest_start(
        user=request.user, name=d["name"], template=d["template"], basket=d["basket"], model=d["model"],
        benchmark=d["benchmark"], prices=d["prices"], amount=d["amount"], start=d["start"], years=d["years"],
        cohorts=d["cohorts"], short_term_rate=d["short_term_rate"] / 100, long_term_rate=d["long_term_rate"] / 100,
        losses=d["losses"],
    )


@firm_page(Capability.VIEW_BOOK)
def backtest_list(request):
    form = BacktestForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            backtest = _start(request, form)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            cohorts = f"{backtest.cohorts} cohort{'s' if backtest.cohorts != 1 else ''}"
            messages.success(request, f"Backtest {backtest.pk} queued: {cohorts} of {backtest.years} years.")
            return redirect("backtest_detail", pk=backtest.pk)
    sample = load_sample()
    page = paginate(request, backtests_visible_to(request.user).select_related("created_by", "template")
                    .defer("report"))
    return render(request, "frontend/backtest_list.html", {
        "form": form, "page": page, "sample_first": sample.first, "sample_last": sample.last,
        "sample_symbols": ", ".join(sample.symbols),
    })


def _mid_sentence(label: str) -> str:
    """A choice's label inside the subtitle: its first letter lower case, the rest as written
    (|lower made "S&P 500" "s&p 500")."""
    return label[:1].lower() + label[1:]


def _pct(x) -> float:
    return round(100 * float(x or 0), 3)


def _charts(report: dict, cohort: int) -> dict:
    """Chart specs: value over time (one cohort), tax alpha by year (mean over cohorts)."""
    c = report["cohorts"][cohort]
    values = c.get("values") or {}
    colours = {"engine": "#1f5fbf", "naive": "#c0392b", "buy_and_hold": "#9aa5b4"}
    value_chart = {
        "kind": "line", "unit": "", "money": True, "labels": values.get("dates", []),
        "series": [{"label": LABELS[s], "data": values.get(s, []), "color": colours[s]} for s in STRATEGIES
                   if s in values],
    }
    years = report["by_year"]
    alpha_chart = {
        "kind": "bar", "unit": "%", "labels": [str(y["year"]) for y in years],
        "series": [{"label": LABELS[s], "data": [_pct(y.get(s, {}).get("tax_alpha")) for y in years],
                    "color": colours[s]} for s in ("engine", "naive")],
    }
    return {"value": value_chart, "alpha": alpha_chart}


def _saved(report: dict) -> dict:
    """Headline for a prospect: tax saved and after-tax value against buy-and-hold, mean per cohort."""
    cohorts = report["cohorts"]
    saved = [c["whole"]["buy_and_hold"]["tax"] - c["whole"]["engine"]["tax"] for c in cohorts]
    after = [c["whole"]["engine"]["after_tax_value"] - c["whole"]["buy_and_hold"]["after_tax_value"] for c in cohorts]
    return {"tax_saved": sum(saved) / len(saved), "after_tax_gain": sum(after) / len(after)}


@firm_page(Capability.VIEW_BOOK)
def backtest_detail(request, pk: int):
    backtest = visible_or_404(backtests_visible_to(request.user).select_related("created_by", "template", "model",
                                                                              "benchmark"), pk=pk)
    finished = backtest.status in FINISHED
    context = {"backtest": backtest, "finished": finished, "percent": round(backtest.progress * 100),
               "prices_words": _mid_sentence(backtest.get_prices_display()),
               "losses_words": _mid_sentence(backtest.get_losses_display())}
    if is_htmx(request) and not finished:
        return render(request, "frontend/partials/backtest_progress.html", context)
    report = backtest.report if backtest.status == Backtest.Status.COMPLETED else None
    if request.GET.get("download") == "csv" and not report:  # a link kept from before, or typed
        messages.error(request, f"Backtest {backtest.pk} failed ({backtest.error}): it has no figures to download."
                       if backtest.status == Backtest.Status.FAILED else
                       f"Backtest {backtest.pk} is {backtest.status}: its CSV comes when it completes.")
        return redirect("backtest_detail", pk=backtest.pk)
    if report and request.GET.get("download") == "csv":
        rows = list(report_csv_rows(report))
        stamp = timezone.localdate().strftime("%Y%m%d")
        return csv_download(user=request.user, text=csv_text(CSV_FIELDS, rows[1:]),
                            filename=f"backtest-{backtest.pk}-{stamp}.csv", what="backtest",
                            filters={"backtest": backtest.pk})
    if is_htmx(request):  # finished while polled: the whole page, with the results
        response = render(request, "frontend/partials/backtest_progress.html", context)
        response["HX-Refresh"] = "true"
        return response
    if report:
        try:
            cohort = min(max(int(request.GET.get("cohort", 0)), 0), len(report["cohorts"]) - 1)
        except ValueError:
            cohort = 0
        groups = [(name, g, [(s, LABELS[s], g[s]) for s in STRATEGIES]) for name, g in report["groups"].items()]
        charts = _charts(report, cohort)
        series = charts["value"]["series"]
        value_rows = [(d, [s["data"][k] for s in series]) for k, d in enumerate(charts["value"]["labels"])]
        context.update({
            "report": report, "groups": groups, "charts": charts, "cohort": cohort, "value_rows": value_rows,
            "cohort_start": report["cohorts"][cohort]["start"], "saved": _saved(report),
            "years": report["by_year"], "labels": LABELS,
        })
    return render(request, "frontend/backtest_detail.html", context)
