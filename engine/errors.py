"""Domain errors; the web layer maps each to its HTTP status. Messages are Dutch: a constant
marked with messages.N_ or a messages.Message (template and values), which the web layer
translates for the reader (webui/texts.translate)."""


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequest(DomainError):
    status = 400


class NotAuthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    """422: data that does not fit; errors maps a field to its message."""

    status = 422

    def __init__(self, message: str, errors):
        super().__init__(message, errors=errors)
        self.errors = errors
