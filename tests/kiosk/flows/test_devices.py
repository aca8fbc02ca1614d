from __future__ import annotations

from kiosk.flows.devices import DeviceHealth, Devices


def test_a_fault_disables_only_the_flows_that_need_the_device() -> None:
    reports: list[dict[str, str]] = []
    health = DeviceHealth(Devices(idcard=object(), pinpad=object(), bankcard=object(), motor=object(),  # type: ignore[arg-type]
                                  receipt=object(), a4=object()), on_change=reports.append)
    assert all(health.available(flow) for flow in ("identify_card", "sign", "pay", "print_report"))
    health.fault("pinpad", "PIN pad locked")
    assert not health.available("pay") and not health.available("sign")
    assert health.available("identify_card") and health.available("book") and health.available("print_report")
    health.fault("pinpad", "PIN pad locked")  # unchanged: not reported again
    health.clear("pinpad")
    assert reports == [{"pinpad": "PIN pad locked"}, {}]


def test_missing_devices_count_as_faults() -> None:
    health = DeviceHealth(Devices())
    assert not health.available("identify_card") and health.available("identify_number")
    assert health.snapshot()["a4"] == "not installed"


def test_faults_as_link_state() -> None:
    health = DeviceHealth(Devices(idcard=object()))  # type: ignore[arg-type]
    faults = {f["code"]: f for f in health.link_faults()}
    assert set(faults) == {"device-pinpad", "device-bankcard", "device-motor", "device-receipt", "device-a4"}
    assert faults["device-pinpad"]["severity"] == "critical" and faults["device-a4"]["severity"] == "warning"
    health.fault("idcard", "no answer to FIND_CARD")
    assert health.link_faults()[2] == {"code": "device-idcard", "severity": "warning",
                                       "since_ms": health.link_faults()[2]["since_ms"],
                                       "detail": "no answer to FIND_CARD"}
