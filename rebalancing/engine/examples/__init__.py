"""Example requests, one per parameter (package data, used by the tests)."""
