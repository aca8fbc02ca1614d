"""Fixtures: hub (being written)."""
