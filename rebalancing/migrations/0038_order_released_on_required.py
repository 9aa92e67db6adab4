from django.db import migrations, models


class Migration(migrations.Migration):
    """Required once every order has its day (0037); a migration of its own, so the table is altered
    outside the transaction that wrote the rows."""

    dependencies = [
        ("rebalancing", "0037_order_released_on"),
    ]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="released_on",
            field=models.DateField(help_text="The day the proposal was released"),
        ),
    ]
