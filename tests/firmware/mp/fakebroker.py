"""An in-memory MQTT 3.1.1 broker end for tests: a stream the client writes to and reads from.

It answers CONNECT, SUBSCRIBE, PUBLISH (QoS 1 -> PUBACK) and PINGREQ like a broker, records
what the client published, and can push PUBLISH packets to the client.
"""

import struct

from mchfw import mqtt


class FakeBroker:
    def __init__(self, connack_rc: int = 0, session_present: bool = False, ack_publishes: bool = True) -> None:
        self.inbox = bytearray()  # client -> broker, unparsed
        self.outbox = bytearray()  # broker -> client
        self.connack_rc, self.session_present, self.ack_publishes = connack_rc, session_present, ack_publishes
        self.connects: list = []  # (client_id, flags, will_topic, will_payload)
        self.published: list = []  # (topic, payload, qos, pid)
        self.subscriptions: list = []
        self.pings = 0
        self.closed = False
        self.pubacks_from_client: list = []

    # stream interface used by mqtt.Client
    def write(self, data):
        if self.closed:
            raise OSError(32)
        self.inbox.extend(data)
        self._process()
        return len(data)

    def read(self, n):
        if self.closed and not self.outbox:
            return b""
        chunk = bytes(self.outbox[:n])
        self.outbox = self.outbox[n:]
        return chunk

    def wait_readable(self, timeout_ms):
        return bool(self.outbox) or self.closed

    def close(self):
        self.closed = True

    # broker side
    def push(self, topic, payload, qos=1, pid=77, dup=False):
        body = mqtt._str(topic) + (struct.pack(">H", pid) if qos else b"") + payload
        self.outbox.extend(mqtt.packet(mqtt.PUBLISH | (qos << 1) | (mqtt.DUP if dup else 0), body))

    def _process(self):
        while len(self.inbox) >= 2:
            n, shift, i = 0, 0, 1
            while True:
                if i >= len(self.inbox):
                    return
                b = self.inbox[i]
                n |= (b & 0x7F) << shift
                shift += 7
                i += 1
                if not b & 0x80:
                    break
            if len(self.inbox) < i + n:
                return
            first, body = self.inbox[0], bytes(self.inbox[i:i + n])
            self.inbox = self.inbox[i + n:]
            self._packet(first, body)

    def _packet(self, first, body):
        kind = first & 0xF0
        if kind == mqtt.CONNECT:
            flags = body[7]
            pos = 10
            cid_len = struct.unpack(">H", body[pos:pos + 2])[0]
            cid = body[pos + 2:pos + 2 + cid_len].decode()
            pos += 2 + cid_len
            will_topic = will_payload = None
            if flags & mqtt.FLAG_WILL:
                tl = struct.unpack(">H", body[pos:pos + 2])[0]
                will_topic = body[pos + 2:pos + 2 + tl].decode()
                pos += 2 + tl
                pl = struct.unpack(">H", body[pos:pos + 2])[0]
                will_payload = body[pos + 2:pos + 2 + pl]
            self.connects.append((cid, flags, will_topic, will_payload))
            self.outbox.extend(bytes((mqtt.CONNACK, 2, 1 if self.session_present else 0, self.connack_rc)))
        elif kind == mqtt.PUBLISH:
            qos = (first >> 1) & 3
            tl = struct.unpack(">H", body[:2])[0]
            topic = body[2:2 + tl].decode()
            pos = 2 + tl
            pid = 0
            if qos:
                pid = struct.unpack(">H", body[pos:pos + 2])[0]
                pos += 2
            self.published.append((topic, body[pos:], qos, pid))
            if qos and self.ack_publishes:
                self.outbox.extend(mqtt.packet(mqtt.PUBACK, struct.pack(">H", pid)))
        elif kind == mqtt.SUBSCRIBE & 0xF0:
            pid = struct.unpack(">H", body[:2])[0]
            tl = struct.unpack(">H", body[2:4])[0]
            self.subscriptions.append(body[4:4 + tl].decode())
            self.outbox.extend(mqtt.packet(mqtt.SUBACK, struct.pack(">H", pid) + bytes((1,))))
        elif kind == mqtt.PINGREQ:
            self.pings += 1
            self.outbox.extend(mqtt.packet(mqtt.PINGRESP, b""))
        elif kind == mqtt.PUBACK:
            self.pubacks_from_client.append(struct.unpack(">H", body)[0])
