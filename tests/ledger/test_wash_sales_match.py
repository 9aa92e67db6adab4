"""The pure wash-sale matcher, on hand-computed cases (IRC §1091, IRS Pub. 550 "Wash Sales")."""

from datetime import date
from decimal import Decimal as D

from rebalancing.ledger.wash_sales import LossSale, Purchase, wash_sales_match

SOLD = date(2026, 3, 2)


def sale(key="S", *, quantity="100", loss="250", sold=SOLD, acquired=date(2025, 1, 10), account="A1", group="X",
         **kwargs) -> LossSale:
    return LossSale(key=key, account=account, group=group, sold=sold, acquired=acquired, quantity=D(quantity),
                    loss=D(loss), **kwargs)


def buy(key="P", *, bought=date(2026, 3, 20), capacity="100", account="A1", group="X", taxable=True) -> Purchase:
    return Purchase(key=key, account=account, group=group, bought=bought, capacity=D(capacity), taxable=taxable)


def test_pub_550_example_a_full_repurchase_disallows_the_whole_loss_and_tacks_the_holding_period():
    # Pub. 550: 100 shares bought for $1,000, sold for $750, 100 bought again within 30 days for
    # $800: the $250 loss is disallowed and the new shares' basis is $800 + $250 = $1,050.
    # Held 2025-01-10 -> 2026-03-02: 365 + 51 = 416 days, added to the new shares' holding period.
    [match] = wash_sales_match([sale()], [buy()])

    assert (match.sale, match.purchase, match.quantity) == ("S", "P", D(100))
    assert (match.disallowed, match.basis_added, match.holding_days) == (D("250.00"), D("250.00"), 416)
    assert D(800) + match.basis_added == D(1050)
    assert "IRC §1091" in match.reason and "18 days after the loss sale on 2026-03-02" in match.reason


def test_a_partial_repurchase_disallows_the_loss_of_the_replaced_shares_only():
    # 40 of 100 shares replaced: 250 x 40 / 100 = 100 disallowed; 150 stays deductible.
    [match] = wash_sales_match([sale()], [buy(capacity="40")])

    assert (match.quantity, match.disallowed, match.basis_added) == (D(40), D("100.00"), D("100.00"))


def test_a_purchase_before_the_loss_sale_replaces_too():
    [match] = wash_sales_match([sale()], [buy(bought=date(2026, 2, 15))])  # 15 days before

    assert match.disallowed == D("250.00") and "15 days before" in match.reason


def test_a_purchase_in_another_account_of_the_household_replaces_too():
    [match] = wash_sales_match([sale(account="TAXABLE")], [buy(account="SPOUSE")])

    assert match.disallowed == D("250.00") and "account SPOUSE" in match.reason


def test_a_loss_sale_with_no_repurchase_in_the_window_keeps_its_loss():
    assert wash_sales_match([sale()], []) == []
    assert wash_sales_match([sale()], [buy(bought=date(2026, 4, 2))]) == []  # 31 days after
    assert wash_sales_match([sale()], [buy(bought=date(2026, 1, 30))]) == []  # 31 days before
    assert wash_sales_match([sale()], [buy(group="Y")]) == []  # not substantially identical


def test_the_window_is_thirty_days_either_side_inclusive():
    assert len(wash_sales_match([sale()], [buy("before", bought=date(2026, 1, 31))])) == 1
    assert len(wash_sales_match([sale()], [buy("after", bought=date(2026, 4, 1))])) == 1


def test_shares_are_matched_first_in_first_out_and_losses_split_to_the_cent():
    # Loss 100.00 on 3 shares, replaced one share at a time: 33.33 + 33.34 + 33.33 = 100.00.
    matches = wash_sales_match(
        [sale(quantity="3", loss="100")],
        [buy("third", bought=date(2026, 3, 12), capacity="1"), buy("first", bought=date(2026, 3, 4), capacity="1"),
         buy("second", bought=date(2026, 3, 8), capacity="1")],
    )

    assert [(m.purchase, m.disallowed) for m in matches] == [
        ("first", D("33.33")), ("second", D("33.34")), ("third", D("33.33"))]


def test_a_replacement_share_absorbs_one_loss_share_and_earlier_sales_match_first():
    first = sale("early", sold=date(2026, 3, 1), quantity="100", loss="300")
    second = sale("late", sold=date(2026, 3, 5), quantity="100", loss="500")

    [match] = wash_sales_match([second, first], [buy(capacity="100")])

    assert (match.sale, match.quantity, match.disallowed) == ("early", D(100), D("300.00"))


def test_shares_do_not_replace_themselves():
    # 100 shares bought on 2026-02-20 and sold at a loss on 2026-03-02: that purchase is the sale.
    assert wash_sales_match([sale(origin="P", acquired=date(2026, 2, 20))], [buy(bought=date(2026, 2, 20))]) == []


def test_what_is_already_matched_is_not_matched_again():
    # 60 shares of the sale were washed before (150.00 of its 250.00): 40 remain, 100.00 of loss.
    [match] = wash_sales_match([sale(matched=D(60), disallowed=D("150.00"))], [buy(capacity="100")])

    assert (match.quantity, match.disallowed) == (D(40), D("100.00"))


def test_a_replacement_in_a_tax_deferred_account_disallows_the_loss_for_good():
    # Rev. Rul. 2008-5: the IRA's shares get no basis and no holding period.
    [match] = wash_sales_match([sale()], [buy(taxable=False)])

    assert (match.disallowed, match.basis_added, match.holding_days) == (D("250.00"), D(0), 0)
    assert "Rev. Rul. 2008-5" in match.reason
