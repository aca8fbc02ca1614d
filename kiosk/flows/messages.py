"""What the patient is told: stable codes with Simplified Chinese first, English second.

Flows return a `Notice` (code + parameters); screens render `notice.text(lang)`. Parameters
never carry unmasked personal data (tests scan for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

CATALOGUE: dict[str, tuple[str, str]] = {
    # identify
    "id_expired": ("您的身份证已于 {valid_to} 过期，请使用有效证件或到人工窗口办理。",
                   "Your ID card expired on {valid_to}. Please use a valid card or go to the staffed window."),
    "id_not_yet_valid": ("您的身份证尚未生效，请到人工窗口办理。", "Your ID card is not valid yet. Please go to the staffed window."),
    "id_invalid": ("身份证信息校验未通过（校验位或日期不符），请到人工窗口办理。",
                   "The ID card failed its check (check digit or dates). Please go to the staffed window."),
    "id_read_failed": ("读卡失败，请将身份证重新放在感应区。", "The card could not be read. Please place your ID card again."),
    "found": ("您好，{name}。", "Welcome, {name}."),
    "not_found_register": ("未找到您的档案，可以在本机自助建档。", "No record found: you can register here."),
    "number_not_found": ("未找到该号码对应的档案，请核对号码或使用身份证。",
                         "No record has this number. Please check it or use your ID card."),
    "number_invalid": ("号码格式不正确（应为 {min}–{max} 位数字）。", "That number is not valid ({min}-{max} digits)."),
    "hub_down_queued": ("医院系统暂时无法连接。您的信息已保存，恢复后自动提交；现在无法预约和缴费。",
                        "The hospital system cannot be reached. Your details are saved and will be sent when it "
                        "is back; booking and payment are not possible now."),
    "hub_down": ("医院系统暂时无法连接，请稍后再试或到人工窗口办理。",
                 "The hospital system cannot be reached. Please try again later or go to the staffed window."),
    "hub_refused": ("{reason}", "{reason}"),  # worded from the hub's code (HUB_REFUSALS), never its own text
    # register
    "form_invalid": ("请检查：{field}", "Please check: {field}"),
    "registered": ("建档成功。孕周 {ga}，预产期 {edd}。", "Record created. Gestational age {ga}, due date {edd}."),
    "registration_queued": ("医院系统暂时无法连接，建档信息已保存，恢复后自动提交。",
                            "The hospital system cannot be reached; your record is saved and will be sent "
                            "when it is back."),
    "screen_positive": ("筛查发现需要关注的情况。请尽快到医生处进行妊娠风险评估分级；本机不评定风险颜色。",
                        "The screening found items that need attention. Please see a doctor soon for risk "
                        "grading; this kiosk does not assign a risk colour."),
    "screen_negative": ("自助筛查未发现阳性项目。风险分级由医生在产检时评定，本机不评定颜色。",
                        "The self-screening found no positive item. Your doctor grades the risk at your "
                        "check-up; this kiosk does not assign a colour."),
    # bank card / PIN
    "card_insert": ("请插入银行卡（芯片卡）。", "Please insert your bank card (chip card)."),
    "card_expired": ("银行卡已过期，请换一张卡。", "This bank card has expired. Please use another card."),
    "card_stripe_only": ("无法读取芯片，请使用芯片银行卡。", "The chip cannot be read. Please use a chip card."),
    "card_removed": ("银行卡被拔出，操作已取消，未扣款。", "The card was removed. Nothing was done and nothing was charged."),
    "card_timeout": ("未检测到银行卡。", "No bank card was inserted."),
    "card_read_failed": ("银行卡读取失败，请重新插卡。", "The bank card could not be read. Please insert it again."),
    "card_id_mismatch": ("银行卡持卡人证件与身份证不一致，不能签约。",
                         "The bank card belongs to someone else (ID number differs). It cannot be bound."),
    "pin_enter": ("请在密码键盘上输入密码，按确认键结束。", "Enter your PIN on the PIN pad and press Enter."),
    "pin_cancelled": ("密码输入已取消，未扣款。", "PIN entry cancelled. Nothing was charged."),
    "pin_timeout": ("密码输入超时，未扣款。", "PIN entry timed out. Nothing was charged."),
    "holder_pin_prompt": ("请输入银行卡密码，验证您是持卡人本人（不扣款）。",
                          "Enter the card's PIN to confirm you are its holder (nothing is charged)."),
    "holder_pin_cancelled": ("密码输入已取消，未做任何更改。", "PIN entry cancelled. Nothing was changed."),
    "holder_pin_timeout": ("密码输入超时，未做任何更改。", "PIN entry timed out. Nothing was changed."),
    "holder_locked": ("密码错误次数过多，银行卡已被发卡行锁定，未做任何更改。请联系发卡银行。",
                      "Too many wrong PINs: the card's bank has locked the card. Nothing was changed; please "
                      "contact your bank."),
    "holder_declined": ("银行卡未通过验证：{reason}。未做任何更改。", "The card was not verified: {reason}. Nothing was changed."),
    "holder_unavailable": ("银行暂时无法验证密码，未做任何更改，请稍后再试。",
                           "The bank cannot check the PIN now. Nothing was changed; please try again later."),
    "card_not_this_binding": ("插入的银行卡不是所选的已绑定卡，未解除绑定。",
                              "This is not the bound card you chose. Nothing was unbound."),
    "signed": ("签约成功，银行卡 {masked_pan} 已绑定。", "Card {masked_pan} is now bound to your record."),
    "unbound": ("解约成功，银行卡 {masked_pan} 已解除绑定。", "Card {masked_pan} has been unbound."),
    "no_binding": ("您还没有绑定银行卡。", "You have no bound bank card."),
    # booking
    "no_visit_due": ("目前没有需要预约的产检。", "No antenatal visit is due now."),
    "no_slots": ("近期没有可预约的号源，请到人工窗口。", "No free slots soon. Please go to the staffed window."),
    "booked": ("已为您保留号源：{clinic} {when}，请在 {hold_until} 前缴费。",
               "Slot held: {clinic} {when}. Please pay before {hold_until}."),
    "booking_offline": ("医院系统暂时无法连接，现在不能预约。", "The hospital system cannot be reached: booking is not possible now."),
    # payment
    "pay_confirm": ("应付金额 {amount} 元。", "Amount due: {amount} yuan."),
    "paid": ("缴费成功，{amount} 元，授权号 {auth_code}。", "Payment approved: {amount} yuan, authorisation {auth_code}."),
    "declined": ("支付未成功：{reason}。未扣款。", "Payment declined: {reason}. Nothing was charged."),
    "not_charged": ("银行未及时应答，交易已撤销，未扣款。", "The bank did not answer in time; the payment was reversed. Nothing was charged."),
    "payment_unconfirmed": ("医院系统未应答，无法确认本次支付。如有扣款将自动退回，请凭流水号 {ref} 到人工窗口核实。",
                            "The hospital system did not answer, so this payment is not confirmed. Any amount "
                            "taken is returned automatically; please show reference {ref} at the window."),
    "payment_unknown": ("医院系统未应答，无法确认本次支付。请凭流水号 {ref} 到人工窗口核实是否扣款。",
                        "The hospital system did not answer, so this payment is not confirmed. Please show "
                        "reference {ref} at the window to check whether anything was taken."),
    "payment_offline": ("医院系统暂时无法连接，现在不能缴费，未扣款。", "The hospital system cannot be reached: payment is not possible now. Nothing was charged."),
    "pin_tries_left": ("密码错误，还可以再试 {left} 次。", "Wrong PIN: {left} tries left."),
    "printer_out_before_pay": ("凭条打印机缺纸，为避免无凭条，现在不收费。请到人工窗口缴费。",
                               "The receipt printer is out of paper, so no payment is taken now. Please pay at the window."),
    # printing
    "printed": ("凭条已打印，请取走。", "Your receipt is printed. Please take it."),
    # the printer's own reason is English driver text: the Chinese screen does not show it (the log does)
    # and the slip may be a booking's or a payment's, so whether she has paid is said by the notice before
    "receipt_failed": ("凭条打印失败，可到人工窗口补打。",
                       "The receipt could not be printed ({reason}). The window can reprint it."),
    "report_printed": ("A4 报告已打印，请到出纸口取走。", "Your A4 report is printed. Please take it from the tray."),
    "report_failed": ("A4 报告打印失败，请到人工窗口打印。", "The A4 report could not be printed ({reason}). The window can print it."),
    # leaving
    "take_card": ("请取走您的银行卡。", "Please take your bank card."),
    "take_id_card": ("请取走您的身份证。", "Please take your ID card."),
    "card_stuck": ("银行卡未能退出，可能仍在机器内，请到人工窗口由工作人员取回。",
                   "Your bank card could not be returned and may still be inside. Please ask at the staffed window."),
    "card_captured": ("银行卡未被取走，已被吞卡保管，请到人工窗口领取。",
                      "Your bank card was not taken and has been kept safe. Collect it at the staffed window."),
    "goodbye": ("谢谢，祝您和宝宝健康！", "Thank you, and all the best to you and your baby!"),
    "device_fault": ("{device} 故障，相关功能暂停使用。", "{device} is out of order; the services that need it are paused."),
    "timeout_wiped": ("长时间无操作，已退出并清除您的信息。", "No activity: you have been signed out and your data cleared."),
}

DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "55": ("密码错误", "wrong PIN"),
    "75": ("密码错误次数超限，卡已锁定，请联系发卡银行", "too many wrong PINs, the card is locked; contact your bank"),
    "51": ("余额不足", "insufficient funds"),
    "54": ("卡已过期", "card expired"),
    "14": ("无效卡号", "invalid card"),
    "61": ("超出金额限制", "amount over the limit"),
    "05": ("发卡行拒绝交易", "refused by the card's bank"),
    "A0": ("安全校验失败", "security check failed"),
}
# The hub's stable refusal codes (central_hub/services/*, mch_link.rpc, kiosk/hospital/client.py) worded for
# her: the hub's own message is English for its log and is never shown (tests walk the code for every code).
HUB_REFUSALS: dict[str, tuple[str, str]] = {
    # patient index, pregnancy records
    "unknown-patient": ("未找到您的档案，请重新识别身份或到人工窗口办理。",
                        "Your record was not found. Please identify again or go to the staffed window."),
    "bad-id-number": ("身份证号码校验未通过（校验位或出生日期不符），请到人工窗口办理。",
                      "The ID number failed its check (check digit or birth date). Please go to the staffed window."),
    "record-exists": ("本次妊娠已建档，且与本次填写的内容不同，请到人工窗口核对。",
                      "This pregnancy already has a record with other details. Please check it at the staffed window."),
    "bad-lmp": ("末次月经日期须在最近 44 周内，请核对后重新填写。",
                "The last menstrual period must be within the last 44 weeks. Please check it."),
    "unknown-record": ("未找到您的孕产档案，请到人工窗口办理。", "Your pregnancy record was not found. Please go to the staffed window."),
    # card checks and bindings
    "verification-unavailable": ("现在无法验证银行卡，未做任何更改，请稍后再试或到人工窗口办理。",
                                 "The card cannot be checked now. Nothing was changed; please try again later or go "
                                 "to the staffed window."),
    "not-verified": ("未验证该银行卡的持卡人密码，未做任何更改，请重新操作。",
                     "The cardholder's PIN was not verified for this card. Nothing was changed; please start again."),
    "unknown-binding": ("未找到该银行卡的绑定记录，未做任何更改。", "That card binding was not found. Nothing was changed."),
    "card-mismatch": ("插入的银行卡不是该绑定的银行卡，未做任何更改。", "This is not the card of that binding. Nothing was changed."),
    # slots and bookings
    "unknown-slot": ("该号源不存在，请重新选择。", "That slot does not exist. Please choose again."),
    "slot-past": ("该号源的时间已过，请选择其他时间。", "That slot has already begun. Please choose another."),
    "slot-full": ("该号源刚刚被约满，请选择其他时间。", "This slot has just been taken. Please choose another."),
    "already-booked": ("您已预约了该号源。", "You already have this slot."),
    "unknown-booking": ("未找到该预约，请重新预约。", "That booking was not found. Please book again."),
    "already-paid": ("该预约已缴费，不会重复扣款；如需取消请到人工窗口办理退费。",
                     "This booking is already paid and is not charged again; to cancel it, go to the staffed "
                     "window for a refund."),
    "hold-expired": ("号源保留时间已过，未扣款，请重新预约。", "The hold on this slot has ended. Nothing was charged; please book again."),
    # payment
    "amount-mismatch": ("缴费金额与应付金额不符，未扣款，请重新操作。", "The amount differs from the fee due. Nothing was charged; please start again."),
    "payment-unavailable": ("现在无法刷卡缴费，未扣款，请到人工窗口缴费。",
                            "Card payment is not available now. Nothing was charged; please pay at the staffed window."),
    "payment-in-progress": ("该预约的一笔缴费正在处理中，请勿重复缴费，可到人工窗口查询结果。",
                            "A payment for this booking is still being settled. Please do not pay again; the "
                            "staffed window can tell you the result."),
    "unknown-payment": ("医院系统没有这笔缴费的记录，请凭流水号到人工窗口核实。",
                        "The hospital system has no record of this payment. Please show the reference at the window."),
    # the request itself
    "bad-request": ("医院系统无法处理本次提交的信息，未做任何更改，请到人工窗口办理。",
                    "The hospital system could not process what was sent. Nothing was changed; please go to the "
                    "staffed window."),
    "not-found": ("医院系统中未找到所需信息，请到人工窗口办理。", "The hospital system did not find what was asked for. Please go to the staffed window."),
    "unknown-method": ("本机暂不支持该功能，请到人工窗口办理。", "This kiosk cannot do that now. Please go to the staffed window."),
    "idempotency-conflict": ("本次操作与之前的一次请求冲突，未做任何更改，请重新开始。",
                             "This request clashes with an earlier one. Nothing was changed; please start again."),
    "in-progress": ("同一操作仍在处理中，请稍后再试。", "The same request is still being processed. Please try again shortly."),
    "internal-error": ("医院系统出现内部错误，请稍后再试或到人工窗口办理。",
                       "The hospital system had an internal error. Please try again later or go to the staffed window."),
    "error": ("医院系统拒绝了该操作，请到人工窗口办理。", "The hospital system refused this. Please go to the staffed window."),
    "unavailable": ("医院系统暂时无法连接，请稍后再试或到人工窗口办理。",
                    "The hospital system cannot be reached. Please try again later or go to the staffed window."),
    "link-error": ("本机未能发出该请求，请到人工窗口办理。", "This kiosk could not send the request. Please go to the staffed window."),
}
UNKNOWN_REFUSAL = ("医院系统未能完成该操作（代码 {code}），请到人工窗口办理。",
                   "The hospital system could not do this (code {code}). Please go to the staffed window.")
DEVICE_NAMES: Mapping[str, tuple[str, str]] = {
    "idcard": ("身份证阅读器", "ID card reader"), "pinpad": ("密码键盘", "PIN pad"),
    "bankcard": ("银行卡读卡器", "bank card reader"), "motor": ("读卡器进卡机构", "card transport"),
    "receipt": ("凭条打印机", "receipt printer"), "a4": ("A4 打印机", "A4 printer"),
}
WRONG_PIN = "55"
PIN_TRIES_EXCEEDED = "75"


@dataclass(frozen=True)
class Notice:
    code: str
    params: dict[str, str] = field(default_factory=dict)

    def text(self, lang: Lang = "zh") -> str:
        zh, en = CATALOGUE[self.code]
        params = dict(self.params)
        if "response_code" in params:  # a decline's reason is worded per language
            params["reason"] = decline_reason(params["response_code"], lang, params.get("reason", ""))
        if self.code == "hub_refused":  # from the code only: the hub's own text is English
            params["reason"] = refusal_reason(params.get("hub_code", ""), lang)
        if "devices" in params:  # device codes, named in the language she reads (also after a switch)
            params["device"] = ("、" if lang == "zh" else ", ").join(
                DEVICE_NAMES[code][0 if lang == "zh" else 1] for code in params["devices"].split(","))
        return (zh if lang == "zh" else en).format(**params)


def hub_refused(code: str) -> Notice:
    """What she is told when the hub refuses with `code` (HospitalError.code)."""
    return Notice("hub_refused", {"hub_code": code})


def refusal_reason(code: str, lang: Lang) -> str:
    zh, en = HUB_REFUSALS.get(code) or UNKNOWN_REFUSAL
    return (zh if lang == "zh" else en).format(code=code or "?")


def decline_reason(code: str | None, lang: Lang, fallback: str = "") -> str:
    pair = DECLINE_REASONS.get(code or "")
    if pair is None:  # the hub's reason is English: on the Chinese screen only the response code is shown
        if lang == "zh":
            return f"发卡行拒绝交易（应答码 {code}）" if code else "交易被拒绝"
        return fallback or (f"declined (response code {code})" if code else "declined")
    return pair[0] if lang == "zh" else pair[1]
