"""Gifted shares through the ledger (IRC §1015(a); Pub. 551 "Property Received as a Gift"; Pub. 550
"Holding Period"): the donor's basis and holding period, unless the shares were worth less on the
gift day than the donor's basis - then a loss is measured from that value and held from the gift,
and a sale between the two realises nothing. Never a wash-sale replacement: not bought (§1091(a))."""

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from rebalancing.engine.tax import term
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.imports import ImportRejected, lots_import, trades_import
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.holdings import purchases_known_from_lots
from rebalancing.ledger.reconciliation import reconciliation_import
from rebalancing.models import Account, Price, RealisedLot, Security, TaxLot, TradeRecord

from ..rebalancing.book import make_account
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
DONOR_BOUGHT = date(2020, 3, 2)
GIFTED = date(2026, 9, 1)
AS_OF = date(2026, 11, 20)
HEADER = "account_number,lot_id,symbol,quantity,cost_basis,acquired,gift_date,gift_value"


def lots_file(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join((header, *rows)).encode() + b"\n"


@pytest.fixture
def donee(book):
    """A-2 in A-1's household, given 100 VTI on 2026-09-01: the donor paid 10,000 in 2020; they
    were worth 6,000 that day."""
    account = make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    lots_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02,2026-09-01,6000"), as_of=AS_OF)
    return account


def sold_for(donee, pm, price: str, day: date = date(2026, 11, 2)) -> RealisedLot:
    [order] = release(donee, [sell("VTI", 100, float(price), [("G1", 100)])], pm=pm, as_of=day)
    executions_import(source=execution_csv(fill(f"G-{price}", order, 100, price, day)), actor="feed", as_of=AS_OF)
    return RealisedLot.objects.get(account=donee)


def reference(proceeds: D, donor: D, value: D, donor_start: date, gifted: date) -> tuple[D, date]:
    """§1015(a) and Pub. 550, written out: the basis a sale uses and where its holding period starts."""
    if value < donor:  # the dual-basis rule applies only when the gift was worth less than the donor's basis
        if proceeds < value:
            return proceeds - value, gifted  # a loss, from the value on the gift day, held from the gift
        if proceeds <= donor:
            return D(0), donor_start  # neither gain nor loss
    return proceeds - donor, donor_start  # the donor's basis and holding period


def test_the_lots_file_keeps_the_gift_and_reads_it_back_unchanged(donee):
    lot = TaxLot.objects.get(account=donee, lot_id="G1")
    assert (lot.cost_basis, lot.acquired, lot.gift_date, lot.gift_unit_value) == (
        D("10000.00"), DONOR_BOUGHT, GIFTED, D("60"))
    assert lots_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02,2026-09-01,6000"), as_of=AS_OF).unchanged == 1
    # Without the columns the gift is kept (a custodian's file may not carry it).
    plain = "account_number,lot_id,symbol,quantity,cost_basis,acquired"
    assert lots_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02", header=plain), as_of=AS_OF).unchanged == 1
    assert TaxLot.objects.get(account=donee, lot_id="G1").gift_date == GIFTED
    # A position file, which never carries gifts, matches the ledger.
    assert reconciliation_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02", header=plain),
                                 as_of=AS_OF).status == "closed"


@pytest.mark.parametrize(("price", "gain", "acquired", "lot_term"), [
    ("50", D("-1000.00"), GIFTED, "short"),  # below the gift day's 60: a loss from 6,000, held from the gift
    ("80", D("0.00"), DONOR_BOUGHT, "long"),  # between 60 and 100: neither gain nor loss
    ("120", D("2000.00"), DONOR_BOUGHT, "long"),  # above the donor's 100: a gain from the donor's basis
])
def test_a_sale_of_gifted_shares_uses_the_basis_its_price_calls_for(donee, pm, price, gain, acquired, lot_term):
    sale = sold_for(donee, pm, price)
    assert (sale.gain, sale.acquired, sale.term, sale.purchased) == (gain, acquired, lot_term, DONOR_BOUGHT)
    assert (sale.gift_date, sale.unit_cost, sale.replacement) == (GIFTED, D(100), False)
    donee.refresh_from_db()
    assert donee.realised_short_term_ytd + donee.realised_long_term_ytd == gain
    # Booked right at the fill: the trade the engine's wash-sale window reads says so too.
    assert TradeRecord.objects.get(account=donee).realised_gain == gain


def test_random_gifts_match_a_plain_reading_of_section_1015(book, pm):
    rng = random.Random(1015)
    household = book["account"].household
    for case in range(40):
        account = make_account(f"G-{case}", model=book["model"], household=household, holdings=[])
        shares = rng.randint(1, 300)
        donor, value = D(rng.randrange(100, 50_000)), D(rng.randrange(0, 50_000))
        donor_start = date(2015, 1, 1) + timedelta(days=rng.randrange(0, 4000))
        gifted = donor_start + timedelta(days=rng.randrange(0, 700))
        if gifted > date(2026, 11, 1):
            gifted = date(2026, 11, 1)
        lots_import(source=lots_file(f"G-{case},L,VTI,{shares},{donor},{donor_start},{gifted},{value}"), as_of=AS_OF)
        price = D(rng.randrange(1, 40_000)) / 100
        [order] = release(account, [sell("VTI", shares, float(price), [("L", shares)])], pm=pm, as_of=date(2026, 11, 2))
        executions_import(source=execution_csv(fill(f"R-{case}", order, shares, str(price), date(2026, 11, 2))),
                          actor="feed", as_of=AS_OF)
        sale = RealisedLot.objects.get(account=account)
        proceeds = (price * shares).quantize(D("0.01"))
        want_gain, want_start = reference(proceeds, donor, value, donor_start, gifted)
        assert (sale.gain, sale.acquired) == (want_gain, want_start), (case, shares, donor, value, price)
        assert sale.term == term(want_start, date(2026, 11, 2))


def test_the_engine_prices_a_gifted_lot_at_the_basis_a_sale_today_would_use(donee):
    vti = Security.objects.get(symbol="VTI")
    for close, basis, start in ((D("50"), 6000.0, GIFTED), (D("80"), 8000.0, DONOR_BOUGHT),
                                (D("120"), 10000.0, DONOR_BOUGHT)):
        Price.objects.update_or_create(security=vti, date=AS_OF, defaults={"close": close})
        [inputs] = rebalance_inputs_load([donee.pk], as_of=AS_OF)
        [lot] = inputs.request.account.lots
        assert (lot.cost_basis, lot.acquired) == (pytest.approx(basis), start), close


def test_gifted_shares_do_not_wash_a_loss_and_a_loss_on_them_is_washed_by_a_purchase(book, donee, pm):
    # A-1 sells its short-term VTI lot at a 1,000 loss on 11-18; on 11-19 A-2 is given ITOT (the same
    # group): not a purchase, no wash sale.
    account = book["account"]
    [order] = release(account, [sell("VTI", 50, 100.0, [("A-1-L2", 50)])], pm=pm, as_of=date(2026, 11, 18))
    executions_import(source=execution_csv(fill("L-S", order, 50, "100", date(2026, 11, 18))), actor="feed",
                      as_of=AS_OF)
    lots_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02,2026-09-01,6000",
                                 "A-2,G2,ITOT,40,4000,2026-11-01,2026-11-19,4000"), as_of=AS_OF)
    [loss] = RealisedLot.objects.filter(account=account)
    assert (loss.gain, loss.disallowed_loss) == (D("-1000.00"), 0)
    assert purchases_known_from_lots([account.household_id], date(2026, 10, 19), date(2026, 12, 18)) == []

    # A-2 sells G1 at 50 on 11-02 (a 1,000 loss from the gift day's value) and buys 100 back on 11-10:
    # the whole loss is disallowed and the replacement carries it and the gift's holding period.
    sale = sold_for(donee, pm, "50")
    lots_import(source=lots_file("A-2,G2,ITOT,40,4000,2026-11-01,2026-11-19,4000", "A-2,B1,VTI,100,5100,2026-11-10,,"),
                as_of=AS_OF)
    sale.refresh_from_db()
    assert (sale.gain, sale.disallowed_loss) == (D("-1000.00"), D("1000.00"))
    replacement = TaxLot.objects.get(account=donee, lot_id="B1")
    assert (replacement.wash_adjustment, replacement.cost_basis) == (D("1000.00"), D("6100.00"))
    # §1223(3): the sold shares' holding period - from the gift, not the donor's 2020 - is added.
    assert replacement.acquired == date(2026, 11, 10) - (date(2026, 11, 2) - GIFTED)
    # The engine is told both: G2 was received, B1 bought on 11-10 (inside the window, though held
    # from earlier), so its wash-sale window reads the day bought (engine ``Account.bought_on``).
    [inputs] = rebalance_inputs_load([donee.pk], as_of=AS_OF)
    assert inputs.request.account.bought_on() == {"G2": None, "B1": date(2026, 11, 10)}


@pytest.mark.parametrize("received", ["gift", "inherited", None])
def test_a_purchase_known_only_from_a_trade_washes_a_loss_though_a_gift_or_bequest_has_its_day(book, pm, received):
    # A-1 sells 50 VTI at a 1,000 loss on 10-01; A-2 (same household) buys 40 VTI on 10-12, known
    # only from the trades file; A-2 also holds 40 VTI whose day is 10-12 too - the donor's purchase
    # of a gift, or a holder's death. Those shares were not bought by A-2 (IRC §1091(a)): the trade's
    # 40 shares are still a purchase, and 40/50 of the loss is disallowed, as without the lot.
    make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    [order] = release(book["account"], [sell("VTI", 50, 100.0, [("A-1-L2", 50)])], pm=pm, as_of=date(2026, 10, 1))
    executions_import(source=execution_csv(fill("S-1", order, 50, "100", date(2026, 10, 1))), actor="feed",
                      as_of=AS_OF)
    if received == "gift":
        lots_import(source=lots_file("A-2,G1,VTI,40,4000,2026-10-12,2026-10-20,4000"), as_of=AS_OF)
    elif received == "inherited":
        lots_import(source=lots_file("A-2,I1,VTI,40,4000,2026-10-12,yes",
                                     header="account_number,lot_id,symbol,quantity,cost_basis,acquired,inherited"),
                    as_of=AS_OF)
    trades_import(source=lots_file("A-2,VTI,buy,40,51,2026-10-12,T-9",
                                   header="account_number,symbol,side,quantity,price,trade_date,external_id"),
                  as_of=AS_OF)

    sold = RealisedLot.objects.get(execution__external_id="S-1")
    assert (sold.gain, sold.disallowed_loss, sold.wash_matched_quantity) == (D("-1000.00"), D("800.00"), D(40))


def test_a_gift_received_in_the_last_30_days_is_no_purchase_for_the_engine(donee):
    # G1 received on 11-10, worth less than the donor's basis: at 50 the engine holds it from the
    # gift day (a loss) - inside the window, yet no purchase (IRC §1091(a): not "acquired by purchase")
    from rebalancing.engine.rebalancer import _prepare

    vti = Security.objects.get(symbol="VTI")
    Price.objects.update_or_create(security=vti, date=AS_OF, defaults={"close": D("50")})
    lots_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02,2026-11-10,6000"), as_of=AS_OF)
    [inputs] = rebalance_inputs_load([donee.pk], as_of=AS_OF)
    account = inputs.request.account
    assert account.received_lots == frozenset({"G1"})
    assert {lot.id: lot.acquired for lot in account.lots}["G1"] == date(2026, 11, 10)
    # so its loss may be sold now (a lot bought on 11-10 would be held back as the window's purchase)
    prepared = _prepare(inputs.request)
    assert prepared.limits.x_ub[prepared.book.lot_ids.index("G1")] > 0
    bought = replace(inputs.request, account=replace(account, received_lots=frozenset()))
    prepared = _prepare(bought)
    assert prepared.limits.x_ub[prepared.book.lot_ids.index("G1")] == 0


def test_whether_a_lot_was_a_gift_is_in_the_fingerprint(donee):
    # A gift worth more than the donor's basis reaches the engine as the donor's lot; only
    # ``received_lots`` tells it apart, so a proposal made before the gift was known is not reused.
    lots_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02,2026-11-10,12000"), as_of=AS_OF)
    [gift] = rebalance_inputs_load([donee.pk], as_of=AS_OF)
    lots_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02,,"), as_of=AS_OF)
    [bought] = rebalance_inputs_load([donee.pk], as_of=AS_OF)
    assert gift.request.account.lots == bought.request.account.lots
    assert (gift.request.account.received_lots, bought.request.account.received_lots) == ({"G1"}, frozenset())
    assert gift.fingerprint != bought.fingerprint


@pytest.mark.parametrize(("row", "column", "problem"), [
    ("A-2,G1,VTI,100,10000,2020-03-02,2026-09-01,", "gift_value", "is empty; a gift needs both"),
    ("A-2,G1,VTI,100,10000,2020-03-02,,6000", "gift_date", "is empty; a gift needs both"),
    ("A-2,G1,VTI,100,10000,2020-03-02,2019-01-01,6000", "gift_date", "is before the donor acquired the shares"),
    ("A-2,G1,VTI,100,10000,2020-03-02,2026-12-01,6000", "gift_date", "is in the future"),
    ("A-2,G1,VTI,100,10000,2020-03-02,2026-09-01,-5", "gift_value", ""),
])
def test_a_gift_the_file_gets_wrong_is_refused_by_row_and_column(book, row, column, problem):
    make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=lots_file(row), as_of=AS_OF)
    [(line, col, text)] = [(p["row"], p["column"], p["problem"]) for p in excinfo.value.detail["problems"]]
    assert (line, col) == (2, column) and problem in text
    assert not TaxLot.objects.filter(account__custodian_number="A-2").exists()


def test_a_lot_is_not_both_inherited_and_a_gift(book):
    make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=lots_file("A-2,G1,VTI,100,10000,2026-03-02,2026-09-01,6000,yes",
                                     header=HEADER + ",inherited"), as_of=AS_OF)
    assert [p["column"] for p in excinfo.value.detail["problems"]] == ["gift_date"]
    assert Account.objects.get(custodian_number="A-2").lots.count() == 0


def test_a_gifted_lot_taken_back_by_an_earlier_dated_fill_is_the_donors_again(donee, pm):
    # The order sells G1 then P1. The fill of 11-05 (100 at 50: a loss from the gift day's value,
    # held from the gift) empties G1; a fill dated 11-03 (50 at 120) arrives later. Taken in date
    # order, 11-03 sells 50 of G1 at a long-term gain from the donor's basis and holding period.
    lots_import(source=lots_file("A-2,G1,VTI,100,10000,2020-03-02,2026-09-01,6000",
                                 "A-2,P1,VTI,50,4000,2026-10-01,,"), as_of=AS_OF)
    [order] = release(donee, [sell("VTI", 150, 60.0, [("G1", 100), ("P1", 50)])], pm=pm, as_of=date(2026, 11, 3))
    executions_import(source=execution_csv(fill("F-A", order, 100, "50", date(2026, 11, 5))), actor="feed",
                      as_of=AS_OF)
    executions_import(source=execution_csv(fill("F-B", order, 50, "120", date(2026, 11, 3))), actor="feed",
                      as_of=AS_OF)

    sales = [(r.lot_id, r.quantity, r.gain, r.acquired, r.term, r.sold)
             for r in RealisedLot.objects.filter(account=donee).order_by("sold", "lot_id")]
    assert sales == [
        ("G1", D(50), D("1000.00"), DONOR_BOUGHT, "long", date(2026, 11, 3)),
        ("G1", D(50), D("-500.00"), GIFTED, "short", date(2026, 11, 5)),
        ("P1", D(50), D("-1500.00"), date(2026, 10, 1), "short", date(2026, 11, 5)),
    ]


def test_the_pages_and_the_api_show_a_gift_its_value_then_and_the_basis_a_sale_today_uses(donee, pm, firm_a,
                                                                                          client_for):
    Price.objects.update_or_create(security=Security.objects.get(symbol="VTI"), date=AS_OF,
                                   defaults={"close": D("80")})
    client = client_for(firm_a, pm)
    page = client.get(f"/accounts/{donee.pk}/").content.decode()
    # At 80 a sale realises nothing: its basis is what it brings, 8,000.
    assert "$8,000" in page and "gift 2026-09-01: donor's $10,000, worth $6,000" in page
    ledger = client.get(f"/accounts/{donee.pk}/ledger/").content.decode()
    assert 'gift 2026-09-01, worth $6,000.00 then' in ledger
    [lot] = client.get(f"/api/v1/accounts/{donee.pk}/lots/").json()["results"]
    assert (lot["cost_basis"], lot["acquired"], lot["gift_date"], lot["gift_value"]) == (
        "10000.00", "2020-03-02", "2026-09-01", "6000.00")


def test_a_fill_dated_before_the_gift_was_received_is_refused_and_writes_nothing(donee, pm):
    """The donee owns the shares only from the gift (IRC §1015(a)); the lot's day bought is the donor's,
    so the ledger's check that a sale cannot take shares bought after it must look at the gift day too."""
    sold_on = date(2026, 8, 14)  # after the donor bought, before the gift
    [order] = release(donee, [sell("VTI", 100, 50.0, [("G1", 100)])], pm=pm, as_of=sold_on)
    with pytest.raises(ImportRejected) as refused:
        executions_import(source=execution_csv(fill("G-early", order, 100, "50", sold_on)), actor="feed", as_of=AS_OF)
    assert "lot G1 of account A-2 was received as a gift on 2026-09-01, after this sale's trade date 2026-08-14" in (
        refused.value.message)
    assert TaxLot.objects.get(account=donee, lot_id="G1").quantity == D(100)
    assert not RealisedLot.objects.filter(account=donee).exists()
    # On the gift day itself the shares are the donee's to sell.
    [order] = release(donee, [sell("VTI", 100, 50.0, [("G1", 100)])], pm=pm, as_of=GIFTED)
    executions_import(source=execution_csv(fill("G-gift-day", order, 100, "50", GIFTED)), actor="feed", as_of=AS_OF)
    assert RealisedLot.objects.get(account=donee).sold == GIFTED
