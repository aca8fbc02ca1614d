"""Resident ID card (二代证) reading at admission: the SAM_V serial protocol, station side."""
