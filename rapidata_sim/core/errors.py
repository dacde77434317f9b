"""Domain errors. The HTTP layer turns each into the service's problem+json."""

from __future__ import annotations


class SimError(Exception):
    """Base class: every error the domain raises on purpose."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(SimError):
    status = 404
    title = "Not Found"


class ValidationFailed(SimError):
    """Bad input, with the per-field ``errors`` map of ``ValidationProblemDetails``."""

    status = 400
    title = "One or more validation errors occurred."

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors

    @classmethod
    def field(cls, name: str, message: str) -> "ValidationFailed":
        return cls({name: [message]})


class Conflict(SimError):
    status = 409
    title = "Conflict"


class Unauthorized(SimError):
    status = 401
    title = "Unauthorized"


class Forbidden(SimError):
    status = 403
    title = "Forbidden"
