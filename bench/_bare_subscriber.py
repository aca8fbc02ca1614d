"""The ceiling for bench.ingest: a bare paho-mqtt subscriber that only counts messages.

Runs in its own process (as the hub does) with the hub's identity and a clean session;
prints `COUNTED <messages> <seconds from first to last>` once it has seen --expect messages.
"""

from __future__ import annotations

import argparse
import ssl
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--timeout", type=float, default=120)
    a = p.parse_args()
    seen = 0
    first = last = 0.0
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal seen, first, last
        last = time.perf_counter()
        if seen == 0:
            first = last
        seen += 1
        if seen >= a.expect:
            done.set()

    def on_connect(client: mqtt.Client, userdata: object, flags: object, rc: object, props: object) -> None:
        client.subscribe("mch/v1/+/ctg", qos=1)

    def on_subscribe(client: mqtt.Client, *args: object) -> None:
        print("SUBSCRIBED", flush=True)

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hub", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=a.ca, certfile=a.cert, keyfile=a.key, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.on_message, c.on_connect, c.on_subscribe = on_message, on_connect, on_subscribe
    c.connect(a.host, a.port, clean_start=True)
    c.loop_start()
    ok = done.wait(a.timeout)
    c.loop_stop()
    print(f"COUNTED {seen} {last - first:.6f}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
