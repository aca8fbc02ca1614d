"""Secret files: created 0600 through a fresh random temp name, O_EXCL|O_NOFOLLOW, then renamed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from provisioning.errors import ProvisioningError
from provisioning.files import write_secret


def test_a_planted_symlink_at_the_old_fixed_temp_name_is_not_followed(tmp_path: Path) -> None:
    """The temp file was `.<name>.tmp`, opened O_TRUNC without O_NOFOLLOW: a symlink planted there
    made the write land in (and truncate) the file it pointed to."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / ".device.key.pem.tmp").symlink_to(victim)
    write_secret(tmp_path / "device.key.pem", b"SECRET")
    assert victim.read_text() == "precious\n"
    assert (tmp_path / "device.key.pem").read_bytes() == b"SECRET"
    assert stat.S_IMODE((tmp_path / "device.key.pem").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".device.key.pem.tmp", "device.key.pem", "victim"]


def test_exclusive_write_refuses_an_existing_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "ca.key").symlink_to(victim)
    with pytest.raises(ProvisioningError, match="refusing to overwrite"):
        write_secret(tmp_path / "ca.key", b"SECRET", exclusive=True)
    assert victim.read_text() == "precious\n" and [p.name for p in tmp_path.glob(".*")] == []


def test_temp_files_are_opened_exclusive_and_nofollow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flags_seen: list[int] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        flags_seen.append(flags)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    write_secret(tmp_path / "a", b"1")
    write_secret(tmp_path / "a", b"2")
    assert len(flags_seen) == 2 and all(f & os.O_EXCL and f & os.O_NOFOLLOW for f in flags_seen)
