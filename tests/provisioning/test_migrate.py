"""`mch-provision migrate`: a site of the earlier layout (PKCS#8 CA keys under one passphrase,
no revoked list, no deploy views) brought to the current one, keys and registry intact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mch_link.sitefiles import broker_view, hub_view, load_revoked
from provisioning import cakey, pki
from provisioning.errors import PassphraseError
from provisioning.migrate import migrate
from provisioning.site import ISSUING_KEY, ROOT_KEY, Site
from tests.support.pki import TEST_PASSPHRASE

NEW_ROOT_PASSPHRASE = b"a separate root passphrase"


def make_legacy(site: Site) -> None:
    """Rewrite `site` the way the earlier release left it."""
    for current, legacy, passphrase in ((ROOT_KEY, "root.key.pem", b"test-root-passphrase"),
                                        (ISSUING_KEY, "issuing.key.pem", TEST_PASSPHRASE)):
        key = cakey.unprotect((site.ca_dir / current).read_bytes(), current, passphrase)
        (site.ca_dir / legacy).write_bytes(pki.key_to_pem(key, TEST_PASSPHRASE))  # one shared passphrase
        (site.ca_dir / current).unlink()
    (site.ca_dir / "revoked.txt").unlink()
    shutil.rmtree(site.path / "deploy")


def test_migrate_a_legacy_site(site: Site) -> None:
    site.enroll("kiosk-001", "kiosk")
    site.enroll("kiosk-002", "kiosk")
    site.issue_hub_identity("hub-1")
    site.revoke("kiosk-002")
    site.revoke_hub_identity("hub-1")
    issuing_before = site.issuer().key.private_numbers()
    make_legacy(site)
    # the legacy site still signs (read path kept), but the broker has no revoked list yet
    Site.open(site.path, TEST_PASSPHRASE).renew_crl()
    with pytest.raises(PassphraseError, match="root-passphrase-file"):
        migrate(site.path, TEST_PASSPHRASE, None)
    done = migrate(site.path, TEST_PASSPHRASE, NEW_ROOT_PASSPHRASE)
    assert any("root.key.pem -> root.key.json" in line for line in done)
    assert not list(site.ca_dir.glob("*.key.pem"))
    cakey.unprotect((site.ca_dir / ROOT_KEY).read_bytes(), "root", NEW_ROOT_PASSPHRASE)
    with pytest.raises(PassphraseError):
        cakey.unprotect((site.ca_dir / ROOT_KEY).read_bytes(), "root", TEST_PASSPHRASE)
    assert Site.open(site.path, TEST_PASSPHRASE).issuer().key.private_numbers() == issuing_before
    assert load_revoked(site.path) == {"kiosk-002", "hub-1"}
    assert load_revoked(broker_view(site.path)) == {"kiosk-002", "hub-1"}
    assert (hub_view(site.path, "hub") / "registry" / "kiosk-001.json").is_file()
    assert migrate(site.path, TEST_PASSPHRASE, NEW_ROOT_PASSPHRASE)[0].startswith("view ")  # idempotent
    assert Path(site.path / "ca" / ISSUING_KEY).is_file()
