from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from rebalancing import engine
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import Price

from .book import AS_OF, make_account, make_book

pytestmark = pytest.mark.django_db


def test_an_account_becomes_a_complete_engine_request(firm_a):
    with tenant_context(firm_a):
        book = make_book(1)
        [inputs] = rebalance_inputs_load([book["accounts"][0].pk], as_of=AS_OF)

    request = inputs.request
    assert inputs.error is None
    assert request.account.id == "T-000" and request.account.cash == 1000.0
    assert {lot.symbol for lot in request.account.lots} == {"VTI", "BND"}
    assert {(s.asset_class, round(s.weight, 6)) for s in request.model.sleeves} == {
        ("us_equity", 0.6), ("bonds", 0.3), ("real_estate", 0.1)
    }
    prices = {s.symbol: s.price for s in request.securities}
    assert prices["VTI"] == 100.0 and prices["VNQ"] == 90.0  # the latest close on or before the date
    # VTI and ITOT share an equivalence group: both are in the universe and grouped for wash sales.
    assert ("ITOT", "VTI") in request.parameters.wash_sale.equivalent_groups
    assert len(inputs.fingerprint) == 64
    engine.rebalance(request)  # the request is one the engine accepts


def test_loading_takes_the_same_queries_for_2_or_12_accounts(firm_a):
    with tenant_context(firm_a):
        book = make_book(12)
        ids = [a.pk for a in book["accounts"]]
        with CaptureQueriesContext(connection) as few:
            rebalance_inputs_load(ids[:2], as_of=AS_OF)
        with CaptureQueriesContext(connection) as many:
            rebalance_inputs_load(ids, as_of=AS_OF)
    # incl. SET search_path; the household's carried losses, its open orders and proposals, the firm's risk model
    assert len(few.captured_queries) == len(many.captured_queries) <= 26


def test_a_held_security_without_a_price_fails_that_account_only(firm_a):
    with tenant_context(firm_a):
        book = make_book(1)
        Price.objects.filter(security__symbol="SCHB").delete()
        stale = make_account("T-NOPRICE", model=book["model"], holdings=[("SCHB", 10, 200, date(2024, 1, 2))])
        results = {i.account_id: i for i in rebalance_inputs_load([book["accounts"][0].pk, stale.pk], as_of=AS_OF)}

    assert results[book["accounts"][0].pk].error is None
    error = results[stale.pk].error
    assert error.code == "missing_price" and "no price for SCHB" in error.message


def test_same_inputs_give_the_same_fingerprint_and_a_change_another(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        first = rebalance_inputs_load([account.pk], as_of=AS_OF)[0].fingerprint
        again = rebalance_inputs_load([account.pk], as_of=AS_OF)[0].fingerprint
        account.cash = 5000
        account.save()
        changed = rebalance_inputs_load([account.pk], as_of=AS_OF)[0].fingerprint
    assert first == again != changed
