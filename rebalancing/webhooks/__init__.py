"""Webhooks: a firm's systems told when something happens (docs/integrations.md).

- ``events``: the event types and ``webhook_emit`` (called by the services, inside their
  transaction; deliveries are queued on commit and never fail the action);
- ``signing``: the signature scheme (HMAC-SHA256 over timestamp and body) and its verification;
- ``addresses``: which URLs may be called (http(s) only; no private addresses in production);
- ``endpoints``: registering, changing, rotating the secret of and removing endpoints (services);
- ``delivery``: one attempt at a delivery, and re-sending (services); the Celery task
  ``rebalancing.tasks.webhook_deliver`` owns retries and back-off.
- ``pausing``: an endpoint whose deliveries keep failing for good is paused (and its firm's admins
  told) until a firm admin resumes it.
"""
