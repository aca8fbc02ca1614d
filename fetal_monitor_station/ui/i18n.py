"""Screen text in Simplified Chinese (first) and English, switchable at run time."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("胎心中央监护", "Central fetal monitoring"),
    "overview": ("总览", "Overview"),
    "alarms": ("报警", "Alarms"),
    "admit": ("入床/出床", "Admit / discharge"),
    "archive": ("档案", "Archive"),
    "language": ("English", "中文"),
    "page": ("第 {index}/{count} 页", "Page {index}/{count}"),
    "layout": ("布局 {layout}", "Layout {layout}"),
    "next_page": ("下一页", "Next page"),
    "bed": ("床位", "Bed"),
    "empty": ("空床", "Empty bed"),
    "unidentified": ("未建档监护", "Not admitted"),
    "offline_since": ("离线 自 {since}", "Offline since {since}"),
    "fhr1": ("胎心1", "FHR1"),
    "fhr2": ("胎心2", "FHR2"),
    "mhr": ("母心率", "MHR"),
    "toco": ("宫缩", "TOCO"),
    "ga": ("孕周 {ga}", "GA {ga}"),
    "hub_down": ("中心服务器不可达 (自 {since})：本机继续记录，{waiting} 条待发送",
                 "Hub unreachable since {since}: recording locally, {waiting} records waiting"),
    "hub_local": ("未配置中心服务器：仅本机记录", "No hub configured: recording locally only"),
    "hub_ok": ("中心服务器已连接", "Hub connected"),
    "no_alarms": ("无报警", "No alarms"),
    "clinical": ("临床报警", "Clinical alarms"),
    "technical": ("技术报警", "Technical alarms"),
    "acknowledge": ("确认", "Acknowledge"),
    "silence": ("静音 2 分钟", "Silence 2 min"),
    "silenced": ("已静音 {s} 秒", "Silenced {s} s"),
    "nurse_id": ("护士工号", "Nurse ID"),
    "need_nurse": ("请先输入护士工号", "Enter your nurse ID first"),
    "acked_by": ("已确认 {nurse}", "Acknowledged by {nurse}"),
    "resolved": ("已恢复，待确认", "Resolved, awaiting acknowledgement"),
    "escalated": ("已升级", "Escalated"),
    "history": ("报警记录", "Alarm history"),
    "live": ("实时", "Live"),
    "viewing": ("正在查看 −{min} 分钟", "Viewing −{min} min"),
    "return_live": ("返回实时", "Return to live"),
    "speed": ("走纸 {s} cm/min", "Paper {s} cm/min"),
    "scale": ("胎心刻度 {scale}", "FHR scale {scale}"),
    "back": ("返回", "Back"),
    "mark": ("事件标记", "Event mark"),
    "print": ("打印报告", "Print report"),
    "printed": ("报告已打印：{name}", "Report printed: {name}"),
    "patient_id": ("住院号", "Hospital number"),
    "patient_name": ("姓名", "Name"),
    "ga_input": ("孕周 (如 38+2)", "Gestational age (e.g. 38+2)"),
    "note": ("备注", "Note"),
    "do_admit": ("入床", "Admit"),
    "do_discharge": ("出床", "Discharge"),
    "do_transfer": ("转床至", "Transfer to"),
    "do_assign": ("归档到此孕妇", "Assign to this patient"),
    "read_card": ("读取身份证", "Read ID card"),
    "reading_card": ("正在读取身份证…", "Reading the ID card…"),
    "card_line": ("身份证 {id}  出生 {birth}", "ID {id}  born {birth}"),
    "nurse_card": ("刷工牌", "Staff card"),
    "outcome": ("出床结局", "Outcome"),
    "outcome_delivered": ("分娩", "Delivered"),
    "outcome_antenatal": ("产前监护 (NST)", "Antenatal NST"),
    "outcome_other": ("其他/转出", "Other / transfer out"),
    "record_id": ("建档号", "Pregnancy record no."),
    "delivery_date": ("分娩日期", "Delivery date"),
    "live_births": ("活产数", "Live births"),
    "in_facility": ("住院分娩", "Delivered in facility"),
    "bp": ("血压 mmHg", "BP mmHg"),
    "systolic": ("收缩压", "systolic"),
    "diastolic": ("舒张压", "diastolic"),
    "weight": ("体重 kg", "Weight kg"),
    "unassigned": ("待处理监护 (未建档)", "Unassigned traces"),
    "unassigned_row": ("{bed}  {start}  {age} 分钟前", "{bed}  {start}  {age} min ago"),
    "search": ("查找 (住院号/姓名)", "Find (hospital no. / name)"),
    "do_search": ("查找", "Search"),
    "replay": ("回放", "Replay"),
    "no_results": ("无结果", "No results"),
    "done": ("完成", "Done"),
    "error": ("错误：{msg}", "Error: {msg}"),
    "bradycardia": ("胎心过缓", "Bradycardia"),
    "tachycardia": ("胎心过速", "Tachycardia"),
    "fhr_high_limit": ("胎心率超上限", "FHR above limit"),
    "fhr_low_limit": ("胎心率低于下限", "FHR below limit"),
    "prolonged_deceleration": ("延长减速", "Prolonged deceleration"),
    "pathological_classification": ("病理型图形", "Pathological CTG"),
    "figo_normal": ("正常", "normal"),
    "figo_suspicious": ("可疑", "suspicious"),
    "figo_pathological": ("病理型", "pathological"),
    "class_indeterminate": ("无法判读", "indeterminate"),
    "nichd_1": ("I类", "I"),
    "nichd_2": ("II类", "II"),
    "nichd_3": ("III类", "III"),
    "reduced_variability": ("变异减小", "Reduced variability"),
    "signal_loss": ("信号丢失", "Signal loss"),
    "monitor_disconnected": ("监护仪断开", "Monitor disconnected"),
    "maternal_fetal_coincidence": ("母胎心率重合", "Maternal-fetal coincidence"),
    "acceleration": ("加速", "Acceleration"),
    "deceleration": ("减速", "Deceleration"),
    "contraction": ("宫缩", "Contraction"),
    "early": ("早期", "early"),
    "late": ("晚期", "late"),
    "variable": ("变异", "variable"),
    "prolonged": ("延长", "prolonged"),
    "raised": ("报警", "raised"),
    "cleared": ("解除", "cleared"),
    "acknowledged": ("确认", "acknowledged"),
    "latched": ("锁存", "latched"),
    "released": ("确认解除", "released"),
    "silenced_ev": ("静音", "silenced"),
    "priority_3": ("高", "high"),
    "priority_2": ("中", "medium"),
    "priority_1": ("低", "low"),
}


class Texts:
    def __init__(self, lang: str = "zh") -> None:
        self.lang = lang
        self.set_language(lang)

    def set_language(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r}: want one of {LANGUAGES}")
        self.lang = lang

    def toggle(self) -> None:
        self.set_language("en" if self.lang == "zh" else "zh")

    def __call__(self, key: str, **kw: object) -> str:
        pair = STRINGS.get(key)
        if pair is None:
            return key  # an engine kind we have no words for yet is shown as it is
        text = pair[LANGUAGES.index(self.lang)]
        return text.format(**kw) if kw else text
