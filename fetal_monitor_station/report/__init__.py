"""The A4 CTG report: paper geometry, PDF at true paper scale, printing, archiving, sending."""
