"""A simulator of the acquirer host: its own process, speaking the hub's ISO 8583 interface over TCP."""
