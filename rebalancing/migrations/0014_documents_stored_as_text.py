"""Results, household results and backtest reports stored as text (``DocumentField``): the server no
longer parses each document on the way in. ``json`` to ``text`` keeps every stored document as it was
written. Django's autodetector does not see a change of ``db_type`` alone, hence SQL."""

from django.db import migrations

_COLUMNS = (
    ("rebalancing_proposal", "result"),
    ("rebalancing_householdproposal", "result"),
    ("rebalancing_backtest", "report"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("rebalancing", "0013_security_harvest_substitute"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE text' for table, column in _COLUMNS],
            reverse_sql=[
                f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE json USING "{column}"::json'
                for table, column in _COLUMNS
            ],
        ),
    ]
