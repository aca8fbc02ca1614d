"""The station's exception hierarchy; library errors are wrapped at the boundary."""


class StationError(Exception):
    """Base of every error the station raises on purpose."""


class ConfigError(StationError):
    """A configuration file or option is invalid (message names the file and the key)."""


class MonitorLinkError(StationError):
    """A monitor port could not be opened or was lost (message names the bed and the URL)."""


class ArchiveError(StationError):
    """The local archive could not be opened, written or read."""


class EpisodeError(StationError):
    """An admission or discharge was refused (bed occupied, no such episode...)."""
