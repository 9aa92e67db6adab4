import datetime

from django.db import migrations, models


def released_on_backfill(apps, schema_editor):
    """The release day of the orders made before the field: their block id's ("B20261205-BUY-VTI"),
    else the day they were created."""
    Order = apps.get_model("rebalancing", "Order")
    for order in Order.objects.only("pk", "block_id", "created_at").iterator():
        try:
            day = datetime.datetime.strptime(order.block_id[1:9], "%Y%m%d").date()
        except ValueError:
            day = order.created_at.date()
        Order.objects.filter(pk=order.pk).update(released_on=day)


class Migration(migrations.Migration):

    dependencies = [
        ("rebalancing", "0036_household_sole_filer"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="released_on",
            field=models.DateField(null=True, help_text="The day the proposal was released"),
        ),
        migrations.RunPython(released_on_backfill, migrations.RunPython.noop),
    ]
