#!/usr/bin/env bash
# PostgreSQL for the hub's storage tests: use the server at 127.0.0.1:5432 when one answers;
# otherwise start the installed cluster, or create a throwaway one (trust auth, loopback only).
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432; }
ready && exit 0
if ls /etc/postgresql/*/main >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
for _ in $(seq 1 30); do ready && break; sleep 1; done
ready && { psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1 && exit 0; }
# Throwaway cluster owned by the postgres user, trust auth on loopback.
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
data=/var/tmp/mch-pg
if [ ! -d "$data" ]; then
    install -d -o postgres -g postgres "$data"
    su postgres -c "$bin/initdb -D $data -A trust -U postgres" >/dev/null
fi
su postgres -c "$bin/pg_ctl -D $data -o '-c listen_addresses=127.0.0.1 -p 5432 -k /tmp' -l $data/log start -w" >/dev/null
ready
