"""Bedside monitor interfaces: decoders per monitor family, sample assembly, reader threads."""

from fetal_monitor_station.monitor.decoder import DecoderStats, MonitorDecoder, make_decoder, protocols
from fetal_monitor_station.monitor.reader import BedReader, LinkQuality

__all__ = ["BedReader", "DecoderStats", "LinkQuality", "MonitorDecoder", "make_decoder", "protocols"]
