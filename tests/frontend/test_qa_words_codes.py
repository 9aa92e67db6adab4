"""QA round (demo): codes are not shown to people - the security master names asset classes, tags and
wash-sale groups in words, the run page a failure's error in words, and shared labels write TIPS,
US, MSCI... as people write them."""

import html
import re
from datetime import date
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from frontend.templatetags.formatting import humanize_code
from rebalancing.models import Price, RunOutcome, Security

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_the_security_master_names_asset_classes_tags_and_wash_sale_groups_in_words(firm_a, book, as_user):
    # given securities with the demo's codes
    with tenant_context(firm_a):
        for symbol, asset_class, group in (("VOO", "us_large_cap", "sp500"), ("SCHP", "tips", "bbg_us_tips"),
                                           ("DBC", "commodities", "dbiq_optimum_yield_diversified"),
                                           ("VEA", "intl_developed", "ftse_developed_all_cap_ex_us")):
            s = Security.objects.create(symbol=symbol, name=f"{symbol} fund", asset_class=asset_class, is_fund=True,
                                        equivalence_group=group, tags=["fossil_fuels"] if symbol == "DBC" else [])
            Price.objects.create(security=s, date=date(2026, 1, 2), close=Decimal("10"))
    # when anyone with the book opens the security master
    page = text(as_user("advisor").get("/securities/"))
    # then the table and the asset-class filter say the words, the code kept only as a tooltip
    for code, words in (("us_large_cap", "US large cap"), ("tips", "TIPS"), ("intl_developed", "International developed")):
        assert f'<option value="{code}" >{words}</option>' in page, words
        assert f'<td title="Code: {code}">{words}</td>' in page, words
    for code, words in (("sp500", "S&P 500"), ("bbg_us_tips", "Bloomberg US TIPS"),
                        ("dbiq_optimum_yield_diversified", "DBIQ optimum yield diversified"),
                        ("ftse_developed_all_cap_ex_us", "FTSE developed all cap ex US")):
        assert f'<span title="Code: {code}">{words}</span>' in page, words
    assert "<td>Fossil fuels</td>" in page
    assert ">us_large_cap<" not in page and ">dbiq_optimum_yield_diversified<" not in page
    assert ">fossil_fuels<" not in page and "fossil_fuels</td>" not in page


def test_the_shared_label_writes_known_acronyms_and_keeps_other_codes_as_before():
    assert humanize_code("tips") == "TIPS" and humanize_code("us_large_cap") == "US large cap"
    assert humanize_code("msci_eafe_imi") == "MSCI EAFE IMI" and humanize_code("intl_developed") == "International developed"
    assert humanize_code("tax_optimal") == "Tax optimal" and humanize_code("us_equity") == "US equity"
    assert humanize_code("real_estate") == "Real estate" and humanize_code("pending") == "Pending"


def test_a_failed_accounts_error_is_said_in_words_with_its_code_as_a_tooltip(firm_a, book, as_user):
    # given a run that failed one account for want of a price
    run, account = book["run"], book["mine"][0]
    with tenant_context(firm_a):
        RunOutcome.objects.update_or_create(run=run, account=account, defaults={
            "outcome": RunOutcome.Outcome.FAILED, "code": "missing_price",
            "message": "no price for ZZTEST on or before the run's date"})
    # when the run's page is opened
    page = text(as_user("pm").get(f"/runs/{run.pk}/"))
    # then the error column says it in words, the code only in its tooltip, and the message beside it
    assert '<td title="Error code: missing_price">Missing price</td>' in page
    assert "<code>missing_price</code>" not in page and ">missing_price<" not in page
    assert "no price for ZZTEST on or before the run's date" in page


def test_the_template_list_names_removed_asset_classes_in_words(firm_a, book, as_user):
    template = book["template"]
    with tenant_context(firm_a):
        template.parameters = {**template.parameters, "removed_asset_classes": ["us_large_cap", "tips"]}
        template.save()
    page = text(as_user("admin").get("/templates/"))
    assert "Removes US large cap, TIPS" in page and "us large cap" not in page
