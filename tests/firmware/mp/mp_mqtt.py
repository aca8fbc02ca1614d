"""The MQTT 3.1.1 client and the reconnect layer against an injected fake broker stream."""

from fakebroker import FakeBroker
from mchfw import mqtt, robust


def test_connect_with_will_publish_subscribe(tmp):
    b = FakeBroker(session_present=True)
    c = mqtt.Client("bridge-ctg-001", keepalive_s=30)
    c.set_will("mch/v1/bridge-ctg-001/state", b"\x01\x02", 1)
    assert c.connect(b) is True
    cid, flags, wt, wp = b.connects[0]
    assert cid == "bridge-ctg-001" and wt == "mch/v1/bridge-ctg-001/state" and wp == b"\x01\x02"
    assert flags & mqtt.FLAG_WILL and not flags & mqtt.FLAG_CLEAN  # persistent session
    c.subscribe("mch/v1/bridge-ctg-001/ack")
    assert b.subscriptions == ["mch/v1/bridge-ctg-001/ack"]
    pid = c.publish("mch/v1/bridge-ctg-001/ctg", b"x" * 300, 1)
    assert pid in c.unacked
    c.poll(0)
    assert pid not in c.unacked and b.published[0][1] == b"x" * 300


def test_incoming_publish_is_acked_after_the_handler(tmp):
    b = FakeBroker()
    c = mqtt.Client("d-1")
    got = []

    def handler(topic, payload, dup):
        assert not b.pubacks_from_client  # not acknowledged before we handled it
        got.append((topic, payload, dup))

    c.on_message = handler
    c.connect(b)
    b.push("mch/v1/d-1/ack", b"hello", qos=1, pid=9, dup=True)
    c.poll(0)
    assert got == [("mch/v1/d-1/ack", b"hello", True)] and b.pubacks_from_client == [9]


def test_refused_and_garbage_raise_mqtt_error(tmp):
    for broker in (FakeBroker(connack_rc=5),):
        try:
            mqtt.Client("x").connect(broker)
            raise AssertionError("refusal not raised")
        except mqtt.MQTTError:
            refused = True
        assert refused
    b = FakeBroker()
    c = mqtt.Client("x", timeout_ms=50)
    c.connect(b)
    b.outbox.extend(b"\x30\xff\xff\xff\xff\x7f")  # remaining length too long
    try:
        c.poll(0)
        raise AssertionError("bad length accepted")
    except mqtt.MQTTError:
        bad = True
    assert bad


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def test_reconnect_backoff(tmp):
    clock = Clock()
    attempts = []
    brokers = []

    def opener():
        attempts.append(clock.t)
        if len(attempts) < 4:
            raise OSError(111)
        brokers.append(FakeBroker())
        return brokers[-1]

    connected = []
    r = robust.Robust(mqtt.Client("x"), opener, on_connect=lambda: connected.append(clock.t), clock=clock)
    for t in range(0, 20000, 100):
        clock.t = t
        r.service()
    assert attempts[:4] == [0, 1000, 3000, 7000]  # 1 s, 2 s, 4 s
    assert r.connected and connected == [7000]
    brokers[-1].closed = True  # the broker goes away
    clock.t = 20000
    r.service()
    assert not r.connected and r.backoff_ms == robust.MIN_BACKOFF_MS
