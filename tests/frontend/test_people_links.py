"""A firm admin's day in the browser, beyond inviting: a new invitation link for someone who never chose
a password, a password-reset link for someone who forgot theirs, a person's name; and "Forgot your
password?" on the sign-in page of a firm's host and of the provider's. Each e-mailed link is followed
to choose a password and sign in; each change is checked against its audit row."""

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from frontend.tasks import password_link_send
from frontend.views.auth import LINKS_PER_ADDRESS, REQUESTS_PER_CLIENT
from rebalancing import dispatch
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole, ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "pale-ochre-kestrel-9"


@pytest.fixture(autouse=True)
def _no_counted_requests():
    cache.clear()  # "Forgot your password?" counts requests in the cache; each test starts at none
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def links_sent(monkeypatch):
    """"Forgot your password?" hands the link to a worker: here the worker's task runs where it is sent
    (the request's schema), and each message is kept to show what the page sent it."""
    sent = []

    def send(task, *args):
        sent.append((task, args))
        if task == dispatch.PASSWORD_LINK_SEND:
            password_link_send(*args)

    monkeypatch.setattr(dispatch, "send", send)
    return sent


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def _link_path(message) -> str:
    """The path of the one set-password link in an e-mail, whatever its host."""
    (link,) = re.findall(r"https?://\S+/accounts/set-password/\S+/", message.body)
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def _choose_password(client: Client, path: str, password: str = NEW_PASSWORD):
    form = client.get(path, follow=True)
    assert form.status_code == 200 and 'name="new_password1"' in text(form), text(form)[:400]
    return client.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


def _signs_in(host: str, username: str, password: str) -> bool:
    response = Client(HTTP_HOST=host).post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


def _invited(firm, email: str):
    from rebalancing.services.people import FIRM_PEOPLE
    from tenants import people as people_rules

    with tenant_context(firm):
        return people_rules.invite(FIRM_PEOPLE, email=email, first_name="Ivy", last_name="New",
                                   roles=[FirmRole.ADVISOR], by=None, site_url="http://firm-a.localhost/")


def _audit(firm, action: str):
    with tenant_context(firm):
        return list(AuditEvent.objects.filter(action=action).order_by("at", "id"))


# --- A new invitation link ------------------------------------------------------------------------

def test_an_invited_person_is_sent_a_new_link_and_chooses_a_password_with_it(
        firm_a, people, as_user, mailoutbox, django_capture_on_commit_callbacks):
    ivy = _invited(firm_a, "ivy@pages.example")
    client = as_user("admin")
    page = text(client.get("/people/"))
    assert 'aria-label="Send ivy@pages.example a new invitation link"' in page
    assert 'aria-label="Send ivy@pages.example a link to choose a new password"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/people/", {"action": "resend", "user": ivy.pk})

    assert response.status_code == 302
    assert "Sent a new invitation link to ivy@pages.example" in text(client.get("/people/"))
    (sent,) = mailoutbox
    assert sent.to == ["ivy@pages.example"] and sent.subject == "You are invited to the rebalancing service"
    assert "Admin has given you an account (ivy@pages.example) with the role(s) Advisor" in sent.body
    assert "://firm-a.localhost/accounts/set-password/" in sent.body
    (resent,) = _audit(firm_a, "user.invite.resend")
    assert resent.actor == "admin@pages.example" and resent.object_id == str(ivy.pk)

    done = _choose_password(Client(HTTP_HOST="firm-a.localhost"), _link_path(sent))
    assert done.status_code == 302 and done["Location"] == "/accounts/login/"
    assert _signs_in("firm-a.localhost", "ivy@pages.example", NEW_PASSWORD)
    (chosen,) = _audit(firm_a, "auth.password_set")
    assert chosen.actor == "ivy@pages.example" and chosen.after == {"first_password": True}


def test_no_new_invitation_for_someone_with_a_password_or_deactivated(
        firm_a, people, as_user, mailoutbox, django_capture_on_commit_callbacks):
    client = as_user("admin")
    with django_capture_on_commit_callbacks(execute=True):
        has_one = client.post("/people/", {"action": "resend", "user": people["advisor"].pk})
    assert has_one.status_code == 400
    assert "advisor@pages.example has already chosen a password; send them a password-reset link instead" \
        in text(has_one)
    ivy = _invited(firm_a, "ivy@pages.example")
    mailoutbox.clear()
    client.post("/people/", {"action": "deactivate", "user": ivy.pk})
    with django_capture_on_commit_callbacks(execute=True):
        gone = client.post("/people/", {"action": "resend", "user": ivy.pk})
    assert gone.status_code == 400 and "ivy@pages.example is deactivated" in text(gone)
    assert mailoutbox == [] and _audit(firm_a, "user.invite.resend") == []


# --- A password-reset link ------------------------------------------------------------------------

def test_a_person_who_forgot_is_sent_a_link_and_their_password_works_until_they_use_it(
        firm_a, people, as_user, client_for, mailoutbox, django_capture_on_commit_callbacks):
    advisor = people["advisor"]
    client = as_user("admin")
    assert 'aria-label="Send advisor@pages.example a link to choose a new password"' in text(client.get("/people/"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/people/", {"action": "reset", "user": advisor.pk}, follow=True)

    assert "Sent a password-reset link to advisor@pages.example" in text(response)
    (sent,) = mailoutbox
    assert sent.to == ["advisor@pages.example"] and "Your current password keeps working" in sent.body
    assert "Admin has sent you a link" in sent.body and "http://firm-a.localhost" in sent.body
    (reset,) = _audit(firm_a, "user.password_reset")
    assert reset.actor == "admin@pages.example" and reset.object_id == str(advisor.pk)
    with tenant_context(firm_a):  # nothing changed yet: the old password is still theirs
        assert get_user_model().objects.get(pk=advisor.pk).check_password(PASSWORD)

    done = _choose_password(client_for(firm_a), _link_path(sent))

    assert done.status_code == 302
    assert not _signs_in("firm-a.localhost", advisor.username, PASSWORD)
    assert _signs_in("firm-a.localhost", advisor.username, NEW_PASSWORD)
    assert "has been used already" in text(client_for(firm_a).get(_link_path(sent), follow=True))
    assert _audit(firm_a, "auth.password_set")[-1].after == {"first_password": False}


def test_no_reset_link_for_a_deactivated_or_invited_person_or_another_firms(
        firm_a, firm_b, people, as_user, mailoutbox, django_capture_on_commit_callbacks):
    client = as_user("admin")
    pm = people["pm"]
    client.post("/people/", {"action": "deactivate", "user": pm.pk})
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post("/people/", {"action": "reset", "user": pm.pk})
    assert refused.status_code == 400
    page = text(refused)
    assert "pm@pages.example is deactivated: a password-reset link is only for people who may sign in" in page
    assert re.search(r'<div class="error" role="alert">pm@pages.example is deactivated', page)  # on their row

    ivy = _invited(firm_a, "ivy@pages.example")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invited = client.post("/people/", {"action": "reset", "user": ivy.pk})
    assert invited.status_code == 400 and "has not chosen a password yet; send them a new invitation" in text(invited)

    # A user of firm B, whose id is no one's in firm A: not found, nothing sent, nothing changed there.
    User = get_user_model()
    with tenant_context(firm_a):
        unused = max(User.objects.values_list("pk", flat=True)) + 1000
    with tenant_context(firm_b):
        bob = User.objects.create_user(pk=unused, username="bob@firm-b.example", email="bob@firm-b.example",
                                       password=PASSWORD, first_name="Bob")
    for action in ("reset", "resend", "name"):
        with django_capture_on_commit_callbacks(execute=True):
            other = client.post("/people/", {"action": action, "user": bob.pk, "first_name": "Robert"})
        assert other.status_code == 404, action
    assert mailoutbox == [] and _audit(firm_a, "user.password_reset") == []
    with tenant_context(firm_b):
        assert User.objects.get(pk=bob.pk).first_name == "Bob"
        assert not AuditEvent.objects.filter(action__in=["user.password_reset", "user.name"]).exists()


def test_only_those_who_manage_people_send_links_or_set_names(firm_a, people, as_user, mailoutbox):
    for role in ("pm", "advisor", "compliance"):
        for action in ("reset", "resend", "name"):
            assert as_user(role).post("/people/", {"action": action, "user": people["colleague"].pk,
                                                   "first_name": "X"}).status_code == 403
    assert mailoutbox == []
    with tenant_context(firm_a):
        assert get_user_model().objects.get(pk=people["colleague"].pk).first_name == "Colleague"


# --- A person's name ------------------------------------------------------------------------------

def test_a_firm_admin_sets_a_persons_name_with_before_and_after_in_the_audit(firm_a, people, as_user):
    client = as_user("admin")
    advisor = people["advisor"]

    page = text(client.post("/people/", {"action": "name", "user": advisor.pk, "first_name": " Ada ",
                                         "last_name": "Lovelace"}, follow=True))

    assert "Name of advisor@pages.example saved." in page and "Ada Lovelace" in page
    with tenant_context(firm_a):
        advisor.refresh_from_db()
        assert (advisor.first_name, advisor.last_name) == ("Ada", "Lovelace")
    (named,) = _audit(firm_a, "user.name")
    assert named.actor == "admin@pages.example"
    assert named.before == {"first_name": "Advisor", "last_name": ""}
    assert named.after == {"first_name": "Ada", "last_name": "Lovelace"}
    # the same name again changes nothing and records nothing
    client.post("/people/", {"action": "name", "user": advisor.pk, "first_name": "Ada", "last_name": "Lovelace"})
    assert len(_audit(firm_a, "user.name")) == 1


def test_a_name_too_long_is_named_kept_as_typed_on_the_row_and_not_saved(firm_a, people, as_user):
    advisor = people["advisor"]
    response = as_user("admin").post("/people/", {"action": "name", "user": advisor.pk, "first_name": "Ada",
                                                  "last_name": "L" * 151})

    assert response.status_code == 400
    page = response.content.decode()
    assert "The last name of advisor@pages.example is 151 characters long; at most 150 fit." in html.unescape(page)
    assert f'value="{"L" * 151}"' in page  # as typed, to shorten
    assert re.search(rf'<details open>.*?id="first-{advisor.pk}"', page, re.S)
    with tenant_context(firm_a):
        advisor.refresh_from_db()
        assert advisor.last_name == ""
    assert _audit(firm_a, "user.name") == []


# --- "Forgot your password?" --------------------------------------------------------------------

def test_forgot_password_on_a_firm_host_emails_a_link_naming_the_firm_and_its_host(
        firm_a, people, client_for, mailoutbox):
    visitor = client_for(firm_a)
    sign_in = text(visitor.get("/accounts/login/"))
    assert 'href="/accounts/reset/"' in sign_in and "Forgot your password?" in sign_in
    form = text(visitor.get("/accounts/reset/"))
    assert 'for="id_email"' in form and 'name="csrfmiddlewaretoken"' in form

    response = visitor.post("/accounts/reset/", {"email": "PM@Pages.example"}, follow=True)

    assert response.redirect_chain == [("/accounts/reset/done/", 302)] and "Check your e-mail" in text(response)
    (sent,) = mailoutbox
    assert sent.to == ["pm@pages.example"]
    assert "Firm A Wealth" in sent.subject and "Firm A Wealth, http://firm-a.localhost/" in sent.body
    assert "Your current password keeps working until you use the link" in sent.body
    (asked,) = _audit(firm_a, "auth.password_link_request")
    assert asked.actor_kind == AuditEvent.ActorKind.ANONYMOUS and asked.actor == "PM@Pages.example"
    assert asked.object_id == str(people["pm"].pk) and asked.after["invited"] is False

    assert _choose_password(client_for(firm_a), _link_path(sent)).status_code == 302
    assert _signs_in("firm-a.localhost", "pm@pages.example", NEW_PASSWORD)


def test_forgot_password_answers_the_same_whoever_the_address_is_and_sends_only_to_who_may_sign_in(
        firm_a, firm_b, people, as_user, client_for, firm_user, mailoutbox, links_sent):
    firm_user(firm_b, "bea@firm-b.example", FirmRole.ADVISOR)
    as_user("admin").post("/people/", {"action": "deactivate", "user": people["compliance"].pk})
    answers = {}
    for email in ("advisor@pages.example", "nobody@pages.example", "compliance@pages.example",
                  "bea@firm-b.example"):  # known; unknown; deactivated; another firm's
        response = client_for(firm_a).post("/accounts/reset/", {"email": email})
        done = client_for(firm_a).get(response["Location"])
        answers[email] = (response.status_code, response["Location"], done.status_code,
                          re.sub(r'"X-CSRFToken": "\w+"', "", text(done)))  # each visitor has their own token
    assert len(set(answers.values())) == 1, answers
    assert [m.to for m in mailoutbox] == [["advisor@pages.example"]]
    # the page itself did the same for each: one message to the worker, the typed address its only difference
    asked = [args for task, args in links_sent if task == dispatch.PASSWORD_LINK_SEND]
    assert [a[0] for a in asked] == list(answers) and len({a[1:] for a in asked}) == 1


def test_forgot_password_sends_an_invited_person_their_invitation_again(firm_a, people, client_for, mailoutbox):
    _invited(firm_a, "ivy@pages.example")
    mailoutbox.clear()

    client_for(firm_a).post("/accounts/reset/", {"email": "ivy@pages.example"})

    (sent,) = mailoutbox
    assert "Your invitation, sent again" in sent.subject and "have not chosen a password yet" in sent.body
    assert _choose_password(client_for(firm_a), _link_path(sent)).status_code == 302
    assert _signs_in("firm-a.localhost", "ivy@pages.example", NEW_PASSWORD)


def test_forgot_password_is_limited_per_address_and_per_client(firm_a, people, client_for, mailoutbox):
    client = client_for(firm_a)
    for _ in range(LINKS_PER_ADDRESS):
        assert client.post("/accounts/reset/", {"email": "advisor@pages.example"}).status_code == 302
    refused = client.post("/accounts/reset/", {"email": "advisor@pages.example"})
    assert refused.status_code == 429 and "Too many links were asked for" in text(refused)
    assert len(mailoutbox) == LINKS_PER_ADDRESS
    # the same refusal for an address with no account: the limit says nothing about who has one
    for _ in range(LINKS_PER_ADDRESS):
        client.post("/accounts/reset/", {"email": "nobody@pages.example"})
    assert client.post("/accounts/reset/", {"email": "nobody@pages.example"}).status_code == 429

    cache.clear()
    for n in range(REQUESTS_PER_CLIENT):
        assert client.post("/accounts/reset/", {"email": f"someone-{n}@pages.example"}).status_code == 302
    assert client.post("/accounts/reset/", {"email": "pm@pages.example"}).status_code == 429
    assert not any(m.to == ["pm@pages.example"] for m in mailoutbox)
    other_client = Client(HTTP_HOST="firm-a.localhost", REMOTE_ADDR="192.0.2.7")
    assert other_client.post("/accounts/reset/", {"email": "pm@pages.example"}).status_code == 302
    assert mailoutbox[-1].to == ["pm@pages.example"]


def test_a_used_link_offers_a_new_one(firm_a, people, client_for):
    page = text(client_for(firm_a).get("/accounts/set-password/MQ/bad-token/", follow=True))
    assert "has been used already" in page and 'href="/accounts/reset/"' in page


# --- The provider's staff: the same row actions and "Forgot your password?" on its host ------------

def _staff(username, role, **kwargs):
    with schema_context("public"):
        return user_ensure(username=username, email=username, roles=[role], password=PASSWORD, **kwargs)


def test_the_provider_admin_resets_renames_and_reinvites_staff_on_the_staff_page(
        mailoutbox, django_capture_on_commit_callbacks):
    pat = _staff("pat@provider.test", ProviderRole.PROVIDER_ADMIN)
    oli = _staff("oli@provider.test", ProviderRole.PROVIDER_OPERATOR)
    with schema_context("public"):
        admin = Client(HTTP_HOST="localhost")
        admin.force_login(pat)

    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post("/staff/", {"action": "reset", "user": oli.pk}).status_code == 302
        assert admin.post("/staff/", {"action": "invite", "email": "una@provider.test",
                                      "role": ["provider_operator"]}).status_code == 302
    una = get_user_model().objects.get(username="una@provider.test")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        page = text(admin.post("/staff/", {"action": "resend", "user": una.pk}, follow=True))
    assert "Sent a new invitation link to una@provider.test" in page
    assert "://localhost/accounts/set-password/" in mailoutbox[0].body
    long = admin.post("/staff/", {"action": "name", "user": oli.pk, "first_name": "O" * 151})
    assert long.status_code == 400 and "The first name of oli@provider.test is 151 characters long" in text(long)
    assert admin.post("/staff/", {"action": "name", "user": oli.pk, "first_name": "Oli",
                                  "last_name": "Ops"}).status_code == 302
    with schema_context("public"):
        oli.refresh_from_db()
        assert oli.get_full_name() == "Oli Ops"
        assert [e.action for e in AuditEvent.objects.filter(object_id__in=[str(oli.pk), str(una.pk)],
                                                            action__in=["user.password_reset", "user.invite.resend",
                                                                        "user.name"]).order_by("at", "id")] == [
            "user.password_reset", "user.invite.resend", "user.name"]


def test_forgot_password_on_the_providers_host_names_the_console_and_its_host(firm_a, people, mailoutbox):
    _staff("oli@provider.test", ProviderRole.PROVIDER_OPERATOR)
    visitor = Client(HTTP_HOST="localhost")
    assert 'href="/accounts/reset/"' in text(visitor.get("/accounts/login/"))
    # a firm's person is not the provider's: nothing for them on this host
    visitor.post("/accounts/reset/", {"email": "advisor@pages.example"})
    assert mailoutbox == []

    assert visitor.post("/accounts/reset/", {"email": "oli@provider.test"})["Location"] == "/accounts/reset/done/"

    (sent,) = mailoutbox
    assert "the provider console (Provider), http://localhost/" in sent.body
    assert _choose_password(Client(HTTP_HOST="localhost"), _link_path(sent)).status_code == 302
    assert _signs_in("localhost", "oli@provider.test", NEW_PASSWORD)
