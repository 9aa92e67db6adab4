"""The append-only audit trail, kept in every schema: the provider's actions in the public schema,
each firm's in its own."""
