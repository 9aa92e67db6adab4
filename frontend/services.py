"""Writes the pages need that the book services do not offer yet.

``model_create`` belongs beside ``model_version_create`` in rebalancing/services/book.py; it lives
here until that module's owner moves it (the API needs it too).
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from rebalancing.access import require
from rebalancing.models import ModelPortfolio
from rebalancing.permissions import Capability
from rebalancing.services.book import SleeveSpec, model_version_create
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed

__all__ = ["model_create"]


@transaction.atomic
def model_create(*, user, code: str, name: str, sleeves: list[SleeveSpec], description: str = "") -> ModelPortfolio:
    """A new model and its first version, in one transaction (a refused version leaves no model)."""
    require(user, Capability.MANAGE_MODELS)
    model = ModelPortfolio(code=code, name=name, description=description)
    try:
        model.full_clean()
    except ValidationError as exc:
        problems = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
        raise ValidationFailed("The model was not saved: " + "; ".join(problems), detail={"problems": problems}) from None
    model.save()
    audit_record(actor=user, action="model.create", obj=model, after={"code": code, "name": name})
    model_version_create(model=model, sleeves=sleeves, user=user, note="first version")
    return model
