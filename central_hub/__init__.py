"""central_hub."""
