"""Hub commands on the device (cmd/1): each carried out once, each answered.

The hub (central_hub.commands) sends `{"command", "id", "args"}` and waits for the answer in
the device's next state message: `command_results: [{"id", "status", "detail"}]`, status
done / refused / failed. A handler returns (status, detail) at once, or None when the answer
comes later (an update offer is answered once the new image has confirmed itself or been
rolled back, after a reboot: `finish`). Ids already carried out are kept on flash (the last
REMEMBERED), so a command redelivered by the broker's persistent session, or replayed, is
not run again, not even after a reboot. A command without an id (the hub worker's rebirth
request) is carried out and not answered.
"""

from mchfw.store import Store

STATUS_DONE = "done"
STATUS_REFUSED = "refused"
STATUS_FAILED = "failed"
REMEMBERED = 32
MAX_RESULTS = 16  # state/1 command_results maxItems
MAX_DETAIL = 200
MAX_ID = 9007199254740991


class Commands:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.handlers: dict = {}  # command -> fn(args, command_id) -> (status, detail) | None
        self.results: list = []  # answers waiting for the next state message

    def on(self, command: str, handler) -> None:
        self.handlers[command] = handler

    def _seen(self) -> list:
        return self.store.data.get("seen", [])

    def handle(self, body) -> bool:
        """Carry out one command body; True when a state message should go out now (with its answer)."""
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            return False
        command, command_id = body["command"], body.get("id")
        if command_id is not None and (not isinstance(command_id, int) or isinstance(command_id, bool)
                                       or not 1 <= command_id <= MAX_ID):
            return False
        if command_id is not None and command_id in self._seen():
            return False
        args = body.get("args", {})
        if command_id is not None:  # remembered before it runs: a reboot mid-command never reruns it
            self.store.data["seen"] = (self._seen() + [command_id])[-REMEMBERED:]
            self.store.save()
        handler = self.handlers.get(command)
        if handler is None:
            answer = (STATUS_REFUSED, command + " is not supported by this device")
        elif not isinstance(args, dict):
            answer = (STATUS_REFUSED, "args must be an object")
        else:
            try:
                answer = handler(args, command_id)
            except Exception as exc:  # noqa: BLE001 - a failing handler is answered, never kills the loop
                answer = (STATUS_FAILED, f"{type(exc).__name__}: {exc}")
        if command_id is None:
            return False
        if answer is not None:
            self.finish(command_id, answer[0], answer[1])
        return True

    def finish(self, command_id: int, status: str, detail: str = "") -> None:
        self.results.append({"id": command_id, "status": status, "detail": str(detail)[:MAX_DETAIL]})

    def take_results(self) -> list:
        out, self.results = self.results[:MAX_RESULTS], self.results[MAX_RESULTS:]
        return out


# -- the bridge's commands (wired by app.py) ---------------------------------------------------
# config-push: settings a hub may change at run time, with their bounds; kept on flash over reboots
SETTINGS = {"heartbeat_ms": (1000, 3600000), "health_window_ms": (10000, 3600000)}
CRL_REFUSAL = "no CRL check on this bridge (MicroPython's TLS has none): the broker refuses revoked devices"
RENEW_REFUSAL = "renewal needs a key made on a host: re-provision the bridge (mch-provision board)"


def apply_settings(link, settings: dict) -> None:
    if "heartbeat_ms" in settings:
        link.heartbeat_ms = settings["heartbeat_ms"]


def config_push(link, store: Store, args: dict):
    """args {"bridge": {name: value}}: every name known and in bounds, or nothing is applied."""
    wanted = args.get("bridge")
    if not isinstance(wanted, dict) or not wanted:
        return STATUS_REFUSED, "want args {\"bridge\": {...}} with some of " + ", ".join(sorted(SETTINGS))
    for name, value in wanted.items():
        if name not in SETTINGS:
            return STATUS_REFUSED, "unknown setting " + str(name)[:40]
        lo, hi = SETTINGS[name]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            return STATUS_REFUSED, f"{name} must be an integer {lo}..{hi}"
    saved = store.data.get("settings", {})
    saved.update(wanted)
    store.data["settings"] = saved
    store.save()
    apply_settings(link, saved)
    return STATUS_DONE, "applied " + ", ".join(sorted(wanted))


def bridge_handlers(cmds: Commands, link, request_reset, settings_store: Store) -> None:
    def reboot(args, command_id):
        request_reset()  # after the answer has gone out (app.py)
        return STATUS_DONE, "rebooting"

    cmds.on("reboot", reboot)
    cmds.on("config-push", lambda args, cid: config_push(link, settings_store, args))
    cmds.on("crl-refresh", lambda args, cid: (STATUS_REFUSED, CRL_REFUSAL))
    cmds.on("renew", lambda args, cid: (STATUS_REFUSED, RENEW_REFUSAL))
    apply_settings(link, settings_store.data.get("settings", {}))
