"""API keys for integrations, and the idempotency ledger of API writes (both per firm schema)."""
