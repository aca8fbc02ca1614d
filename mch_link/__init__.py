"""mch_link."""
