"""Dashboard text in Simplified Chinese (first) and English. One table, one key per phrase."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

TEXT: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "app.title": ("妇幼健康边缘网络 · 中心运维台", "MCH edge network · hub operations"),
    "nav.fleet": ("设备", "Fleet"),
    "nav.quarantine": ("隔离区", "Quarantine"),
    "nav.feed": ("县级平台上报", "County feed"),
    "nav.audit": ("审计日志", "Audit log"),
    "nav.logout": ("退出", "Sign out"),
    "nav.language": ("English", "中文"),
    "login.title": ("登录", "Sign in"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.refused": ("用户名或密码错误，或账户已锁定。", "Wrong user name or password, or the account is locked."),
    "login.locked": ("连续失败次数过多，账户已锁定 15 分钟。", "Too many failures: the account is locked for 15 minutes."),
    "state.online": ("在线", "online"),
    "state.offline": ("离线", "offline"),
    "state.silent": ("失联", "silent"),
    "state.never-seen": ("从未上线", "never seen"),
    "fleet.title": ("设备总览", "Fleet"),
    "fleet.device": ("设备", "Device"),
    "fleet.site": ("站点", "Site"),
    "fleet.kind": ("类型", "Kind"),
    "fleet.state": ("状态", "State"),
    "fleet.last_seen": ("最后通信", "Last seen"),
    "fleet.firmware": ("固件", "Firmware"),
    "fleet.queue": ("待发记录", "Outbox"),
    "fleet.oldest": ("最早待发", "Oldest pending"),
    "fleet.cert": ("证书到期", "Certificate expiry"),
    "fleet.faults": ("故障", "Faults"),
    "fleet.alarms": ("临床报警", "Clinical alarms"),
    "fleet.filter": ("筛选", "Filter"),
    "fleet.all": ("全部", "all"),
    "fleet.with_fault": ("有故障", "with a fault"),
    "fleet.no_fault": ("无故障", "no fault"),
    "fleet.shown": ("显示 {shown} / {total} 台", "showing {shown} of {total}"),
    "fleet.next": ("下一页", "next page"),
    "fleet.prev": ("上一页", "previous page"),
    "fleet.live": ("实时更新", "live"),
    "fleet.revoked": ("已吊销", "revoked"),
    "fleet.unregistered": ("未登记", "not registered"),
    "cert.expired": ("已过期", "expired"),
    "cert.soon": ("{days} 天内到期", "expires in {days} days"),
    "alarms.none": ("无", "none"),
    "alarms.summary": ("{beds} 床报警，最高 {highest}", "{beds} beds in alarm, highest {highest}"),
    "priority.high": ("高", "high"),
    "priority.medium": ("中", "medium"),
    "priority.low": ("低", "low"),
    "priority.none": ("无", "none"),
    "severity.critical": ("严重", "critical"),
    "severity.warning": ("警告", "warning"),
    "severity.info": ("提示", "info"),
    "device.title": ("设备详情", "Device"),
    "device.history": ("历史", "History"),
    "device.commands": ("命令", "Commands"),
    "device.send": ("发送", "Send"),
    "device.no_commands": ("此运维台未配置发送命令的中心身份。", "This dashboard has no hub identity to send commands with."),
    "device.registry": ("登记信息", "Registry"),
    "device.status": ("登记状态", "Registry status"),
    "device.serial": ("证书序列号", "Certificate serial"),
    "device.records": ("已存记录", "Records stored"),
    "device.births": ("上线次数", "Births"),
    "device.expires": ("在线有效至", "Online until"),
    "device.not_found": ("没有这台设备。", "No such device."),
    "command.rebirth": ("重新上报状态", "rebirth"),
    "command.config-push": ("下发配置", "config push"),
    "command.crl-refresh": ("刷新吊销列表", "CRL refresh"),
    "command.renew": ("更新证书", "certificate renewal"),
    "command.reboot": ("重启", "reboot"),
    "command.update-offer": ("提供固件更新", "update offer"),
    "command.state.sent": ("已发送，等待确认", "sent, waiting"),
    "command.state.done": ("已完成", "done"),
    "command.state.refused": ("被拒绝", "refused"),
    "command.state.failed": ("失败", "failed"),
    "command.state.timeout": ("超时", "timed out"),
    "command.issued": ("命令已发送。", "Command sent."),
    "when": ("时间", "When"),
    "event": ("事件", "Event"),
    "detail": ("详情", "Detail"),
    "actor": ("操作人", "By"),
    "result": ("结果", "Result"),
    "quarantine.title": ("隔离区", "Quarantine"),
    "quarantine.reason": ("原因", "Reason"),
    "quarantine.topic": ("主题", "Topic"),
    "quarantine.seen": ("次数", "Seen"),
    "quarantine.first": ("首次", "First"),
    "quarantine.last": ("最近", "Last"),
    "quarantine.purge": ("清除", "Purge"),
    "quarantine.purged": ("已清除隔离项 #{id}。", "Quarantine item #{id} purged."),
    "quarantine.release": ("放行", "Release"),
    "quarantine.released": ("已放行隔离项 #{id}：存入 {n} 条记录。", "Quarantine item #{id} released: {n} record(s) stored."),
    "quarantine.release_refused": ("隔离项 #{id} 未放行：", "Quarantine item #{id} not released:"),
    "quarantine.empty": ("隔离区为空。", "Nothing in quarantine."),
    "quarantine.counts": ("按原因统计", "By reason"),
    "audit.title": ("审计日志", "Audit log"),
    "audit.action": ("操作", "Action"),
    "audit.target": ("对象", "Target"),
    "audit.chain": ("哈希链", "Hash chain"),
    "audit.hash": ("哈希", "Hash"),
    "audit.intact": ("完整：{rows} 条，链头 {head}", "intact: {rows} rows, head {head}"),
    "audit.broken": ("已被篡改：第 {seq} 条，{problem}", "BROKEN at row {seq}: {problem}"),
    "feed.title": ("县级平台上报状态", "County feed status"),
    "feed.pending": ("待上报", "pending"),
    "feed.sent": ("已上报", "sent"),
    "feed.dead": ("被拒（死信）", "refused (dead letters)"),
    "feed.skipped": ("无需上报", "not for the county"),
    "feed.oldest": ("最早待上报", "oldest pending"),
    "feed.last_success": ("最近成功", "last success"),
    "feed.last_error": ("最近错误", "last error"),
    "feed.next_attempt": ("下次重试", "next attempt"),
    "feed.dead_title": ("死信（县级平台拒收）", "Dead letters (refused by the county)"),
    "feed.none_dead": ("没有死信。", "No dead letters."),
    "feed.requeue": ("重新上报", "Requeue"),
    "feed.note": ("原因", "Reason"),
    "feed.requeued": ("已重新排队 {n} 条。", "{n} requeued."),
    "feed.requeue_needs": ("重新上报需要填写原因。", "A requeue needs a reason."),
    "feed.schema": ("记录类型", "Record kind"),
    "feed.http": ("HTTP 状态", "HTTP status"),
    "feed.attempts": ("尝试次数", "Attempts"),
    "error.forbidden": ("您的角色无权执行此操作。", "Your role may not do this."),
    "error.csrf": ("表单已失效（缺少或错误的安全令牌），请刷新页面后重试。",
                   "The form has expired (missing or wrong security token); reload the page and try again."),
    "error.bad_request": ("请求无效。", "Bad request."),
    "error.store": ("中心数据库暂时无法访问，请稍后刷新。数据不会丢失：设备会保留记录直到中心确认。",
                    "The hub database cannot be reached just now; reload in a moment. Nothing is lost: devices "
                    "keep their records until the hub acknowledges them."),
    "fault.paper-out": ("缺纸", "paper out"),
    "fault.pinpad-tamper": ("密码键盘防拆触发", "PIN pad tamper"),
    "fault.pinpad-lockout": ("密码键盘锁定", "PIN pad locked out"),
    "fault.monitor-disconnected": ("监护仪断开", "monitor disconnected"),
    "fault.low-disk": ("磁盘空间不足", "low disk"),
    "fault.device-reset": ("检测到设备重置", "device reset detected"),
    "fault.registry": ("登记文件无法读取", "registry file unreadable"),
    "fault.disk": ("中心磁盘空间不足", "hub disk low"),
    "fault.quarantine-quota": ("隔离配额已满", "quarantine quota exceeded"),
    "hub.faults": ("中心自身的问题", "Problems of the hub itself"),
    "fault.printer-offline": ("打印机离线", "printer offline"),
    "fault.card-reader": ("读卡器故障", "card reader fault"),
    "role.operator": ("运维员", "operator"),
    "role.auditor": ("审计员", "auditor"),
    "role.admin": ("管理员", "admin"),
}


def translator(language: str) -> Callable[..., str]:
    index = 0 if language != "en" else 1

    def t(key: str, **values: object) -> str:
        pair = TEXT.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t


def fault_label(language: str) -> Callable[[str], str]:
    """A fault code in words; codes this table does not know are shown as they are."""
    index = 0 if language != "en" else 1

    def label(code: str) -> str:
        pair = TEXT.get(f"fault.{code}")
        return pair[index] if pair else code

    return label


def pick_language(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE
