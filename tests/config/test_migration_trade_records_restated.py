"""Migration 0049 restates the sale trade records of an existing database from their realised lots.

Until 2026-12-07 a replay that restated a sale's lots (a late fill moving a disallowed loss into the
basis of the lot sold) left its trade record at its fill-time figures, and runs read the trade
records: a sale restated to a loss still read as a gain, and a run bought the group back within 30
days (IRC §1091(a)). The replay now restates them (``ledger.adjustments._trades_restate``); the
migration does it once for the records written before, by the same definitions: the net of the
lots' gains, and the sum of the losing lots' losses.
"""

import importlib
import random
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django_tenants.utils import tenant_context

from rebalancing.ledger.executions import executions_import
from rebalancing.models import RealisedLot, Security, TradeRecord
from tenants.roles import FirmRole
from tests.ledger.helpers import execution_csv, fill, release, sell
from tests.rebalancing.book import make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 1)
restated = importlib.import_module("rebalancing.migrations.0049_trade_records_restated").trade_records_restated


def test_sale_records_say_what_their_lots_say(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@restated.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        make_securities()
        model, template = make_model(), make_template()
        account = make_account("R-1", model=model, template=template, holdings=[
            ("VTI", 100, 8000, date(2020, 1, 2)), ("VTI", 50, 6000, date(2026, 6, 1))])
        other = make_account("R-2", model=model, holdings=[])
        # Two fills of one sale: the first draws on R-1-L1 alone, the second on both lots.
        [order] = release(account, [sell("VTI", 120, 100.0, [("R-1-L1", 100), ("R-1-L2", 20)])], pm=pm, as_of=DAY)
        executions_import(source=execution_csv(fill("F-1", order, 60, "100", DAY), fill("F-2", order, 60, "100", DAY)),
                          actor="custodian feed", as_of=DAY)
        vti = Security.objects.get(symbol="VTI")
        # A trades file's sale (no lots), a purchase, and another account's record of the same id.
        untouched = [
            TradeRecord.objects.create(account=account, security=vti, side="sell", quantity=5, price=90, trade_date=DAY,
                                       realised_gain=Decimal("-12.00"), external_id="FILE-SALE"),
            TradeRecord.objects.create(account=account, security=vti, side="buy", quantity=5, price=90, trade_date=DAY,
                                       external_id="FILE-BUY"),
            TradeRecord.objects.create(account=other, security=vti, side="sell", quantity=5, price=90, trade_date=DAY,
                                       realised_gain=Decimal("7.00"), external_id="F-1"),
        ]
        kept = {t.pk: (t.realised_gain, t.realised_loss) for t in untouched}
        sales = list(TradeRecord.objects.filter(account=account, external_id__in=["F-1", "F-2"]))
        lots = list(RealisedLot.objects.filter(account=account).select_related("execution"))
        assert len(sales) == 2 and len(lots) == 3
        rng = random.Random(20261207)
        seen = set()

        for _ in range(25):
            # Given: lots restated by some replay, the records left stale.
            for lot in lots:
                lot.gain = Decimal(rng.randint(-90000, 90000)) / 100
                lot.cost_basis = lot.proceeds - lot.gain
            RealisedLot.objects.bulk_update(lots, ["gain", "cost_basis"])
            for sale in sales:
                sale.realised_gain = Decimal(rng.randint(-9000, 9000)) / 100
                sale.realised_loss = rng.choice([None, Decimal(0), Decimal("-1.00")])
            TradeRecord.objects.bulk_update(sales, ["realised_gain", "realised_loss"])

            restated(apps, None)

            # Then: the plain definitions, sale by sale.
            for sale in sales:
                gains = [lot.gain for lot in lots if lot.execution.external_id == sale.external_id]
                sale.refresh_from_db()
                assert sale.realised_gain == sum(gains)
                assert sale.realised_loss == sum(g for g in gains if g < 0)
                seen.add(sale.realised_gain < 0)
            assert {t.pk: (t.realised_gain, t.realised_loss) for t in TradeRecord.objects.filter(
                pk__in=kept)} == kept
        assert seen == {True, False}
