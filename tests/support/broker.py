"""Fixtures: broker (being written)."""
