"""Every action the audit trail records, once, with what it means in words (the audit log page
shows the words). ``audit_record`` refuses an action that is not here."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Action"]


class Action(StrEnum):
    """``value`` is what is stored; ``words`` what a person reads."""

    # The book and its parameters
    ACCOUNT_PARAMETERS = "account.parameters", "changed an account's parameters"
    HOUSEHOLD_PARAMETERS = "household.parameters", "changed a household's parameters"
    HOUSEHOLD_ADVISOR = "household.advisor", "gave a household to an advisor"
    # Kept for the trail's older rows: advisors are now only object permissions (no repair).
    HOUSEHOLD_ADVISOR_REPAIR = "household.advisor.repair", "granted advisors the households set for them"
    HOUSEHOLD_CREATE = "household.create", "created a household"
    HOUSEHOLD_CHANGE = "household.change", "changed how a household is managed"
    HOUSEHOLD_MEMBERS = "household.members", "moved an account between households"
    HOUSEHOLD_SETTINGS = "household.settings", "changed a household's settings (tax budget, asset location, rebalancing inside its bands) or asset classes"
    HOUSEHOLD_TAX = "household.tax", "changed a household's filing status, opening capital loss carryover or whose return each account is on"
    CASH_FLOW_CREATE = "cash_flow.create", "entered a household's deposit, withdrawal or RMD"
    CASH_FLOW_PAY = "cash_flow.pay", "paid out a withdrawal or RMD whose sales had executed"
    ACCOUNT_RMD_FACTS_SET = "account.rmd_facts", "set what an IRA's required minimum distribution is computed from"
    ACCOUNT_ASSIGN = "account.assign", "assigned a template or model to accounts"
    HOUSEHOLD_TEMPLATE = "household.template", "assigned a template to households"
    SECURITY_EQUIVALENTS = "security.equivalents", "set the firm's substantially identical securities"
    SECURITY_SUBSTITUTES = "security.substitutes", "set the firm's harvest substitutes"
    RESTRICTED_ADD = "restricted.add", "put a security on the firm's restricted list"
    RESTRICTED_CHANGE = "restricted.change", "changed an entry of the firm's restricted list"
    RESTRICTED_LIFT = "restricted.lift", "lifted an entry of the firm's restricted list"
    TEMPLATE_CREATE = "template.create", "created a parameter template"
    TEMPLATE_CHANGE = "template.change", "changed a parameter template"
    MODEL_CREATE = "model.create", "created a model"
    MODEL_VERSION = "model.version", "published a new version of a model"
    IMPORT_SECURITIES = "import.securities", "imported the security master"
    IMPORT_PRICES = "import.prices", "imported prices"
    IMPORT_BENCHMARK_WEIGHTS = "import.benchmark_weights", "imported benchmark weights"
    IMPORT_ACCOUNTS = "import.accounts", "imported accounts"
    IMPORT_LOTS = "import.lots", "imported tax lots"
    IMPORT_TRADES = "import.trades", "imported trades"
    # Runs and proposals
    RUN_START = "run.start", "started a rebalance run"
    RUN_CANCEL = "run.cancel", "cancelled a run"
    RUN_COMPLETE = "run.complete", "completed a run"
    RUN_DISPATCH = "run.dispatch", "counted again the accounts a run solves when it was sent to the workers"
    RUN_REDISPATCH = "run.redispatch", "sent a stalled run's accounts again"
    RUN_RECOVERED = "run.recovered", "saw a stalled run recover"
    RUN_STALL_GIVE_UP = "run.stall_give_up", "stopped re-sending a stalled run"
    BACKTEST_START = "backtest.start", "started a backtest of harvesting"
    BACKTEST_RESEND = "backtest.resend", "sent again a backtest no worker was replaying"
    BACKTEST_GIVE_UP = "backtest.give_up", "ended as failed a backtest no worker replayed after it was sent again"
    RISK_MODEL_ESTIMATE = "risk_model.estimate", "estimated a risk model from the firm's prices"
    RISK_MODEL_ESTIMATE_START = "risk_model.estimate_start", "asked for the firm's risk model to be estimated now"
    PROPOSAL_SUBMIT = "proposal.submit", "sent a proposal for approval"
    PROPOSAL_AUTO_APPROVE = "proposal.auto_approve", "approved a proposal within the firm's policy"
    PROPOSAL_APPROVE_ADVISOR = "proposal.approve.advisor", "approved a proposal as its advisor"
    PROPOSAL_APPROVE_COMPLIANCE = "proposal.approve.compliance", "approved a proposal for compliance"
    PROPOSAL_REJECT_ADVISOR = "proposal.reject.advisor", "rejected a proposal as its advisor"
    PROPOSAL_REJECT_COMPLIANCE = "proposal.reject.compliance", "rejected a proposal for compliance"
    PROPOSAL_REJECT_WITH_HOUSEHOLD = "proposal.reject.with_household", \
        "rejected a proposal with another account's of its household (solved as one, they go out together or not at all)"
    HOUSEHOLD_PROPOSAL_APPROVE = "household_proposal.approve", "approved a household's proposals together"
    HOUSEHOLD_PROPOSAL_REJECT = "household_proposal.reject", "rejected a household's proposals together"
    HOUSEHOLD_PROPOSAL_REVISE = "household_proposal.revise", \
        "edited a household's proposal (dropped trades, added instructions) and solved the household again"
    PROPOSAL_RELEASE = "proposal.release", "released a proposal's trades"
    RELEASE_BATCH_START = "release_batch.start", "asked for every approved proposal to be released"
    RELEASE_BATCH_FINISH = "release_batch.finish", "finished releasing every approved proposal asked for"
    RELEASE_BATCH_FAIL = "release_batch.fail", "ended a release of every approved proposal as failed (saying why)"
    PROPOSAL_EXECUTE = "proposal.execute", "saw every order of a proposal filled"
    PROPOSAL_EXPIRE = "proposal.expire", "expired a proposal priced too long ago"
    PROPOSAL_SUPERSEDE = "proposal.supersede", "replaced a proposal with a newer run's"
    PROPOSAL_TAX_RESTATED = "proposal.tax_restated", "restated a proposal's tax estimate after its household's open proposals changed"
    PROPOSAL_APPROVAL_LAPSED = "proposal.approval_lapsed", \
        "sent an approved proposal back for approval: its restated tax needs approvals it does not have"
    PROPOSAL_REVISE = "proposal.revise", "edited a proposal (dropped trades, added instructions) and solved it again"
    ACCOUNT_INSTRUCT = "account.instruct", "gave an account a one-off instruction, solved as a proposal"
    # The ledger
    ORDERS_CREATE = "orders.create", "created the orders of a released proposal"
    ORDER_EXECUTE = "order.execute", "applied fills or cancels to an order"
    LOT_WASH_SALE = "lot.wash_sale", "moved a lot's basis and holding period for a wash sale"
    LEDGER_WASH_SALES_RECOMPUTE = "ledger.wash_sales_recompute", "recalculated a household's wash sales"
    LEDGER_FILLS_REORDERED = "ledger.fills_reordered", "took a sale order's booked fills again in trade-date order"
    RECONCILIATION_CREATE = "reconciliation.create", "compared a custodian's positions with the ledger"
    RECONCILIATION_ACCEPT = "reconciliation.accept", "accepted a custodian's lots"
    RECONCILIATION_REJECT = "reconciliation.reject", "kept the ledger's lots against a custodian's"
    EXPORT_DOWNLOAD = "export.download", "downloaded a file"
    # The provider's client firms
    FIRM_SUSPEND = "firm.suspend", "suspended a client firm: no run starts in it until it is reactivated"
    FIRM_REACTIVATE = "firm.reactivate", "made a suspended client firm active again"
    FIRM_CREATE = "firm.create", "onboarded a client firm (its schema, its host and its first admin)"
    FIRM_ADMIN_INVITE = "firm.admin_invite", "e-mailed a client firm's first admin a link to choose a password"
    FIRM_RENAME = "firm.rename", "changed a client firm's name"
    FIRM_HOST_ADD = "firm.host_add", "gave a client firm another host"
    FIRM_HOST_REMOVE = "firm.host_remove", "took a host from a client firm"
    FIRM_HOST_PRIMARY = "firm.host_primary", "made another of a client firm's hosts its main one"
    # People, keys and signing in
    USER_INVITE = "user.invite", "invited a user"
    USER_DEACTIVATE = "user.deactivate", "deactivated a user"
    USER_REACTIVATE = "user.reactivate", "reactivated a user"
    USER_INVITE_RESEND = "user.invite.resend", "sent a user who has no password yet a new invitation link"
    USER_PASSWORD_RESET = "user.password_reset", "sent a user a link to choose a new password"
    USER_NAME = "user.name", "changed a user's name"
    POLICY_CHANGE = "policy.change", "changed the approval policy"
    USER_NOTIFICATIONS = "user.notifications", "changed how they hear of proposals waiting for them"
    USER_ROLE_GRANT = "user.role.grant", "gave a user a role"
    USER_ROLE_REVOKE = "user.role.revoke", "took a role from a user"
    API_KEY_CREATE = "api_key.create", "created an API key"
    API_KEY_REVOKE = "api_key.revoke", "revoked an API key"
    API_KEY_COLLECT = "api_key.collect", "collected the token of an API key issued for them"
    AUTH_SIGN_IN = "auth.sign_in", "signed in"
    AUTH_SIGN_IN_FAILED = "auth.sign_in_failed", "failed to sign in"
    AUTH_SIGN_OUT = "auth.sign_out", "signed out"
    AUTH_PASSWORD_LINK_REQUEST = "auth.password_link_request", "asked for a link to choose a password (Forgot your password?)"
    AUTH_PASSWORD_SET = "auth.password_set", "chose a password through an e-mailed link"
    AUTH_LOCKED_OUT = "auth.locked_out", "was locked out after failed sign-ins"
    AUTH_LOCKOUT_LIFT = "auth.lockout_lift", "lifted a lockout"
    AUTH_MFA_ENABLE = "auth.mfa_enable", "set up a second factor"
    AUTH_MFA_DISABLE = "auth.mfa_disable", "removed a second factor"
    AUTH_MFA_VERIFY = "auth.mfa_verify", "gave a second-factor code"
    AUTH_MFA_FAILED = "auth.mfa_failed", "gave a wrong second-factor code"
    AUTH_MFA_RESET = "auth.mfa_reset", "reset a user's second factor"
    AUTH_MFA_POLICY = "auth.mfa_policy", "changed whether the firm requires a second factor"
    AUTH_MFA_RECOVERY_CODES_RENEW = "auth.mfa_recovery_codes_renew", "renewed second-factor recovery codes"
    # Webhooks (rebalancing.webhooks)
    WEBHOOK_ENDPOINT_CREATE = "webhook.endpoint.create", "registered a webhook endpoint"
    WEBHOOK_ENDPOINT_CHANGE = "webhook.endpoint.change", "changed a webhook endpoint"
    WEBHOOK_ENDPOINT_REMOVE = "webhook.endpoint.remove", "removed a webhook endpoint (its queued deliveries not sent)"
    WEBHOOK_SECRET_ROTATE = "webhook.endpoint.secret_rotate", "rotated a webhook endpoint's signing secret"
    WEBHOOK_ENDPOINT_PAUSE = "webhook.endpoint.pause", "paused a webhook endpoint whose deliveries kept failing"
    WEBHOOK_ENDPOINT_RESUME = "webhook.endpoint.resume", "resumed a paused webhook endpoint"
    WEBHOOK_DELIVERY_RESEND = "webhook.delivery.resend", "sent a webhook delivery again"
    # Changes made in the Django admin (the object's kind is the record's object type)
    ADMIN_CREATE = "admin.create", "created a record in the admin site"
    ADMIN_CHANGE = "admin.change", "changed a record in the admin site"
    ADMIN_DELETE = "admin.delete", "deleted a record in the admin site"

    def __new__(cls, value: str, words: str = ""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.words = words
        return member

    @classmethod
    def of(cls, value: str) -> Action:
        """The member for a stored or given value; ``ValueError`` naming the unknown action."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown audit action {value!r}: add it to tenants.audit.actions.Action") from None

    @classmethod
    def words_for(cls, value: str) -> str:
        """Words for a stored value (an action recorded before it was renamed shows as stored)."""
        try:
            return cls(value).words
        except ValueError:
            return value
