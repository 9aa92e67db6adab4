"""The firm's REST API under /api/v1/ (docs/api.md)."""
