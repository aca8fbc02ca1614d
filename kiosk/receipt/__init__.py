"""Thermal receipt printer: ESC/POS via python-escpos, GB18030 Chinese text, QR, DLE EOT status."""
