"""Signing in safely: lockouts after failed sign-ins (django-axes), a second factor (django-otp: TOTP
and recovery codes) that a firm admin can make mandatory, and the audit of every sign-in.

The libraries do the counting and the cryptography; this package holds the firm's rules around them
(who may lift a lockout or reset a second factor, when one is due) and their audit records. Pages:
frontend/views/security.py. Notes: docs/security.md.
"""
