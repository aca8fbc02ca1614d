"""A simulated device fleet: N enrolled devices producing records through the real link."""
