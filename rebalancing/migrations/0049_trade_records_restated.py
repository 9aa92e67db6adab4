from decimal import Decimal

from django.db import migrations
from django.db.models import Exists, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Least


def trade_records_restated(apps, schema_editor):
    """Each sale with realised lots says what its lots now say, as ``ledger.adjustments._trades_restate``
    writes it since 2026-12-07: the net gain, and the losing lots' losses. A sale a replay had restated
    before then kept its fill-time figures, and a run read a loss sale as a gain (and washed it)."""
    TradeRecord = apps.get_model("rebalancing", "TradeRecord")
    RealisedLot = apps.get_model("rebalancing", "RealisedLot")
    lots = RealisedLot.objects.filter(account_id=OuterRef("account_id"), execution__external_id=OuterRef("external_id"))
    per_sale = lots.order_by().values("account_id")
    TradeRecord.objects.filter(Exists(lots), side="sell").update(
        realised_gain=Subquery(per_sale.annotate(total=Sum("gain")).values("total")),
        realised_loss=Subquery(per_sale.annotate(loss=Sum(Least("gain", Value(Decimal(0))))).values("loss")))


class Migration(migrations.Migration):

    dependencies = [
        ("rebalancing", "0048_proposal_chosen_by"),
    ]

    operations = [
        migrations.RunPython(trade_records_restated, migrations.RunPython.noop),
    ]
