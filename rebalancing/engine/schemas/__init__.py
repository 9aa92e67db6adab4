"""JSON Schemas of the engine's request and result (package data)."""
