"""The API's endpoints, by subject."""
