"""What the patient reads: device names in her language, whatever language the flow was written in."""

from __future__ import annotations

from kiosk.flows.messages import Notice


def test_device_fault_names_the_devices_in_the_language_she_reads() -> None:
    notice = Notice("device_fault", {"devices": "pinpad,receipt"})
    assert notice.text("zh") == "密码键盘、凭条打印机 故障，相关功能暂停使用。"
    assert notice.text("en") == "PIN pad, receipt printer is out of order; the services that need it are paused."
    assert "PIN" not in Notice("device_fault", {"devices": "pinpad"}).text("zh")


def test_a_decline_the_kiosk_has_no_words_for_shows_its_response_code_not_the_hubs_english() -> None:
    notice = Notice("declined", {"response_code": "96", "reason": "system malfunction"})
    assert notice.text("zh") == "支付未成功：发卡行拒绝交易（应答码 96）。未扣款。"
    assert notice.text("en") == "Payment declined: system malfunction. Nothing was charged."
