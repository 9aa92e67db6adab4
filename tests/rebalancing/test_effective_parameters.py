import pytest
from django_tenants.utils import tenant_context

from rebalancing.effective_parameters import overrides_validate, parameters_effective
from rebalancing.selectors import account_parameters
from tenants.errors import ValidationFailed

from .book import make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db


def test_each_leaf_says_where_it_comes_from(firm_a):
    with tenant_context(firm_a):
        template = make_template(parameters={"cash": {"target": 0.02}, "harvest": {"enabled": True}})
        effective = parameters_effective(
            template=template, household_overrides={"harvest": {"min_loss_value": 900}},
            account_overrides={"cash": {"target": 0.03}},
        )

    sources = effective.sources
    assert effective.values["cash"]["target"] == 0.03 and sources["cash.target"] == "account"
    assert effective.values["harvest"]["enabled"] is True and sources["harvest.enabled"] == "template:standard"
    assert effective.values["harvest"]["min_loss_value"] == 900 and sources["harvest.min_loss_value"] == "household"
    assert sources["cash.floor"] == "default"
    assert effective.parameters().cash.target == 0.03


def test_template_change_flows_to_accounts_that_do_not_override_it(firm_a):
    with tenant_context(firm_a):
        make_securities()
        model = make_model()
        template = make_template(parameters={"cash": {"target": 0.01}})
        plain = make_account("P-1", model=model, template=template)
        overriding = make_account("P-2", model=model, template=template, overrides={"cash": {"target": 0.04}})

        template.parameters = {"cash": {"target": 0.025}}
        template.save()
        plain.refresh_from_db()
        overriding.refresh_from_db()

        assert account_parameters(plain).values["cash"]["target"] == 0.025
        assert account_parameters(overriding).values["cash"]["target"] == 0.04


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cash": {"target": 0.09}}, "cash.target = 9% is above the template's maximum 5%"),
        ({"cash": {"floor": 0.01}}, "cash.floor may not be overridden under template 'standard'"),
        ({"cash": {"target": "lots"}}, "invalid setting “Cash: target”"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_overrides_outside_the_template_limits_are_refused(firm_a, overrides, message):
    with tenant_context(firm_a):
        template = make_template()
        with pytest.raises(ValidationFailed, match=message.replace(".", r"\.").replace("(", r"\(")):
            overrides_validate(overrides=overrides, template=template, level="account")


def test_group_listed_as_overridable_allows_its_leaves(firm_a):
    with tenant_context(firm_a):
        template = make_template()  # overridable: {"cash.target": ..., "harvest": {}}
        assert overrides_validate(overrides={"harvest": {"enabled": True, "min_loss_value": 250}},
                                  template=template, level="account") is None
        assert overrides_validate(overrides={"cash": {"target": 0.05}}, template=template, level="household") is None
        with pytest.raises(ValidationFailed, match="trading.lot_selection may not be overridden"):
            overrides_validate(overrides={"trading": {"lot_selection": "fifo"}}, template=template, level="account")


@pytest.mark.parametrize(("value", "text"), [
    (0, "$0"), (250_000, "$250,000"), (1250.5, "$1,250.50"), (999_999_999_999.99, "$999,999,999,999.99"),
    (1e12, "$1 trillion"), (1.5e12, "$1.5 trillion"), (999.999e12, "$1 quadrillion"), (1e15, "$1 quadrillion"),
    (2.25e17, "$225 quadrillion"), (1e18, "$1 × 10^18"), (9.999e20, "$1 × 10^21"), (1e300, "$1 × 10^300"),
    (-1e300, "-$1 × 10^300"), (1.2345e19, "$1.23 × 10^19"),
])
def test_an_absurd_amount_is_said_in_words_or_as_a_power_of_ten(value, text):
    from rebalancing.effective_parameters import amount_text

    assert amount_text(value) == text


def test_amount_text_agrees_with_a_plain_reading_of_the_digits_over_random_amounts():
    """Against a second, plain reading in exact decimals: scale by a trillion, then a quadrillion,
    else say the power of ten of the leading digit."""
    import random
    from decimal import Decimal, localcontext

    from rebalancing.effective_parameters import amount_text

    def figure(number: Decimal) -> str:
        return f"{number:,.2f}".rstrip("0").rstrip(".")

    def plain(value: float) -> str:
        exact = Decimal(value)
        if exact < 10**12:
            return "$" + (f"{exact:,.0f}" if value.is_integer() else f"{exact:,.2f}")
        for power, word in ((12, "trillion"), (15, "quadrillion")):
            number = round(exact.scaleb(-power), 2)
            if number < 1000:
                return f"${figure(number)} {word}"
        power = exact.adjusted()
        lead = round(exact.scaleb(-power), 2)
        if lead == 10:
            lead, power = Decimal(1), power + 1
        return f"${figure(lead)} × 10^{power}"

    rng = random.Random(20261202)
    with localcontext() as exact_enough:
        exact_enough.prec = 400  # a double's exact decimal expansion, up to 1e308
        for n in range(4000):
            value = 10 ** (rng.uniform(11, 20) if n % 2 else rng.uniform(0, 300))
            assert amount_text(value) == plain(value), value
