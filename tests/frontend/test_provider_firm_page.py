"""A client firm's own page on the provider console (/firms/<slug>/): its hosts, status, usage over
time, runs of the last 30 days with their outcomes, API keys and first admin; where provider admins
rename it, add and remove hosts and send its first admin a new invitation - each audited in the
provider's trail and the firm's. Operators read it and start a run there, as of a day they choose."""

import re
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import RebalanceRun, RunOutcome
from tenants.api_keys.models import ApiKey
from tenants.audit.models import AuditEvent
from tenants.models import Domain, Firm, FirmUsage
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _provider_client(role):
    with schema_context("public"):
        user = user_ensure(username=f"{role}@firm-page.test", email=f"{role}@firm-page.test", roles=[role],
                           password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


@pytest.fixture
def admin():
    return _provider_client(ProviderRole.PROVIDER_ADMIN)


@pytest.fixture
def operator():
    return _provider_client(ProviderRole.PROVIDER_OPERATOR)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _provider_events(action):
    with schema_context("public"):
        return list(AuditEvent.objects.filter(action=action))


def test_the_console_links_each_firm_to_its_page_which_says_hosts_status_usage_runs_and_keys(firm_a, book, operator):
    with schema_context("public"):
        for users, active in ((3, 1), (5, 4)):
            FirmUsage.objects.create(firm=firm_a, schema_name=firm_a.schema_name, users=users, active_users=active)
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope={"firm": True}, as_of=date(2026, 1, 5), status="completed",
                                          total=4, done=4, failed=1)
        accounts = book["accounts"]
        RunOutcome.objects.create(run=run, account=accounts[0], outcome=RunOutcome.Outcome.FAILED)
        for a in accounts[1:]:
            RunOutcome.objects.create(run=run, account=a, outcome=RunOutcome.Outcome.PROPOSED)
        old = RebalanceRun.objects.create(scope={"firm": True}, as_of=date(2026, 1, 5), status="completed")
        RebalanceRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
        owner = get_user_model().objects.get(username="admin@pages.example")
        ApiKey.objects.create(name="custodian feed", user=owner, prefix="abcd1234", secret_sha256="0" * 64,
                              scopes=["read"], last_used_at=timezone.now().replace(year=2026, month=11, day=30))

    assert f'href="/firms/{firm_a.slug}/"' in text(operator.get("/"))
    page = text(operator.get(f"/firms/{firm_a.slug}/"))

    assert f"<h1>{firm_a.name} " in page and ">Active</span>" in page
    assert f'href="//{firm_a.slug}.localhost:80/">{firm_a.slug}.localhost</a>' in page and "main host" in page
    usage = page.split('data-testid="firm-usage"')[1]
    assert re.search(r'<td class="num">5</td><td class="num">4</td>.*<td class="num">3</td><td class="num">1</td>',
                     usage)
    assert 'data-chart="chart-usage"' in usage  # two counts: a line over time
    runs = page.split('data-testid="firm-runs"')[1].split("</section>")[0]
    assert f"Run {run.pk}</a>" in runs and f"Run {old.pk}<" not in runs  # the last 30 days only
    assert re.search(rf'<td class="num">4</td><td class="num">3</td><td class="num">0</td><td class="num loss">'
                     rf'<a href="/runs/{firm_a.slug}/{run.pk}/#failures">1</a>', runs)
    keys = page.split('data-testid="api-keys"')[1].split("</div>")[0]
    assert "<dd>1" in keys and "last used 2026-11-30" in keys
    assert f'href="/audit/?firm={firm_a.slug}"' in page
    # an operator reads, and changes nothing
    assert "/name/" not in page and 'value="add"' not in page and "E-mail a new invitation" not in page


def test_a_provider_admin_renames_a_firm_audited_and_another_firms_name_is_refused(firm_a, firm_b, admin, operator):
    old = firm_a.name
    done = text(admin.post(f"/firms/{firm_a.slug}/name/", {"name": "  Firm A   Partners "}, follow=True))

    assert f"{old} is now called Firm A Partners" in done
    firm_a.refresh_from_db()
    assert firm_a.name == "Firm A Partners"
    (event,) = _provider_events("firm.rename")
    assert (event.before, event.after, event.actor) == ({"name": old}, {"name": "Firm A Partners"},
                                                       "provider_admin@firm-page.test")
    with schema_context(firm_a.schema_name):
        assert AuditEvent.objects.filter(action="firm.rename").count() == 1

    refused = text(admin.post(f"/firms/{firm_a.slug}/name/", {"name": firm_b.name.upper()}, follow=True))
    assert f"A firm named &#x27;{firm_b.name}&#x27; is already onboarded" in refused
    assert f'value="{firm_b.name.upper()}" aria-invalid="true"' in refused  # what was typed, marked
    firm_a.refresh_from_db()
    assert firm_a.name == "Firm A Partners" and len(_provider_events("firm.rename")) == 1
    assert operator.post(f"/firms/{firm_a.slug}/name/", {"name": "X"}).status_code == 403


def test_a_provider_admin_adds_and_removes_a_host_audited_and_the_providers_own_host_is_named_as_such(
        firm_a, firm_b, admin):
    page = text(admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "add", "domain": " Second.localhost "},
                           follow=True))
    assert f"{firm_a.name} is now also served at second.localhost" in page
    assert Domain.objects.filter(tenant=firm_a, domain="second.localhost", is_primary=False).exists()
    (added,) = _provider_events("firm.host_add")
    assert added.after == {"hosts": [f"{firm_a.slug}.localhost", "second.localhost"], "added": "second.localhost"}

    own = text(admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "add", "domain": "localhost"}, follow=True))
    assert "&#x27;localhost&#x27; is the provider&#x27;s own address (this console)" in own
    assert "another firm" not in own and 'value="localhost" aria-invalid="true"' in own
    theirs = text(admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "add", "domain": f"{firm_b.slug}.localhost"},
                             follow=True))
    assert f"already belongs to another firm ({firm_b.name}" in theirs
    dead = text(admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "add", "domain": "a.evil.com"}, follow=True))
    assert "This deployment does not serve &#x27;a.evil.com&#x27;" in dead
    assert len(_provider_events("firm.host_add")) == 1

    main = text(admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "remove", "domain": f"{firm_a.slug}.localhost"},
                           follow=True))
    assert f"is {firm_a.name}&#x27;s main host" in main and "Make another of its hosts the main one first" in main
    assert Domain.objects.filter(tenant=firm_a, domain=f"{firm_a.slug}.localhost").exists()

    gone = text(admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "remove", "domain": "second.localhost"},
                           follow=True))
    assert f"{firm_a.name} is no longer served at second.localhost" in gone
    assert not Domain.objects.filter(domain="second.localhost").exists()
    (removed,) = _provider_events("firm.host_remove")
    assert removed.after == {"hosts": [f"{firm_a.slug}.localhost"], "removed": "second.localhost"}
    with schema_context(firm_a.schema_name):
        assert AuditEvent.objects.filter(action__in=["firm.host_add", "firm.host_remove"]).count() == 2
    other = text(admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "remove", "domain": f"{firm_b.slug}.localhost"},
                            follow=True))
    assert f"{firm_a.name} is not served at &#x27;{firm_b.slug}.localhost&#x27;" in other
    assert Domain.objects.filter(tenant=firm_b).exists()


def test_another_host_becomes_the_main_one_and_the_old_main_one_can_then_go(firm_a, admin):
    admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "add", "domain": "new-a.localhost"})

    page = text(admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "primary", "domain": "new-a.localhost"},
                           follow=True))

    assert f"new-a.localhost is now {firm_a.name}&#x27;s main host" in page
    assert firm_a.primary_domain == "new-a.localhost"
    assert Domain.objects.filter(tenant=firm_a, is_primary=True).count() == 1
    (event,) = _provider_events("firm.host_primary")
    assert event.before == {"main_host": f"{firm_a.slug}.localhost"} and event.after == {"main_host": "new-a.localhost"}
    admin.post(f"/firms/{firm_a.slug}/hosts/", {"do": "remove", "domain": f"{firm_a.slug}.localhost"})
    assert list(firm_a.domains.values_list("domain", flat=True)) == ["new-a.localhost"]


def test_the_first_admin_is_shown_and_an_invited_one_gets_a_new_link_audited(firm_a, admin):
    page = text(admin.get(f"/firms/{firm_a.slug}/"))
    assert f"{firm_a.admin_email}" in page and ">active</span> has chosen a password" in page
    refused = text(admin.post(f"/firms/{firm_a.slug}/invite/", follow=True))
    assert "has already chosen a password" in refused and not mail.outbox

    with schema_context(firm_a.schema_name):
        first = get_user_model().objects.get(username=firm_a.admin_email)
        first.set_unusable_password()
        first.save()
    page = text(admin.get(f"/firms/{firm_a.slug}/"))
    assert ">invited</span> has not chosen a password yet" in page and "E-mail a new invitation" in page

    done = text(admin.post(f"/firms/{firm_a.slug}/invite/", follow=True))

    assert f"{firm_a.admin_email} has been e-mailed a new link" in done
    (sent,) = mail.outbox
    assert sent.to == [firm_a.admin_email] and f"://{firm_a.slug}.localhost/" in sent.body
    (event,) = _provider_events("firm.admin_invite")
    assert event.after == {"admin": firm_a.admin_email, "host": f"{firm_a.slug}.localhost", "again": True}
    with schema_context(firm_a.schema_name):
        assert AuditEvent.objects.filter(action="user.invite.resend", object_id=str(first.pk)).count() == 1


def test_the_firm_page_suspends_and_reactivates_back_to_itself_and_offers_no_delete(firm_a, admin):
    page = text(admin.get(f"/firms/{firm_a.slug}/"))
    assert "Onboarded by mistake? Suspend it" in page and "does not delete a firm" in page

    done = admin.post(f"/firms/{firm_a.slug}/status/", {"status": "suspended", "reason": "Signed by mistake",
                                                         "next": f"/firms/{firm_a.slug}/"})

    assert done["Location"] == f"/firms/{firm_a.slug}/"
    page = text(admin.get(f"/firms/{firm_a.slug}/"))
    assert ">Suspended</span>" in page and "Signed by mistake" in page and ">Reactivate</button>" in page
    firm_a.refresh_from_db()
    assert firm_a.status == Firm.Status.SUSPENDED


def test_an_unknown_firm_is_a_404(admin):
    assert admin.get("/firms/no-such-firm/").status_code == 404
    assert admin.post("/firms/no-such-firm/name/", {"name": "X"}).status_code == 404


def test_an_operator_starts_a_run_from_the_firm_page_as_of_a_day_they_choose(firm_a, book, operator,
                                                                               django_capture_on_commit_callbacks):
    page = text(operator.get(f"/firms/{firm_a.slug}/"))
    assert 'name="as_of"' in page and f'name="firm" value="{firm_a.slug}"' in page

    with django_capture_on_commit_callbacks():
        done = text(operator.post("/runs/start/", {"firm": firm_a.slug, "as_of": "2026-01-05",
                                                   "next": f"/firms/{firm_a.slug}/"}, follow=True))

    provider_runs = RebalanceRun.objects.filter(started_by_label="provider_operator@firm-page.test (provider)")
    with tenant_context(firm_a):
        run = provider_runs.get()
    assert run.as_of == date(2026, 1, 5) and run.scope == {"firm": True}
    assert f"Run {run.pk} started in {firm_a.name} as of 2026-01-05" in done

    typo = operator.post("/runs/start/", {"firm": firm_a.slug, "as_of": "5/1/2026", "next": f"/firms/{firm_a.slug}/"})
    assert typo["Location"] == f"/firms/{firm_a.slug}/"
    said = text(operator.get(f"/firms/{firm_a.slug}/"))
    assert "The run&#x27;s day “5/1/2026” is not a day: write it YYYY-MM-DD. No run was started." in said
    ahead = text(operator.post("/runs/start/", {"firm": firm_a.slug, "as_of": "2099-01-01"}, follow=True))
    assert "The run&#x27;s day must be from 1900-01-01 to today" in ahead and "No run was started." in ahead
    with tenant_context(firm_a):
        assert provider_runs.count() == 1
