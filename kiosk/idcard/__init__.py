"""Resident ID card (二代证) reader: SAM_V frames, identity decoding, simulator."""
