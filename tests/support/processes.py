"""Child processes as an operator sees them; one definition, in the product's hub supervisor."""

from central_hub.launcher import process_tree, terminate

__all__ = ["process_tree", "terminate"]
