"""The what-if services behind the pages: they solve with the real engine and store nothing."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from rebalancing.services.book import SleeveSpec
from rebalancing.services.previews import (
    account_overrides_preview,
    account_overrides_save,
    model_change_preview,
    template_change_preview,
)
from tenants.audit.models import AuditEvent
from tenants.errors import NotFound, PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db


def test_an_account_preview_compares_current_and_candidate_parameters(book, people, firm_a):
    with tenant_context(firm_a):
        account = book["mine"][0]
        proposals = Proposal.objects.count()
        preview = account_overrides_preview(account=account, overrides={"cash": {"target": 0.05}},
                                            user=people["advisor"], as_of=book["run"].as_of)
        assert preview.current.trade_count > 0 and not preview.candidate.error
        assert preview.candidate.summary["cash_after"] > preview.current.summary["cash_after"]
        assert Proposal.objects.count() == proposals
        account.refresh_from_db()
        assert account.overrides == {}


def test_an_account_preview_refuses_what_saving_would_refuse(book, people, firm_a):
    with tenant_context(firm_a):
        with pytest.raises(ValidationFailed, match="above the template's maximum"):
            account_overrides_preview(account=book["mine"][0], overrides={"cash": {"target": 0.5}},
                                      user=people["advisor"])
        with pytest.raises(NotFound):
            account_overrides_preview(account=book["theirs"][0], overrides={}, user=people["advisor"])
        with pytest.raises(PermissionDenied):
            account_overrides_preview(account=book["mine"][0], overrides={}, user=people["compliance"])


def test_overrides_the_engine_cannot_rebalance_with_are_refused_and_nothing_is_saved(book, people, firm_a):
    """The what-if said the engine cannot rebalance the account with them: saving them anyway made
    the next run fail. Now the save says so, and the account keeps what it had."""
    with tenant_context(firm_a):
        template = book["template"]
        template.overridable = {**template.overridable, "direct_index": {}}
        template.save()
        account = book["mine"][0]
        audited = AuditEvent.objects.filter(action="account.parameters").count()
        # us_equity has no benchmark to index
        with pytest.raises(ValidationFailed, match="Account overrides refused: the setting “Direct indexing” names sleeve us_equity, "
                                                   "which model Balanced has without a benchmark"):
            account_overrides_save(account=account, overrides={"direct_index": {"us_equity": {"max_names": 50}}},
                                   user=people["advisor"], as_of=book["run"].as_of)
        account.refresh_from_db()
        assert account.overrides == {}
        assert AuditEvent.objects.filter(action="account.parameters").count() == audited
        saved = account_overrides_save(account=account, overrides={"cash": {"target": 0.05}}, user=people["advisor"],
                                       as_of=book["run"].as_of)
        assert saved.overrides == {"cash": {"target": 0.05}}


def test_an_account_the_engine_already_refuses_still_takes_other_changes(book, people, firm_a):
    with tenant_context(firm_a):
        template = book["template"]
        template.overridable = {**template.overridable, "direct_index": {}}
        template.save()
        account = book["mine"][0]
        indexed = {"direct_index": {"us_equity": {"max_names": 50}}}
        type(account).objects.filter(pk=account.pk).update(overrides=indexed)
        changed = {**indexed, "cash": {"target": 0.05}}
        saved = account_overrides_save(account=account, overrides=changed, user=people["advisor"],
                                       as_of=book["run"].as_of)
        assert saved.overrides == changed


def test_a_template_preview_counts_changed_accounts_and_the_tax_of_a_screen(book, people, firm_a):
    with tenant_context(firm_a):
        parameters = {**book["template"].parameters, "screen": {"enabled": True, "excluded_tags": ["fossil_fuels"]}}
        preview = template_change_preview(template=book["template"], parameters=parameters, user=people["admin"],
                                          sample=3, as_of=book["run"].as_of)
        assert (preview.accounts_total, preview.sampled) == (4, 3)
        assert preview.changed == 3 and preview.failures_after == 0
        assert preview.estimated_tax_after > preview.estimated_tax_before
        assert all(any(t["symbol"] == "XLE" and "screen" in t["reasons"] for t in r.after.trades) for r in preview.rows)
        with pytest.raises(PermissionDenied):
            template_change_preview(template=book["template"], parameters={}, user=people["pm"])


def test_a_model_preview_solves_the_new_version_on_the_models_accounts(book, people, firm_a):
    with tenant_context(firm_a):
        sleeves = [SleeveSpec("us_equity", "0.7", {"VTI": "1"}), SleeveSpec("bonds", "0.3", {"BND": "0.5", "AGG": "0.5"})]
        preview = model_change_preview(model=book["model"], sleeves=sleeves, user=people["admin"],
                                       as_of=book["run"].as_of)
        assert preview.sampled == 4 and preview.changed == 4
        assert all(any(t["symbol"] == "AGG" and t["side"] == "buy" for t in r.after.trades) for r in preview.rows)
        with pytest.raises(ValidationFailed, match="unknown symbol"):
            model_change_preview(model=book["model"], sleeves=[SleeveSpec("x", "1", {"NOPE": "1"})],
                                 user=people["admin"])
