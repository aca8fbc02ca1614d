"""One exception hierarchy for the link; library errors never leak past it."""


class LinkError(Exception):
    """Base of every error raised by the link package."""


class EnvelopeError(LinkError):
    """An envelope could not be built or opened. `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class SchemaError(LinkError):
    """A record does not match the schema it claims."""


class TopicError(LinkError):
    """A topic is outside the link namespace or malformed."""


class OutboxError(LinkError):
    """The device outbox could not persist or read a record (disk full, corrupt file)."""
