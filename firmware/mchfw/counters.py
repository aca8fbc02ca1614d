"""Monotonic counters persisted in reserved blocks: a power cut skips numbers, never reuses one.

Before handing out a number past the reserved high-water mark, the next block is reserved on
flash (Store.save). After a reboot counting resumes at the reserved mark. Used for the
envelope counter (the nonce), record ids (msg_id) and the birth/death sequence (bdseq).
"""

from mchfw.store import Store

DEFAULT_BLOCK = 256


class Counters:
    def __init__(self, path: str, block: int = DEFAULT_BLOCK) -> None:
        self.store = Store(path)
        self.block = block
        self.next_value: dict = {}  # name -> next number to hand out (in RAM)

    def next(self, name: str, minimum: int = 0) -> int:
        """The next number of counter `name`; persisted (reserved) before it is returned."""
        reserved = self.store.data.get(name, minimum)
        value = self.next_value.get(name, reserved)
        if value < minimum:
            value = minimum
        if value >= reserved:
            self.store.data[name] = value + self.block
            self.store.save()
        self.next_value[name] = value + 1
        return value

    def raise_to(self, name: str, minimum: int) -> None:
        """Never hand out a number below `minimum` again (the hub saw lower ones: ack/1 `floor`)."""
        if self.next_value.get(name, self.store.data.get(name, 0)) < minimum:
            self.next_value[name] = minimum
            if self.store.data.get(name, 0) < minimum:
                self.store.data[name] = minimum  # reserved mark: a reboot resumes at or above it
                self.store.save()

    def bump(self, name: str) -> int:
        """A counter that moves by one per call and is saved every time (e.g. bdseq)."""
        value = self.store.data.get(name, -1) + 1
        self.store.data[name] = value
        self.store.save()
        return value
