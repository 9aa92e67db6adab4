"""A values screen that empties a model's sleeve, found where it is set rather than at every run:
the engine refuses such an account (``the screen excludes every holding of sleeve ...``), so a
template whose screen does that to a model its accounts hold, or an assignment that puts an
account under such a template and model, is refused naming the model, the sleeve and why."""

from __future__ import annotations

from collections.abc import Iterable

from rebalancing import engine
from rebalancing.models import ModelPortfolio, Sleeve
from tenants.errors import ValidationFailed

__all__ = ["screen_sleeves_refuse", "sleeves_emptied_by_screen"]


def _engine_security(security) -> engine.Security:
    return engine.Security(symbol=security.symbol, price=1.0, asset_class=security.asset_class,
                           sector=security.sector or None, tags=tuple(security.tags or ()),
                           esg_score=security.esg_score)


def sleeves_emptied_by_screen(parameters: dict, model_ids: Iterable[int]) -> list[tuple[str, str, str]]:
    """(model code, sleeve, why) for each sleeve of funds or securities, in the current version of
    the models ``model_ids``, every holding of which ``parameters``' screen excludes (a sleeve the
    parameters remove is not held, and is left out)."""
    params = engine.Parameters.from_dict(parameters)
    ids = set(model_ids) - {None}
    if params.screen is None or not ids:
        return []
    removed = set(params.removed_asset_classes)
    emptied = []
    for model in ModelPortfolio.objects.filter(pk__in=ids).order_by("code"):
        version = model.current_version
        if version is None:
            continue
        for sleeve in (version.sleeves.filter(kind=Sleeve.Kind.HOLDINGS).exclude(asset_class__in=removed)
                       .prefetch_related("holdings__security").order_by("asset_class")):
            reasons = [engine.screen_reason(_engine_security(h.security), params.screen) for h in sleeve.holdings.all()]
            if reasons and all(reasons):
                why = ", ".join(f"{h.security.symbol} ({r})" for h, r in zip(sleeve.holdings.all(), reasons, strict=True))
                emptied.append((model.code, sleeve.asset_class, why))
    return emptied


def screen_sleeves_refuse(parameters: dict, holders: Iterable[tuple[str, int | None]], *, what: str) -> None:
    """Refuse (naming the first model and sleeve) when ``parameters``' screen empties a sleeve of
    a model one of ``holders`` (account number, the model it would be managed to) is managed to;
    ``what`` says what would be saved ("the template", "the assignment"). The refusal's detail
    lists those accounts, so an integrator knows which of them the change would have stranded."""
    holders = list(holders)
    emptied = sleeves_emptied_by_screen(parameters, {model_id for _, model_id in holders})
    if emptied:
        emptied_models = set(ModelPortfolio.objects.filter(code__in={c for c, _, _ in emptied}).values_list("pk", flat=True))
        accounts = sorted({number for number, model_id in holders if model_id in emptied_models})
        code, sleeve, why = emptied[0]
        more = f" (and {len(emptied) - 1} more sleeve{'s' if len(emptied) > 2 else ''})" if len(emptied) > 1 else ""
        raise ValidationFailed(
            f"{what[0].upper()}{what[1:]} is refused: its screen excludes every holding of sleeve {sleeve} of model "
            f"{code} - {why}{more} - so no account holding that model could be rebalanced. Add an allowed "
            "security to the sleeve, narrow the screen, or remove the asset class.",
            code="screen_empties_sleeve", detail={"field": "parameters", "conflicts": ["screen", f"model.{sleeve}"],
                                                  "sleeves": [{"model": c, "sleeve": s} for c, s, _ in emptied],
                                                  "accounts": accounts})
