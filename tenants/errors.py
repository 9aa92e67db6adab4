"""The one hierarchy of domain errors. Each has a stable code that APIs and pages show as-is."""

__all__ = ["Conflict", "DomainError", "NotFound", "PermissionDenied", "ValidationFailed", "fields_refused"]


class DomainError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, *, detail: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail or {}
        if code:
            self.code = code

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class ValidationFailed(DomainError):
    code = "invalid"
    http_status = 400


class Conflict(DomainError):
    code = "conflict"
    http_status = 409


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403


def fields_refused(exc, what: str) -> ValidationFailed:
    """Django's ``full_clean`` ValidationError (a value too long for its column, a code taken...) as
    the domain's error, naming each field, so that a page or the API says it instead of failing."""
    problems = [f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()]
    first = next(iter(exc.message_dict), None)
    return ValidationFailed(f"{what} was not saved: " + "; ".join(problems),
                            detail={"field": first, "problems": problems})
