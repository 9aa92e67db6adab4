from decimal import Decimal

from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Least


def losses_from_realised_lots(apps, schema_editor):
    """A sale booked from a fill has its lots: their losses. An imported trade has none (left empty)."""
    TradeRecord = apps.get_model("rebalancing", "TradeRecord")
    RealisedLot = apps.get_model("rebalancing", "RealisedLot")
    losses = (RealisedLot.objects.filter(account_id=OuterRef("account_id"), execution__external_id=OuterRef("external_id"))
              .order_by().values("account_id").annotate(loss=Sum(Least("gain", Value(Decimal(0))))).values("loss"))
    TradeRecord.objects.filter(side="sell").exclude(external_id="").update(realised_loss=Subquery(losses))


class Migration(migrations.Migration):

    dependencies = [
        ("rebalancing", "0039_orderings_end_with_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="traderecord",
            name="realised_loss",
            field=models.DecimalField(blank=True, decimal_places=2, help_text="The sale's losing lots' losses (0 or negative); empty where its lots are unknown (an imported trade)", max_digits=18, null=True),
        ),
        migrations.RunPython(losses_from_realised_lots, migrations.RunPython.noop),
    ]
