"""One exception hierarchy for provisioning; library errors are wrapped at the boundary."""


class ProvisioningError(Exception):
    """Base of every error the technicians' CLI reports (exit status 1, message on stderr)."""


class SiteError(ProvisioningError):
    """The site directory is missing, incomplete or already exists."""


class PassphraseError(ProvisioningError):
    """No passphrase was given, or it does not unlock the site CA key."""


class EnrollmentError(ProvisioningError):
    """A device could not be enrolled (bad id, already enrolled, bad CSR)."""


class UnknownDeviceError(ProvisioningError):
    """The device id is not in the site registry."""
