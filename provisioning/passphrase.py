"""Where the site passphrase comes from: a file, the environment, or a prompt; never argv."""

from __future__ import annotations

import getpass
import os
import stat
import sys
from pathlib import Path

from provisioning.errors import PassphraseError

ENV_VAR = "MCH_CA_PASSPHRASE"
OTHERS_MASK = 0o077  # group and other bits: a passphrase file must be 0600 or stricter
MIN_LENGTH = 12  # CA keys are PKCS#8 PBES2 with OpenSSL's default 2048 PBKDF2 rounds: length matters


def get_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> bytes:
    """`--passphrase-file` first, then $MCH_CA_PASSPHRASE, then a prompt when stdin is a terminal."""
    if passphrase_file is not None:
        try:
            mode = stat.S_IMODE(os.stat(passphrase_file).st_mode)
            text = Path(passphrase_file).read_text().rstrip("\r\n")
        except OSError as exc:
            raise PassphraseError(f"cannot read passphrase file {passphrase_file}: {exc.strerror}") from None
        if mode & OTHERS_MASK:
            raise PassphraseError(f"passphrase file {passphrase_file} is readable by others (mode {mode:o}); "
                                  "chmod 600 it")
        source = f"passphrase file {passphrase_file}"
    elif os.environ.get(ENV_VAR):
        text, source = os.environ[ENV_VAR], f"${ENV_VAR}"
    elif sys.stdin.isatty():
        text, source = getpass.getpass("Site CA passphrase: "), "prompt"
        if confirm and getpass.getpass("Repeat passphrase: ") != text:
            raise PassphraseError("the two passphrases differ")
    else:
        raise PassphraseError(f"no site passphrase: give --passphrase-file FILE or set {ENV_VAR} "
                              "(it is never taken on the command line)")
    if not text:
        raise PassphraseError(f"the site passphrase from {source} is empty")
    if confirm and len(text) < MIN_LENGTH:
        raise PassphraseError(f"the site passphrase must have at least {MIN_LENGTH} characters")
    return text.encode()
