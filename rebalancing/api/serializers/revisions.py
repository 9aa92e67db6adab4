"""What an edit of a proposal accepts: the fields of the proposal page's "Edit and solve again" form.

Only the shape is checked here (a known action, symbols as text, a positive dollar amount; the
instruction kinds that take each field are the service's: ``services.revisions.instructions_clean``). Whether
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


def _amount(help_text: str) -> serializers.DecimalField:
    # Dollars, as services.revisions reads them (InstructionAdded.amount) and the engine takes them
    # (Instruction.amount: a sale's market value at the solve's prices; cash set aside).
    return serializers.DecimalField(max_digits=16, decimal_places=2, min_value=Decimal("0.01"), required=False,
                                    allow_null=True, default=None, help_text=help_text,
                                    error_messages={"min_value": "Give a positive number of dollars (0.01 or more): "
                                                                 "the dollars to sell or to raise."})


_AMOUNT = ("sell: the dollars of `symbol` to sell, at the prices it is solved with (empty: all of it; more than "
           "the account holds is refused); raise_cash: the dollars to set aside as cash, on top of the cash target "
           "(required). US dollars, at most 2 decimal places, above 0")


class InstructionInSerializer(UnknownFieldsRefused, serializers.Serializer):
    action = serializers.ChoiceField(choices=INSTRUCTION_CHOICES,
                                     help_text="sell: sell `symbol` - all of it, or `amount` dollars - and buy `buy` "
                                               "with the proceeds (optional); hold, do_not_buy, do_not_sell: a "
                                               "restriction on `symbol` for this solve; raise_cash: set `amount` "
                                               "dollars aside as cash, no symbol")
    symbol = serializers.CharField(required=False, allow_blank=True, default="", max_length=_SYMBOL,
                                   help_text="sell, hold, do_not_buy, do_not_sell: the security (required); "
                                             "raise_cash: none (leave it out)")
    buy = serializers.CharField(required=False, allow_blank=True, default="", max_length=_SYMBOL,
                                help_text="sell only (optional): the security to buy with the proceeds; refused with "
                                          "any other action")
    amount = _amount(f"{_AMOUNT}; refused with hold, do_not_buy and do_not_sell")


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
                                               "tax budget set aside this once; harvest: harvest the losses past the "
                                               "account's harvest thresholds this once, harvesting on or off (a "
                                               "taxable account; 409 nothing_to_harvest says why each loss stays)")
    symbol = serializers.CharField(required=False, allow_blank=True, default="", max_length=_SYMBOL,
                                   help_text="sell: the security to sell (required); raise_cash, liquidate, "
                                             "bring_to_model, harvest: none (leave it out)")
    amount = _amount(f"{_AMOUNT}; refused with liquidate, bring_to_model and harvest")


class AccountInstructSerializer(UnknownFieldsRefused, serializers.Serializer):
    instructions = OneOffInstructionSerializer(many=True, min_length=1, max_length=100,
                                               help_text="What to do once; the account's parameters are unchanged")

    def instructions_added(self) -> list[InstructionAdded]:
        return [InstructionAdded(**i) for i in self.validated_data["instructions"]]
