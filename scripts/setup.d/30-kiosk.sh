#!/usr/bin/env bash
# Kiosk bank-card reader and A4 printer tests: pcscd (with the vsmartcard vpcd virtual reader
# from /etc/reader.conf.d/vpcd, TCP 35963) and cupsd. No systemd here: start the daemons
# directly. Idempotent: a daemon that already answers is left alone.
set -euo pipefail

pcscd_up() {
    [ -S /run/pcscd/pcscd.comm ] && [ -f /run/pcscd/pcscd.pid ] \
        && kill -0 "$(tr -cd 0-9 < /run/pcscd/pcscd.pid)" 2>/dev/null
}
if ! pcscd_up; then
    # A stale socket or pid file from a killed daemon makes pcscd refuse to start.
    rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    pcscd
    for _ in $(seq 1 50); do pcscd_up && break; sleep 0.1; done
    pcscd_up || { echo "30-kiosk: pcscd did not start" >&2; exit 1; }
fi

cupsd_up() { lpstat -h localhost:631 -r 2>/dev/null | grep -q "is running"; }
if ! cupsd_up; then
    cupsd
    for _ in $(seq 1 50); do cupsd_up && break; sleep 0.1; done
    cupsd_up || { echo "30-kiosk: cupsd did not start" >&2; exit 1; }
fi
