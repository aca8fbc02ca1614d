"""A4 report printing over CUPS/IPP: submit PDFs, follow jobs, report printer faults."""

from kiosk.a4printer.client import PycupsClient
from kiosk.a4printer.printer import A4Printer, JobResult
from kiosk.a4printer.status import PrinterStatus

__all__ = ["A4Printer", "JobResult", "PrinterStatus", "PycupsClient"]
