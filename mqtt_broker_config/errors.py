"""One exception hierarchy for the broker configuration and launcher."""


class BrokerError(Exception):
    """Base of every error raised by mqtt_broker_config."""


class BrokerConfigError(BrokerError):
    """The site is incomplete, a setting is out of range, or the run dir is unusable."""


class BrokerStartError(BrokerError):
    """mosquitto exited or did not accept on its TLS port in time (the log tail is in the message)."""
