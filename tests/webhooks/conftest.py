import pytest

from ..api.conftest import book, people  # noqa: F401 - the API tests' small book, reused
from .receiver import Receiver


@pytest.fixture
def receiver():
    """receiver(answers=[500, 200]) -> a live HTTP receiver; closed after the test."""
    made = []

    def make(answers=(200,), **kwargs) -> Receiver:
        made.append(Receiver(answers=list(answers), **kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def endpoint_for():
    """endpoint_for(firm, url, event_types) -> a registered endpoint (in the firm's schema)."""
    from django_tenants.utils import tenant_context

    from rebalancing.webhooks.endpoints import webhook_endpoint_create

    def make(firm, url, event_types=("run.finished",), secret="whsec_test_secret_0123456789"):
        with tenant_context(firm):
            return webhook_endpoint_create(url=url, event_types=list(event_types), user=None, secret=secret)

    return make
