"""What an edit of a proposal accepts: the fields of the proposal page's "Edit and solve again" form.

Only the shape is checked here (a known action, symbols as text, a positive dollar amount). Whether
the proposal trades a symbol, the security master knows it and the account holds it is the
service's to say (``services.revisions.proposal_resolve``), for the page and the API alike.
"""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from rebalancing.models import Security
from rebalancing.services.household_revisions import AccountEdit
from rebalancing.services.revisions import INSTRUCTION_ACTIONS, ONE_OFF_ACTIONS, InstructionAdded

from .strict import UnknownFieldsRefused

__all__ = ["INSTRUCTION_CHOICES", "AccountInstructSerializer", "HouseholdProposalReviseSerializer",
           "InstructionInSerializer", "ProposalReviseSerializer"]

_SYMBOL = Security._meta.get_field("symbol").max_length
INSTRUCTION_CHOICES = list(INSTRUCTION_ACTIONS.items())  # also names the schema's InstructionActionEnum


class InstructionInSerializer(UnknownFieldsRefused, serializers.Serializer):
    action = serializers.ChoiceField(choices=INSTRUCTION_CHOICES,
                                     help_text="sell: sell all of `symbol` (and buy `buy` with the proceeds); hold, "
                                               "do_not_buy, do_not_sell: a restriction on `symbol`; raise_cash: "
                                               "`amount` dollars, no symbol")
    symbol = serializers.CharField(required=False, allow_blank=True, default="", max_length=_SYMBOL,
                                   help_text="The security the instruction is about (not for raise_cash)")
    buy = serializers.CharField(required=False, allow_blank=True, default="", max_length=_SYMBOL,
                                help_text="sell only: the security to buy with the proceeds")
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=Decimal("0.01"), required=False,
                                      allow_null=True, default=None, help_text="raise_cash only: dollars to raise",
                                      error_messages={"min_value": "Give a positive number of dollars to raise."})


class ProposalReviseSerializer(UnknownFieldsRefused, serializers.Serializer):
    drop = serializers.ListField(child=serializers.CharField(max_length=_SYMBOL), required=False, default=list,
                                 max_length=500, help_text="Symbols of the proposal's trades to take out (held as "
                                                           "they are this time)")
    instructions = InstructionInSerializer(many=True, required=False, default=list, max_length=100,
                                           help_text="One-off instructions to add")

    def edit(self) -> dict:
        """The validated edit as ``proposal_resolve``'s keyword arguments."""
        data = self.validated_data
        return {"drop_symbols": data["drop"], "instructions": [InstructionAdded(**i) for i in data["instructions"]]}


class HouseholdAccountEditSerializer(ProposalReviseSerializer):
    account = serializers.IntegerField(min_value=1, max_value=2**62, help_text="The account's id (one of the "
                                                                                "household proposal's proposals)")


class HouseholdProposalReviseSerializer(UnknownFieldsRefused, serializers.Serializer):
    accounts = HouseholdAccountEditSerializer(many=True, min_length=1, max_length=50,
                                              help_text="What to change, account by account; the household is "
                                                        "solved again as one")

    def validate_accounts(self, rows):
        seen = [r["account"] for r in rows]
        twice = sorted({a for a in seen if seen.count(a) > 1})
        if twice:
            raise serializers.ValidationError(f"Give each account once: {', '.join(map(str, twice))} "
                                              "appears more than once.")
        return rows

    def edits(self) -> dict[int, AccountEdit]:
        """The validated edit as ``household_proposal_resolve``'s ``edits``."""
        return {r["account"]: AccountEdit(drop_symbols=r["drop"],
                                          instructions=[InstructionAdded(**i) for i in r["instructions"]])
                for r in self.validated_data["accounts"]}


class OneOffInstructionSerializer(InstructionInSerializer):
    action = serializers.ChoiceField(choices=list(ONE_OFF_ACTIONS.items()),
                                     help_text="sell: sell `symbol` (all, or `amount` dollars) and buy `buy` with the "
                                               "proceeds (optional); raise_cash: `amount` dollars; liquidate: sell "
                                               "everything; bring_to_model: back to the model, drift bands and the "
                                               "tax budget set aside this once")


class AccountInstructSerializer(UnknownFieldsRefused, serializers.Serializer):
    instructions = OneOffInstructionSerializer(many=True, min_length=1, max_length=100,
                                               help_text="What to do once; the account's parameters are unchanged")

    def instructions_added(self) -> list[InstructionAdded]:
        return [InstructionAdded(**i) for i in self.validated_data["instructions"]]
