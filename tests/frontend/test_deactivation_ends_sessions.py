"""Deactivating someone ends their sessions: a session taken before (a browser left signed in, a
stolen cookie) does not sign them in again when they are reactivated. Before, reactivation brought
every old session back to life."""

from django_tenants.utils import tenant_context

from tenants.audit.models import AuditEvent


def test_a_session_from_before_deactivation_does_not_come_back_with_reactivation(firm_a, people, as_user):
    admin = as_user("admin")
    pm_browser, pm_laptop, advisor = as_user("pm"), as_user("pm"), as_user("advisor")
    assert pm_browser.get("/accounts/").status_code == 200

    assert admin.post("/people/", {"action": "deactivate", "user": people["pm"].pk}).status_code == 302
    assert admin.post("/people/", {"action": "reactivate", "user": people["pm"].pk}).status_code == 302

    for old in (pm_browser, pm_laptop):
        response = old.get("/accounts/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert advisor.get("/accounts/").status_code == 200  # someone else's session is theirs
    with tenant_context(firm_a):
        assert AuditEvent.objects.get(action="user.deactivate").after == {"active": False, "sessions_ended": 2}


def test_the_api_refuses_the_old_session_too(firm_a, people, as_user):
    admin, pm = as_user("admin"), as_user("pm")
    assert pm.get("/api/v1/accounts/").status_code == 200

    admin.post("/people/", {"action": "deactivate", "user": people["pm"].pk})
    admin.post("/people/", {"action": "reactivate", "user": people["pm"].pk})

    assert pm.get("/api/v1/accounts/").status_code in (401, 403)
