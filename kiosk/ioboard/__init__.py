"""Kiosk I/O board: card-slot sensors, card motor, LEDs, buzzer (docs/ioboard-protocol.md)."""
