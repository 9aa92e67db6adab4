"""An IRA's owner name (one owner's IRAs share an RMD total, Treas. Reg. §1.408-8 Q&A-9) and its
31 December values kept by year (a first RMD deferred to 1 April needs the year before last's);
the single value and its year become the first entry."""

from django.db import migrations, models


def values_by_year(apps, schema_editor):
    Account = apps.get_model("rebalancing", "Account")
    changed = []
    for account in Account.objects.filter(year_end_year__isnull=False).only("id", "year_end_value", "year_end_year"):
        account.year_end_values = {str(account.year_end_year): f"{account.year_end_value:.2f}"}
        changed.append(account)
    Account.objects.bulk_update(changed, ["year_end_values"], batch_size=1000)


def single_value(apps, schema_editor):
    Account = apps.get_model("rebalancing", "Account")
    changed = []
    for account in Account.objects.exclude(year_end_values={}).only("id", "year_end_values"):
        year = max(account.year_end_values, key=int)
        account.year_end_year, account.year_end_value = int(year), account.year_end_values[year]
        changed.append(account)
    Account.objects.bulk_update(changed, ["year_end_year", "year_end_value"], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ("rebalancing", "0020_alert_kind_rmd"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="owner_name",
            field=models.CharField(blank=True, default="", db_default="", max_length=200, help_text="The IRA's owner: a household's IRAs with "
                                   "the same owner and date of birth share one RMD total"),
        ),
        migrations.AddField(
            model_name="account",
            name="year_end_values",
            field=models.JSONField(blank=True, default=dict, db_default=models.Value({}, models.JSONField())),
        ),
        migrations.RunPython(values_by_year, single_value),
        migrations.RemoveConstraint(model_name="account", name="account_year_end_value_with_year"),
        migrations.RemoveField(model_name="account", name="year_end_value"),
        migrations.RemoveField(model_name="account", name="year_end_year"),
    ]
