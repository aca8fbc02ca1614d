"""Flash outbox and counters: durability, torn writes, acks, flash-full with a loss record."""

from mchfw import cbor, counters, fsutil, outbox


def _open(tmp, **kw):
    return outbox.Outbox(tmp + "/q", counters.Counters(tmp + "/ctr"), **kw)


def _body(n):
    return {"seq": n, "fhr1_bpm": [140, 141, 142, 143], "toco": [10, 11, 12, 13]}


def test_records_survive_reopen_in_order(tmp):
    ob = _open(tmp)
    ids = [ob.add("ctg", "ctg/1", _body(n), 1000 + n) for n in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
    ob2 = _open(tmp)
    rows = ob2.pending(0, 100)
    assert [r[0] for r in rows] == ids
    assert rows[3][1:4] == ("ctg", "ctg/1", 1003)
    assert cbor.loads(rows[3][4])["seq"] == 3


def test_ack_deletes_and_persists(tmp):
    ob = _open(tmp, segment_bytes=600)
    ids = [ob.add("ctg", "ctg/1", _body(n)) for n in range(40)]
    files_before = len(fsutil.listdir(tmp + "/q"))
    assert ob.ack(ids[:20]) == 20
    assert ob.ack(ids[:20]) == 0  # acking twice is harmless
    assert ob.ack([10 ** 9, "x"]) == 0  # unknown ids and junk are ignored
    assert ob.depth() == 20
    assert len(fsutil.listdir(tmp + "/q")) < files_before  # fully acked segments are gone
    ob2 = _open(tmp, segment_bytes=600)
    assert [r[0] for r in ob2.pending(0, 100)] == ids[20:]
    assert [r[0] for r in ob2.pending(ids[30], 100)] == ids[31:]


def test_power_cut_between_append_and_commit(tmp):
    ob = _open(tmp)
    first = [ob.add("ctg", "ctg/1", _body(n)) for n in range(3)]
    ob.fault_before_commit = True
    try:
        ob.add("ctg", "ctg/1", _body(99))
        raise AssertionError("fault not injected")
    except SystemExit:
        cut = True
    assert cut
    ob2 = _open(tmp)  # "reboot"
    assert [r[0] for r in ob2.pending(0, 100)] == first  # the torn record never became a record
    later = ob2.add("ctg", "ctg/1", _body(4))
    assert later > first[-1] + 1  # its id was reserved, so it is skipped, never reused
    ob3 = _open(tmp)
    assert [r[0] for r in ob3.pending(0, 100)] == first + [later]


def test_counters_never_reuse_after_reboot(tmp):
    c = counters.Counters(tmp + "/ctr", block=10)
    seen = [c.next("ctr") for _ in range(25)]
    c2 = counters.Counters(tmp + "/ctr", block=10)
    more = [c2.next("ctr") for _ in range(5)]
    assert min(more) > max(seen)
    assert seen == list(range(25))
    assert c2.bump("bdseq") == 0 and c2.bump("bdseq") == 1
    assert counters.Counters(tmp + "/ctr").bump("bdseq") == 2


def test_power_cut_while_reserving_a_counter_block(tmp):
    c = counters.Counters(tmp + "/ctr", block=10)
    handed = [c.next("ctr") for _ in range(20)]  # 0..19; reservation 20 is on flash
    store = c.store

    def torn_save():  # the power goes while the next reservation is being written
        store.seq += 1
        store.slot ^= 1
        with open(store.paths[store.slot], "wb") as f:
            f.write(b"\x00\x00\x00")
        raise SystemExit("power cut")

    store.save = torn_save
    try:
        c.next("ctr")
        raise AssertionError("no power cut")
    except SystemExit:
        cut = True
    assert cut
    c2 = counters.Counters(tmp + "/ctr", block=10)
    assert c2.next("ctr") > max(handed)  # the torn copy is ignored, the older one is still ahead


def test_flash_full_drops_oldest_with_alarm_and_loss_record(tmp):
    alarms = []
    ob = _open(tmp, max_bytes=3000, segment_bytes=800, on_alarm=alarms.append)
    ids = [ob.add("ctg", "ctg/1", _body(n)) for n in range(80)]
    assert alarms, "no alarm raised"
    assert ob.bytes_used() <= 3000
    rows = ob.pending(0, 1000)
    loss = [r for r in rows if r[2] == outbox.LOSS_SCHEMA]
    assert loss, "no loss record queued for the hub"
    body = cbor.loads(loss[-1][4])
    assert body["lost_total"] == ob.lost_total > 0
    kept = [r[0] for r in rows if r[2] == "ctg/1"]
    assert kept == ids[len(ids) - len(kept):]  # oldest first
    assert ob.lost_total + len(kept) + sum(1 for r in rows if r[2] == outbox.LOSS_SCHEMA) >= 80
