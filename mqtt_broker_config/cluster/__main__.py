"""`python -m mqtt_broker_config.cluster --site DIR --out DIR`: write emqx.conf and acl.conf for the site.

Run it after every revocation and copy acl.conf to each node (then `emqx ctl acl reload` and kick
the revoked clients). Exit 1 with a message when the site's revoked list cannot be read, 2 on usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mqtt_broker_config.cluster import write
from mqtt_broker_config.errors import BrokerConfigError


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mqtt_broker_config.cluster",
                                description="EMQX cluster configuration for a site")
    p.add_argument("--site", type=Path, required=True, help="site directory (or the broker's view of it)")
    p.add_argument("--out", type=Path, required=True, help="where to write emqx.conf and acl.conf")
    args = p.parse_args(argv)
    try:
        for path in write(args.site, args.out):
            print(f"wrote {path}")
    except (BrokerConfigError, OSError) as exc:
        print(f"mqtt_broker_config.cluster: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
