"""The account page's "target" column comes from the proposal the account is aimed at - its latest
open, released or executed one, made to its current model version - or else from its model; never
from a rejected, expired or superseded proposal (a browser audit: /accounts/181/ showed "VTI target
1.03%", a one-off instruction's target of rejected proposal #188)."""

import random
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from frontend.views.accounts import _targets_proposal
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import ModelVersion, Proposal, RebalanceRun, Sleeve, SleeveHolding
from rebalancing.services.book import SleeveSpec, model_version_create

pytestmark = pytest.mark.django_db

S = Proposal.Status
# The book's model: us_equity 60% (VTI 80%, XLE 20%), bonds 30%, real estate 10%, less a 1% cash target.
MODEL_VTI = "47.52%"  # 0.6 x 0.8 x 0.99


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def _vti_target(page: str) -> str:
    """The target column of VTI's row in the holdings table (value, weight now, target, drift)."""
    row = re.search(r'<tr><td style="padding-left:24px">VTI <(?:(?!</tr>).)*</tr>', page)
    assert row, "no VTI row"
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(0))
    return cells[2]


def _doctored(proposal: Proposal, vti: float) -> None:
    """The proposal's targets with VTI at ``vti`` (what a one-off instruction's target looks like)."""
    result = dict(proposal.result)
    result["targets"] = {**result["targets"], "VTI": vti}
    Proposal.objects.filter(pk=proposal.pk).update(result=result)


@pytest.mark.parametrize("status", [S.REJECTED, S.SUPERSEDED, S.EXPIRED])
def test_a_proposal_no_longer_standing_gives_no_target(book, as_user, status):
    # Given F-000's latest proposal, with VTI's target at 1.03%, is no longer standing
    account = book["mine"][0]
    proposal = Proposal.objects.get(account=account, run=book["run"])
    _doctored(proposal, 0.0103)
    Proposal.objects.filter(pk=proposal.pk).update(status=status)

    # When its advisor opens the account page
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))

    # Then the targets are the model's, and the page says so
    assert _vti_target(page) == MODEL_VTI
    assert "1.03%" not in page
    assert ("Targets are the model's weights less the cash target (no open, released or executed proposal to its "
            "current version") in page


@pytest.mark.parametrize("status", [S.PENDING, S.APPROVED, S.RELEASED, S.EXECUTED])
def test_the_standing_proposal_gives_the_targets_and_is_named(book, as_user, status):
    account = book["mine"][0]
    proposal = Proposal.objects.get(account=account, run=book["run"])
    _doctored(proposal, 0.0103)
    Proposal.objects.filter(pk=proposal.pk).update(status=status)

    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))

    assert _vti_target(page) == "1.03%"
    assert f"Targets are the engine's, from proposal #{proposal.pk} of " in page


def test_a_rejected_proposal_after_a_standing_one_leaves_the_standing_ones_targets(book, as_user):
    # Given an executed proposal (VTI 50%), then a later one-off proposal (VTI 1.03%) rejected
    account = book["mine"][0]
    executed = Proposal.objects.get(account=account, run=book["run"])
    _doctored(executed, 0.5)
    Proposal.objects.filter(pk=executed.pk).update(status=S.EXECUTED)
    run = RebalanceRun.objects.create(scope={"account_ids": [account.pk]}, as_of=book["run"].as_of, total=1)
    rejected = Proposal.objects.create(run=run, account=account, status=S.REJECTED, parameters={},
                                       model_version=executed.model_version, inputs_fingerprint="f" * 64,
                                       result={**executed.result, "targets": {**executed.result["targets"],
                                                                               "VTI": 0.0103}})

    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))

    assert _vti_target(page) == "50.00%"
    assert f"from proposal #{executed.pk} of" in page and f"from proposal #{rejected.pk}" not in page


def test_a_proposal_to_an_earlier_model_version_gives_no_target(book, people, as_user):
    # Given an executed proposal, then a new version of the model (which supersedes only open ones)
    account = book["mine"][0]
    executed = Proposal.objects.get(account=account, run=book["run"])
    _doctored(executed, 0.0103)
    Proposal.objects.filter(pk=executed.pk).update(status=S.EXECUTED)
    model_version_create(model=book["model"], user=people["admin"], note="more bonds", sleeves=[
        SleeveSpec("us_equity", Decimal("0.5"), {"VTI": Decimal("0.8"), "XLE": Decimal("0.2")}),
        SleeveSpec("bonds", Decimal("0.4"), {"BND": Decimal(1)}),
        SleeveSpec("real_estate", Decimal("0.1"), {"VNQ": Decimal(1)})])

    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))

    assert _vti_target(page) == "39.60%"  # the new version's: 0.5 x 0.8 x 0.99


def test_the_targets_proposal_matches_a_plain_reading_over_random_histories(book, people):
    # The proposal read is the latest (by creation) whose status is not rejected, expired or
    # superseded and whose model version is the account's current one; none when there is none.
    account = book["mine"][1]
    Proposal.objects.filter(account=account).delete()
    model = book["model"]
    old = model.current_version
    new = ModelVersion.objects.create(model=model, number=old.number + 1)
    for sleeve in old.sleeves.all():
        copy = Sleeve.objects.create(version=new, asset_class=sleeve.asset_class, weight=sleeve.weight)
        SleeveHolding.objects.bulk_create([SleeveHolding(sleeve=copy, security=h.security, weight=h.weight)
                                           for h in sleeve.holdings.all()])
    [inputs] = rebalance_inputs_load([account.pk], as_of=timezone.localdate())
    assert inputs.model_version_id == new.pk
    rng = random.Random(188)
    runs = [RebalanceRun.objects.create(scope={"account_ids": [account.pk]}, as_of=book["run"].as_of, total=1)
            for _ in range(5)]  # one proposal per account per run
    for case in range(25):
        Proposal.objects.filter(account=account).delete()
        made = []
        for run in runs[:rng.randint(0, 5)]:
            status, version = rng.choice(list(S.values)), rng.choice([old, new])
            made.append(Proposal.objects.create(run=run, account=account, status=status, model_version=version,
                                                parameters={}, inputs_fingerprint="f" * 64, result={"targets": {}}))
        standing = [p for p in made if p.status not in ("rejected", "expired", "superseded")
                    and p.model_version_id == new.pk]
        expected = standing[-1] if standing else None
        assert _targets_proposal(people["advisor"], account, inputs) == expected, (
            case, [(p.pk, p.status, p.model_version_id) for p in made])
