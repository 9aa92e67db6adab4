"""A webhook URL's scheme and host are case-insensitive (RFC 3986 §3.1, §3.2.2): HTTPS://EXAMPLE.COM/h
was refused with the database's "Constraint “webhook_url_http” is violated"; it is stored in lower
case, the path as typed. A host with a look-alike letter ("exаmple.com", a Cyrillic а) was accepted:
it reads as the firm's host and is another's; refused naming the character (punycode is ASCII)."""

import pytest
from django_tenants.utils import tenant_context
from hypothesis import given
from hypothesis import strategies as st

from rebalancing.models import WebhookEndpoint
from rebalancing.webhooks.addresses import url_check
from rebalancing.webhooks.endpoints import webhook_endpoint_create
from tenants.errors import ValidationFailed


@pytest.mark.django_db
def test_an_upper_case_scheme_and_host_are_stored_in_lower_case_the_path_as_typed(firm_a):
    with tenant_context(firm_a):
        endpoint = webhook_endpoint_create(url="HTTPS://Hooks.EXAMPLE.COM:8443/Path/ABC?Token=X", user=None,
                                           event_types=["run.finished"])
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == "https://hooks.example.com:8443/Path/ABC?Token=X"


@pytest.mark.parametrize(("url", "said"), [
    ("https://ex\u0430mple.com/h", "“\u0430”, cyrillic small letter a (U+0430)"),
    ("https://EX\u0410MPLE.com/h", "cyrillic"),  # the host is read in lower case: а, U+0430
    ("https://b\u00fccher.example/h", "latin small letter u with diaeresis (U+00FC)"),
])
def test_a_host_with_a_character_outside_ascii_is_refused_naming_it(url, said):
    with pytest.raises(ValidationFailed) as refused:
        url_check(url)
    assert said in refused.value.message and "punycode" in refused.value.message
    assert refused.value.detail == {"field": "url"}


def test_an_internationalised_name_in_punycode_is_accepted():
    assert url_check("https://xn--bcher-kva.example/h") == "https://xn--bcher-kva.example/h"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12),
       st.text(alphabet="aBcD/-_?=xyZ019", max_size=20), st.sampled_from(["http", "https"]))
def test_any_casing_of_scheme_and_host_is_the_same_url(host, path, scheme):
    typed = f"{scheme.upper()}://{host.upper()}.EXAMPLE.COM/{path}"
    assert url_check(typed) == url_check(f"{scheme}://{host}.example.com/{path}") == \
        f"{scheme}://{host}.example.com/{path}"
