#!/usr/bin/env bash
# Kiosk bank-card reader and A4 printer tests: pcscd (with the vsmartcard vpcd virtual reader
# from /etc/reader.conf.d/vpcd, TCP 35963), cupsd, and the system D-Bus + avahi-daemon that
# ippeveprinter (the simulated IPP Everywhere printer) needs for DNS-SD even with "-r off".
# No systemd here: start the daemons directly. Idempotent: a daemon that answers is left alone.
set -euo pipefail

wait_for() {  # wait_for <what> <test command...>
    local what=$1; shift
    for _ in $(seq 1 50); do "$@" && return 0; sleep 0.1; done
    echo "30-kiosk: $what did not start" >&2
    exit 1
}

pcscd_up() {
    [ -S /run/pcscd/pcscd.comm ] && [ -f /run/pcscd/pcscd.pid ] \
        && kill -0 "$(tr -cd 0-9 < /run/pcscd/pcscd.pid)" 2>/dev/null
}
if ! pcscd_up; then
    # A stale socket or pid file from a killed daemon makes pcscd refuse to start.
    rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    pcscd
    wait_for pcscd pcscd_up
fi

# Clients (pycups, lpstat) reach cupsd over TCP; queues are administered over its domain socket,
# where root is trusted (a fresh cupsd answers lpadmin over TCP with "Unauthorized").
CUPS_ADMIN_SOCKET=/run/cups/cups.sock
cupsd_up() {
    [ -S "$CUPS_ADMIN_SOCKET" ] && lpstat -h localhost:631 -r 2>/dev/null | grep -q "is running"
}
if ! cupsd_up; then
    mkdir -p /run/cups
    cupsd
    wait_for cupsd cupsd_up
fi
# Prove the path the tests take: create and delete a queue over the socket.
probe="mch_setup_probe_$$"
if ! out=$(lpadmin -h "$CUPS_ADMIN_SOCKET" -p "$probe" -v file:///dev/null 2>&1) \
        || ! lpstat -h localhost:631 -p "$probe" >/dev/null 2>&1 \
        || ! out=$(lpadmin -h "$CUPS_ADMIN_SOCKET" -x "$probe" 2>&1); then
    echo "30-kiosk: cupsd is running but cannot administer queues over $CUPS_ADMIN_SOCKET: $out" >&2
    exit 1
fi

dbus_up() { [ -S /run/dbus/system_bus_socket ] && pgrep -x dbus-daemon >/dev/null; }
if ! dbus_up; then
    mkdir -p /run/dbus
    rm -f /run/dbus/pid /run/dbus/system_bus_socket
    dbus-daemon --system --fork
    wait_for dbus-daemon dbus_up
fi

avahi_up() { avahi-daemon --check 2>/dev/null; }
if ! avahi_up; then
    avahi-daemon --daemonize --no-chroot
    wait_for avahi-daemon avahi_up
fi
