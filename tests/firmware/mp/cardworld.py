"""The physical side of the I/O board for tests: pins in memory and a card that the motor moves.

The card is at None, "entry", "middle", "inner" or "bin". With the motor running inwards it
moves one position every STEP_MS (from "inner" into the bin after BIN_MS); outwards it moves
back to "entry" and stays at the mouth. `jam` blocks the card where it is.
"""

STEP_MS = 60
BIN_MS = 200
INWARD = {"entry": "middle", "middle": "inner", "inner": "bin"}
OUTWARD = {"inner": "middle", "middle": "entry"}


class Pin:
    def __init__(self, level=0):
        self.level = level
        self.history = [level]

    def value(self, v=None):
        if v is None:
            return self.level
        if v != self.level:
            self.history.append(v)
        self.level = v
        return None


class SensorPin:
    def __init__(self, world, name):
        self.world, self.name = world, name

    def value(self, v=None):
        return self.world.sensor(self.name)


class CardWorld:
    def __init__(self, clock):
        self.clock = clock
        self.position = None
        self.bin_full = False
        self.jam = False
        self.captured = 0
        self.moved_at = 0
        self.glitch = None  # (sensor name, until_ms): a short false reading
        self.pins = {n: Pin() for n in ("motor_fwd", "motor_rev", "buzzer", "led0", "led1", "led2", "led3", "led4")}
        for n in ("s_entry", "s_middle", "s_inner", "s_bin"):
            self.pins[n] = SensorPin(self, n)

    def sensor(self, name):
        self.tick()
        if self.glitch is not None and self.glitch[0] == name and self.clock() < self.glitch[1]:
            return 1
        if name == "s_bin":
            return 1 if self.bin_full else 0
        return 1 if self.position == name[2:] else 0

    def insert(self):
        if self.position is None:
            self.position = "entry"
            self.moved_at = self.clock()

    def take(self):
        if self.position == "entry":
            self.position = None
            return True
        return False

    def tick(self):
        now = self.clock()
        fwd, rev = self.pins["motor_fwd"].level, self.pins["motor_rev"].level
        if self.position is None or self.position == "bin" or self.jam or not (fwd or rev):
            self.moved_at = now
            return
        step = BIN_MS if (fwd and self.position == "inner") else STEP_MS
        if now - self.moved_at < step:
            return
        nxt = (INWARD if fwd else OUTWARD).get(self.position)
        if nxt is None:
            self.moved_at = now
            return
        self.position = nxt
        self.moved_at = now
        if nxt == "bin":
            self.captured += 1
            self.position = None
