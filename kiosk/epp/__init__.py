"""Encrypted PIN pad (SZZT ZT598 family): framing, key hierarchy, PIN blocks, MAC, simulator."""
