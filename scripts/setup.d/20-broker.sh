#!/usr/bin/env bash
# The broker's ACL plugin (mqtt_broker_config/plugin/mch_guard.c): refuses shared subscriptions
# and retained publishes to devices and disconnects revoked identities on reload. mch-broker
# refuses to start mosquitto without it. Built into a root-owned directory (mosquitto loads it
# as root, so it must not live where the broker user can write). Rebuilt only when the source
# is newer than the installed library.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=mqtt_broker_config/plugin/mch_guard.c
dest_dir=${MCH_BROKER_PLUGIN_DIR:-/usr/local/lib/mch-broker}
dest=$dest_dir/mch_guard.so
if [ -f "$dest" ] && [ "$dest" -nt "$src" ]; then
    exit 0
fi
install -d -m 0755 "$dest_dir"
tmp=$(mktemp "$dest_dir/.mch_guard.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -fPIC -shared -o "$tmp" "$src"
chmod 0644 "$tmp"
mv -f "$tmp" "$dest"
trap - EXIT
echo "20-broker: built $dest"
