"""Errors of the recording readers."""

from ..errors import StationError


class RecordingFormatError(StationError):
    """A recording file is malformed (message names the file and what was expected)."""
