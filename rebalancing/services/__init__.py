"""Writes on the book of business. Each service is a function with keyword-only arguments."""
