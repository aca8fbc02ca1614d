"""Where traces come from: the synthetic generator and recording readers/writers."""
