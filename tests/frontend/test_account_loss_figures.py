"""The account page and the dashboard name each loss figure for what it is: every unrealised loss,
the part past the harvest thresholds (the account's, or the defaults when harvesting is off), and the
dashboard's sum of harvest alerts (an auditor's round on the Acme demo)."""

import re

import pytest

from rebalancing.models import Account, Alert

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def _stat(page: str, testid: str) -> str:
    return re.sub(r"<[^>]+>", " ", page.split(f'data-testid="{testid}">')[1].split("</div>")[0])


def test_the_account_page_tells_unrealised_losses_from_those_harvestable_under_its_thresholds(book, as_user):
    # Given F-000 (BND 150 x 80 on a 13,500 basis: -1,500, 11%; VNQ 40 x 90 on 4,200: -600, 14%) harvesting
    # with a 1,000 floor per position
    account = book["mine"][0]
    Account.objects.filter(pk=account.pk).update(
        overrides={"harvest": {"enabled": True, "min_loss_value": 1000.0, "min_loss_pct": 0.05}})
    # When its page is shown
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    # Then every unrealised loss is one figure and the part past the thresholds (BND's) another
    assert "Losses available to harvest" not in page
    assert "Unrealised losses, every losing lot" in _stat(page, "unrealised-losses")
    assert "−$2,100" in _stat(page, "unrealised-losses")
    harvestable = " ".join(_stat(page, "harvestable").split())
    assert "Harvestable under the account's thresholds" in harvestable and "−$1,500" in harvestable
    assert "1 position whose lots down at least 5.0% lose at least $1,000" in harvestable
    assert "harvesting is off" not in harvestable


def test_with_harvesting_off_the_page_says_so_and_which_thresholds_it_measured(book, as_user):
    # Given F-000 with harvesting off (the template's default): the engine's alerts use the default
    # thresholds (5%, $500), which BND and VNQ both pass
    account = book["mine"][0]
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    harvestable = " ".join(_stat(page, "harvestable").split())
    assert "Past the default harvest thresholds" in harvestable and "−$2,100" in harvestable
    assert "2 positions" in harvestable and "harvesting is off for this account: not harvested" in harvestable
    assert "Harvestable under the account's thresholds" not in page


def test_the_dashboard_says_its_harvest_amount_is_the_alerts_positions(book, as_user):
    # Given open harvest alerts from the accounts' latest run
    assert Alert.objects.filter(kind=Alert.Kind.HARVEST, resolved_at__isnull=True).exists()
    # When the dashboard is shown
    page = text(as_user("pm").get("/"))
    # Then its amount says what it sums
    assert "of losses that could be realised" not in page
    assert ("of unrealised losses past the harvest thresholds, in every position the alerts name "
            "(harvesting on or off)") in page
