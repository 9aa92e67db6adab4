import hashlib
import json
import pickle
from array import array
from datetime import date

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from rebalancing import engine, engine_inputs
from rebalancing.engine_inputs import _lots_by_account, _oldest_first, rebalance_inputs_load
from rebalancing.models import Account, Price, Security, TaxLot
from rebalancing.selectors import account_parameters

from .book import AS_OF, make_account, make_book, make_model, make_securities, make_template

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


@pytest.mark.parametrize("stored_year, seen", [
    (AS_OF.year, (4000.0, 2500.0)), (None, (4000.0, 2500.0)),
    # last year's gains on 1 January and after: nothing realised yet this year (before: the
    # request carried them, so January's tax estimates and budgets charged last year's gains again)
    (AS_OF.year - 1, (0.0, 0.0)),
])
def test_a_request_carries_the_gains_realised_in_its_own_tax_year_only(firm_a, stored_year, seen):
    from rebalancing.models import Account

    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        Account.objects.filter(pk=account.pk).update(realised_short_term_ytd=4000, realised_long_term_ytd=2500,
                                                     realised_ytd_year=stored_year)
        [inputs] = rebalance_inputs_load([account.pk], as_of=AS_OF)
    assert (inputs.request.account.realised_short_term_ytd, inputs.request.account.realised_long_term_ytd) == seen


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


def test_the_fingerprint_hashes_the_inputs_as_stored_proposals_did(firm_a):
    # Given accounts of one batch (the loader builds their securities' and sleeves' parts once)
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        loaded = rebalance_inputs_load([a.pk for a in accounts], as_of=AS_OF)
        rows = {a.pk: a for a in Account.objects.filter(pk__in=[a.pk for a in accounts])}
        lots = _lots_by_account(list(rows))
    # Then each fingerprint is the digest proposals have always stored: the pickled account
    # figures, parameters, trades, securities, sleeves and returns, then the lots' columns
    for inputs in loaded:
        account, request = rows[inputs.account_id], inputs.request
        payload = (
            AS_OF, account.custodian_number, account.cash, account.short_term_rate, account.long_term_rate,
            *account.realised_ytd(AS_OF.year), account.taxable, inputs.model_version_id,
            json.dumps(inputs.parameters, sort_keys=True), [],
            [(s.symbol, s.price) for s in request.securities],
            [(s.asset_class, s.weight, sorted(s.holdings.items()), s.benchmark.name if s.benchmark else None)
             for s in request.model.sleeves],
            (request.account.tax_returns, request.account.household_trades, inputs.risk_model_version_id),
        )
        digest = hashlib.sha256(pickle.dumps(payload, protocol=5))
        ids, sids, quantities, costs, acquired, _ = lots[account.pk]
        digest.update(array("q", map(len, ids)))
        digest.update("".join(ids).encode())
        for column in (sids, quantities, costs, acquired):
            digest.update(np.ascontiguousarray(column))
        assert inputs.fingerprint == digest.hexdigest()


def test_each_account_of_a_batch_gets_its_own_template_and_the_pairs_it_holds(firm_a):
    # Given, in one batch, an account following its household's template, one with its own over
    # it, one with none; and a firm-wide harvest pair for a security the first two hold
    with tenant_context(firm_a):
        book = make_book(2)
        by_household, by_own = book["accounts"]
        Account.objects.filter(pk=by_own.pk).update(template=make_template("own", parameters={"cash": {"target": 0.03}}))
        bare = make_account("T-BARE", model=book["model"], holdings=[("SCHB", 10, 200, date(2024, 1, 2))])
        Security.objects.filter(symbol="BND").update(harvest_substitute=Security.objects.get(symbol="AGG"))
        ids = [by_household.pk, by_own.pk, bare.pk]
        # When the batch is loaded
        loaded = {i.account_id: i for i in rebalance_inputs_load(ids, as_of=AS_OF)}
        expected = {a.pk: account_parameters(a, firm_substitutes={} if a.pk == bare.pk else {"BND": "AGG"}).values
                    for a in Account.objects.filter(pk__in=ids)}
    # Then each has the parameters its own layers and held pairs give, as loaded one by one
    for pk in ids:
        assert loaded[pk].parameters == expected[pk] and list(loaded[pk].parameters) == list(expected[pk])
    assert [loaded[pk].parameters["cash"]["target"] for pk in ids] == [0.01, 0.03, expected[bare.pk]["cash"]["target"]]
    assert [loaded[pk].parameters["harvest"].get("substitutes") for pk in ids[:2]] == [{"BND": "AGG"}] * 2
    assert not loaded[bare.pk].parameters["harvest"].get("substitutes")


@pytest.mark.parametrize("past_40_bits", [False, True])
def test_the_lots_reach_the_engine_as_the_table_holds_them_oldest_first(firm_a, past_40_bits):
    # Given accounts with lots on the same dates (the primary key orders those), decimals the
    # table rounds, and lot ids of any characters, stored out of date order between accounts
    # stored in it, one with a single lot, and a lot whose key is past the 40 bits the chunk's
    # sort packs beside the date (the accounts are then sorted one by one)
    with tenant_context(firm_a):
        book = make_book(2)
        odd = make_account("T-ODD", model=book["model"], holdings=[
            ("VTI", "10.1234567", "1234.565", date(2024, 5, 1)), ("BND", "0.000001", "0.01", date(2021, 1, 4)),
            ("VNQ", "3", "271.99", date(2024, 5, 1)), ("VTI", "7.5", "0", date(2021, 1, 4)),
            ("BND", "123456789.123456", "9999999999.99", date(2024, 5, 1)),
        ])
        TaxLot.objects.filter(account=odd, lot_id="T-ODD-L3").update(lot_id="lot «3», with, commas\tand tabs")
        TaxLot.objects.filter(account=odd, lot_id="T-ODD-L5").update(lot_id="")
        single = make_account("T-ONE", model=book["model"], holdings=[("SCHB", "10", "200", date(2024, 1, 2))])
        if past_40_bits:
            TaxLot.objects.create(pk=2**40 + 7, account=odd, lot_id="BIG", security=Security.objects.get(symbol="AGG"),
                                  quantity=1, cost_basis=90, acquired=date(2021, 1, 4))
        ids = [book["accounts"][0].pk, odd.pk, single.pk, book["accounts"][1].pk]
        loaded = {i.account_id: i.request for i in rebalance_inputs_load(ids, as_of=AS_OF)}
        # The lots one by one through the ORM, as Decimals turned into floats
        expected = {
            a: tuple(engine.TaxLot(lot.lot_id, lot.security.symbol, float(lot.quantity), float(lot.cost_basis),
                                   lot.acquired)
                     for lot in TaxLot.objects.filter(account_id=a).select_related("security").order_by("acquired", "pk"))
            for a in ids
        }
    for a in ids:
        lots = loaded[a].account.lots
        assert isinstance(lots, engine.LotTable)
        assert tuple(lots) == expected[a]
    assert [lot.id for lot in loaded[odd.pk].account.lots][:2 + past_40_bits] == ["T-ODD-L2", "T-ODD-L4", *["BIG"] * past_40_bits]


@pytest.mark.parametrize("largest_key", [10_000, 2**40 + 10_000])
@pytest.mark.parametrize("seed", range(6))
def test_a_chunks_lots_put_in_order_together_come_as_each_accounts_alone(seed, largest_key):
    # Given a chunk's accounts' lots one after another, 1 to 40 each, every other account's in order,
    # with keys below the 40 bits the sort packs beside the date, or past them
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 40, int(rng.integers(1, 8)))
    ends = np.cumsum(counts)
    pks = (largest_key - rng.permutation(10_000)[:ends[-1]]).astype(np.int64)
    days = rng.integers(730_000, 730_010, ends[-1]).astype(np.int64)
    for start, end in list(zip(ends - counts, ends, strict=True))[::2]:
        in_order = np.lexsort((pks[start:end], days[start:end]))
        pks[start:end], days[start:end] = pks[start:end][in_order], days[start:end][in_order]
    lot_ids = [f"L{pk}" for pk in pks]
    lengths = np.fromiter(map(len, lot_ids), np.int64)
    # When the chunk is put in order at once
    together = engine_inputs._accounts_oldest_first(pks, pks * 3, pks * 0.5, days * 0.25, days, lot_ids, lengths, ends)
    # Then each account has its own lots as it alone is put in order
    assert len(together) == len(counts)
    for lots, start, end in zip(together, ends - counts, ends, strict=True):
        alone = _oldest_first(pks[start:end], pks[start:end] * 3, pks[start:end] * 0.5, days[start:end] * 0.25,
                              days[start:end], lot_ids[start:end], lengths[start:end])
        assert isinstance(lots[0], tuple) and lots[0] == alone[0]
        assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(lots[1:], alone[1:], strict=True))


def test_the_lots_query_reads_a_lots_quantity_basis_and_date_as_the_ledger_last_wrote_them(firm_a):
    # Given a lot the ledger shrinks, re-bases and re-dates (a sale, a wash-sale adjustment), one
    # saved through the model and one written with COPY as imports write them
    with tenant_context(firm_a):
        book = make_book(1)
        account = book["accounts"][0]
        first = TaxLot.objects.filter(account=account).order_by("pk").first()
        TaxLot.objects.filter(pk=first.pk).update(quantity="3.333333", cost_basis="1000.01", acquired=date(2019, 2, 28))
        second = TaxLot.objects.filter(account=account).exclude(pk=first.pk).order_by("pk").first()
        second.quantity, second.cost_basis = "0.5", "17.25"
        second.save()
        from rebalancing.copy_writes import objects_insert_by_copy

        objects_insert_by_copy([TaxLot(account=account, lot_id="COPIED", security=first.security,
                                       quantity="12.000001", cost_basis="99999.99", acquired=date(2000, 1, 1))])
        # When the run's query loads them
        ids, sids, quantities, costs, acquired, _ = _lots_by_account([account.pk])[account.pk]
        stored = {lot.lot_id: lot for lot in TaxLot.objects.filter(account=account)}
    # Then every column is the table's, and the lot written with COPY is there too
    assert sorted(ids) == sorted(stored)
    for i, lot_id in enumerate(ids):
        lot = stored[lot_id]
        assert (sids[i], quantities[i], costs[i], acquired[i]) == (
            lot.security_id, float(lot.quantity), float(lot.cost_basis), lot.acquired.toordinal())
    assert (quantities[ids.index("COPIED")], acquired[ids.index("COPIED")]) == (12.000001, date(2000, 1, 1).toordinal())


def test_the_fingerprint_reads_each_lot_ids_length_in_characters(firm_a):
    # Given lot ids of plain ASCII, of other characters (more bytes than characters) and empty
    with tenant_context(firm_a):
        plain, odd = make_book(2)["accounts"]
        TaxLot.objects.filter(account=odd, lot_id="T-001-L1").update(lot_id="lot «1»")
        TaxLot.objects.filter(account=odd, lot_id="T-001-L2").update(lot_id="")
        # When their lots are loaded
        lots = _lots_by_account([plain.pk, odd.pk])
    # Then the lengths the fingerprint hashes are the ids' lengths in characters, as the 8-byte
    # integers it has always hashed (so fingerprints stay comparable with stored proposals)
    for account in (plain, odd):
        ids, *_, lengths = lots[account.pk]
        assert np.ascontiguousarray(lengths, np.int64).tobytes() == array("q", map(len, ids)).tobytes()
    assert "lot «1»" in lots[odd.pk][0] and "" in lots[odd.pk][0]


def _same_lots(a, b) -> bool:
    return a.keys() == b.keys() and all(
        a[k][0] == b[k][0] and all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(a[k][1:], b[k][1:],
                                                                                              strict=True))
        for k in a
    )


def test_lot_ids_joined_as_text_load_as_the_nul_separated_bytes_do(firm_a, monkeypatch):
    # Given accounts whose lot ids are ASCII, of other characters, empty, or hold the separator
    with tenant_context(firm_a):
        plain, odd, clash = make_book(3)["accounts"]
        TaxLot.objects.filter(account=odd, lot_id="T-001-L1").update(lot_id="lot «1», with\ttabs")
        TaxLot.objects.filter(account=odd, lot_id="T-001-L2").update(lot_id="")
        TaxLot.objects.filter(account=clash, lot_id="T-002-L1").update(lot_id=f"a{engine_inputs._ID_SEPARATOR}b")
        ids = [plain.pk, odd.pk, clash.pk]
        # When they are loaded with the ids joined as text (the account whose ids hold the separator
        # read again as bytes), and all of them as bytes (a separator every id here holds)
        with CaptureQueriesContext(connection) as queries:
            as_text = _lots_by_account(ids)
        monkeypatch.setattr(engine_inputs, "_ID_SEPARATOR", "-")
        as_bytes = _lots_by_account(ids)
        expected = {a: [lot.lot_id for lot in TaxLot.objects.filter(account_id=a).order_by("acquired", "pk")] for a in ids}
    # Then both give the same columns, with the ids the table holds
    assert _same_lots(as_text, as_bytes)
    assert {a: list(lots[0]) for a, lots in as_text.items()} == expected
    assert "a\x1fb" in as_text[clash.pk][0] and "lot «1», with\ttabs" in as_text[odd.pk][0]
    assert len(queries.captured_queries) == 2  # the clash alone read again


@pytest.mark.parametrize("seed", range(10))
def test_lot_columns_out_of_order_are_sorted_by_date_and_key(seed):
    # Given an account's lots in any order (a plan that loses the subquery's order)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    rows = [(int(pk), int(rng.integers(0, 3)), int(rng.integers(730000, 730004))) for pk in rng.permutation(1000)[:n]]
    pks, sids, days = (np.array([r[i] for r in rows], dtype=np.int64) for i in range(3))
    quantities = rng.uniform(1, 100, n)
    # When they are put in order
    lot_ids = [f"L{pk}" for pk in pks]
    ids, s, q, c, d, lengths = _oldest_first(pks, sids, quantities, quantities * 2, days, lot_ids,
                                             np.array([len(i) for i in lot_ids], dtype=np.int64))
    # Then they are in the order of a plain sort by (date, primary key)
    expected = sorted(rows, key=lambda r: (r[2], r[0]))
    assert list(ids) == [f"L{r[0]}" for r in expected]
    assert lengths.tolist() == [len(f"L{r[0]}") for r in expected]
    assert s.tolist() == [r[1] for r in expected] and d.tolist() == [r[2] for r in expected]
    assert q.tolist() == [float(quantities[pks.tolist().index(r[0])]) for r in expected]
    assert np.array_equal(c, q * 2)


def test_each_firm_loads_its_own_lots_through_the_binary_cursor(firm_a, firm_b):
    # Given an account in each of two firms, with different lots
    books = {}
    for firm, quantity in ((firm_a, "10"), (firm_b, "20")):
        with tenant_context(firm):
            make_securities()
            account = make_account("T-SAME", model=make_model(), holdings=[("VTI", quantity, "900", date(2024, 1, 2))])
            books[firm.slug] = account.pk
    # When their lots are read in turn on one connection (the lots query runs on a cursor of its
    # own, which finds the firm's schema on the search path Django's cursor set)
    for firm, quantity in ((firm_a, 10.0), (firm_b, 20.0), (firm_a, 10.0)):
        with tenant_context(firm):
            [inputs] = rebalance_inputs_load([books[firm.slug]], as_of=AS_OF)
        # Then each firm sees its own lot
        assert [lot.quantity for lot in inputs.request.account.lots] == [quantity]


@pytest.mark.parametrize("largest_key", [1_000, 2**40 - 1, 2**40, 2**62])
def test_lots_sorted_on_one_key_come_in_lexsorts_order(largest_key):
    # Given lots on few dates (many ties) with primary keys up to the one key's limit and past it
    rng = np.random.default_rng(largest_key % 1_000_003)
    for n in (0, 1, 2, 50, 2_000):
        pks = rng.choice(np.arange(largest_key - 5_000, largest_key + 1, dtype=np.int64), n, replace=False)
        days = rng.integers(date(1900, 1, 1).toordinal(), date(9999, 12, 31).toordinal(), 8)[rng.integers(0, 8, n)]
        lot_ids = [f"L{pk}" for pk in pks]
        lengths = np.fromiter(map(len, lot_ids), np.int64, n)
        # When they are put oldest first
        ids, sids, _, _, acquired, id_lengths = _oldest_first(pks, pks * 3, pks * 0.5, pks * 0.25, days, lot_ids, lengths)
        # Then in the order numpy's lexsort by (date, key) gives
        order = np.lexsort((pks, days))
        assert list(ids) == [lot_ids[i] for i in order]
        assert np.array_equal(sids, pks[order] * 3) and np.array_equal(acquired, days[order])
        assert np.array_equal(id_lengths, lengths[order])
