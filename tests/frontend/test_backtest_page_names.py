"""The backtest page reads a backtest's name by the API's rule for text (rebalancing.api.serializers.strict):
a character that cannot be seen is refused with the API's words; before, the page stored it. (A NUL is
refused before any form by config.request_guards.)"""

import html

import pytest
from django_tenants.utils import tenant_context

from rebalancing.api.serializers import BacktestStartSerializer
from rebalancing.models import Backtest

from .test_backtest_pages import FORM

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["Smith\x07 family", "Smith\x1b[31m", "\u202eylimaf htimS", "Smith\u200b family",
                                  "Smith\r\nfamily"])
def test_a_name_the_api_refuses_is_refused_by_the_page_in_the_same_words(firm_a, as_user, name):
    # Given what the API answers for this name
    with tenant_context(firm_a):
        body = BacktestStartSerializer(data={"name": name, "start": "2008-06-30"})
        assert not body.is_valid()
        (api_says,) = body.errors["name"]
    # When the page is sent it (the form's POST, as a browser sends it)
    page = as_user("pm").post("/backtests/", {**FORM, "name": name})
    # Then it says the same beside the name, and nothing is started
    assert f'<span class="error" role="alert">The name {html.escape(api_says)}</span>' in page.content.decode()
    with tenant_context(firm_a):
        assert not Backtest.objects.exists()


def test_a_name_the_api_accepts_is_accepted_by_the_page(firm_a, as_user, django_capture_on_commit_callbacks):
    name = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 family, 2008"  # Persian, with its zero-width non-joiner
    with django_capture_on_commit_callbacks():
        started = as_user("pm").post("/backtests/", {**FORM, "name": name})
    assert started.status_code == 302
    with tenant_context(firm_a):
        assert Backtest.objects.get().name == name
