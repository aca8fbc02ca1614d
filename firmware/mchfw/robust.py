"""Reconnect policy over mqtt.Client: capped exponential backoff, never blocks past a timeout.

`service()` is called from the main loop; while disconnected it tries at most one connect per
backoff step (1 s doubling to max_backoff_ms); `on_connect()` (subscribe, birth) runs after
each successful CONNECT; any MQTTError or OSError drops the connection and schedules a retry.
"""

from mchfw import clock as ticks
from mchfw import mqtt

MIN_BACKOFF_MS = 1000
MAX_BACKOFF_MS = 30000


class Robust:
    def __init__(self, client, open_stream, on_connect=None, on_disconnect=None,
                 max_backoff_ms: int = MAX_BACKOFF_MS, clock=None) -> None:
        self.client = client
        self.open_stream = open_stream  # () -> stream connected to the broker (TLS), or raises OSError
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.max_backoff_ms = max_backoff_ms
        self.clock = clock or mqtt._ticks_ms
        self.connected = False
        self.backoff_ms = 0
        self.next_try = self.clock()
        self.connects = 0
        self.failures = 0
        self.last_error = ""

    def _due(self) -> bool:
        return ticks.diff(self.clock(), self.next_try) >= 0

    def service(self, timeout_ms: int = 0) -> None:
        """Connect if due; otherwise handle incoming packets and keep-alive."""
        if not self.connected:
            if self._due():
                self._try_connect()
            return
        try:
            if self.client.keepalive_due():
                if self.client.ping_outstanding:
                    raise mqtt.MQTTError("no PINGRESP within the keep-alive")
                self.client.ping()
            while self.client.poll(timeout_ms) is not None:
                timeout_ms = 0
        except (mqtt.MQTTError, OSError) as exc:
            self.drop(exc)

    def _try_connect(self) -> None:
        try:
            stream = self.open_stream()
            self.client.connect(stream)
            self.connected = True
            self.connects += 1
            self.backoff_ms = 0
            if self.on_connect is not None:
                self.on_connect()
        except (mqtt.MQTTError, OSError) as exc:
            self.drop(exc)

    def drop(self, exc=None) -> None:
        """Forget the connection (the broker publishes our will) and schedule a reconnect."""
        was = self.connected
        self.connected = False
        self.failures += 1
        self.last_error = repr(exc) if exc is not None else ""
        self.client.close()
        self.backoff_ms = min(max(MIN_BACKOFF_MS, self.backoff_ms * 2), self.max_backoff_ms)
        self.next_try = ticks.add(self.clock(), self.backoff_ms)
        if was and self.on_disconnect is not None:
            self.on_disconnect()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        if not self.connected:
            return False
        try:
            self.client.publish(topic, payload, qos)
            return True
        except (mqtt.MQTTError, OSError) as exc:
            self.drop(exc)
            return False
