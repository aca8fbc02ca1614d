"""Where the site passphrase comes from: a file, the environment, or a prompt; never argv."""

from __future__ import annotations

import getpass
import os
import stat
import sys
from pathlib import Path

from provisioning.errors import PassphraseError

ENV_VAR = "MCH_CA_PASSPHRASE"
ROOT_ENV_VAR = "MCH_CA_ROOT_PASSPHRASE"
OTHERS_MASK = 0o077  # group and other bits: a passphrase file must be 0600 or stricter
MIN_LENGTH = 12  # PBKDF2 slows guessing down; it cannot make a short passphrase strong
SITE_PROMPT = "Site CA passphrase"
ROOT_PROMPT = "Root CA passphrase"


def get_root_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> bytes:
    """The root CA's own passphrase: `--root-passphrase-file`, $MCH_CA_ROOT_PASSPHRASE or a prompt."""
    return get_passphrase(passphrase_file, confirm=confirm, env_var=ROOT_ENV_VAR, prompt=ROOT_PROMPT,
                          option="--root-passphrase-file")


def get_passphrase(passphrase_file: Path | None, *, confirm: bool = False, env_var: str = ENV_VAR,
                   prompt: str = SITE_PROMPT, option: str = "--passphrase-file") -> bytes:
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
    elif os.environ.get(env_var):
        text, source = os.environ[env_var], f"${env_var}"
    elif sys.stdin.isatty():
        text, source = getpass.getpass(f"{prompt}: "), "prompt"
        if confirm and getpass.getpass("Repeat passphrase: ") != text:
            raise PassphraseError("the two passphrases differ")
    else:
        raise PassphraseError(f"no {prompt[0].lower()}{prompt[1:]}: give {option} FILE or set {env_var} "
                              "(it is never taken on the command line)")
    if not text:
        raise PassphraseError(f"the {prompt[0].lower()}{prompt[1:]} from {source} is empty")
    if confirm and len(text) < MIN_LENGTH:
        raise PassphraseError(f"the {prompt[0].lower()}{prompt[1:]} must have at least {MIN_LENGTH} characters")
    return text.encode()
