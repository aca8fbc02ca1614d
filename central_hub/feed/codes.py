"""Code systems, codes and identifier systems of the county feed, each named once.

LOINC codes from reference/maternal-child-standards.md §3a; WS 363 data-element codes (§2a)
travel as a second coding under the catalogue's OID, so the county can read either.
Systems of our own (a hospital's patient and record numbers, the five-colour grade, the
screening items) are URNs under ``urn:mch-edge:``, named per site where they are local.
"""

from __future__ import annotations

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
WS363 = "urn:oid:2.16.156.10011.2.2.1"  # 卫生信息数据元目录
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

RISK_COLOUR_SYSTEM = "urn:mch-edge:fhir:CodeSystem/pregnancy-risk-colour"
RISK_SCREEN_SYSTEM = "urn:mch-edge:fhir:CodeSystem/pregnancy-risk-screen"  # positive, when no colour is graded yet
SCREEN_ITEM_SYSTEM = "urn:mch-edge:fhir:CodeSystem/pregnancy-risk-screen-item"  # 筛查表 附件1 item ids
CTG_CLASS_SYSTEM = "urn:mch-edge:fhir:CodeSystem/ctg-classification"

# The blind index of the resident ID number (see central_hub/feed/blindindex.py): HMAC-SHA256 under
# the county matching key of "<CV02.01.101 code>|<number>", hex. Same number -> same value at every
# hospital holding the county's key; the number itself never leaves the hub.
ID_BLIND_INDEX_SYSTEM = "urn:mch-edge:county:id-number-blind-index:hmac-sha256:v1"
ID_CARD_TYPE = "01"  # CV02.01.101 居民身份证


def site_system(site_id: str, what: str) -> str:
    """A hospital's own numbering (patient id, pregnancy record id, visit id ...)."""
    return f"urn:mch-edge:site:{site_id}:{what}"


# (LOINC code, display, WS 363 data element or None, UCUM unit or None)
EDD = ("11778-8", "Delivery date Estimated", "DE05.10.098.00", None)
GA = ("49051-6", "Gestational age in weeks", None, "wk")
LMP = ("8665-2", "Last menstrual period start date", "DE02.10.051.00", None)
GRAVIDITY = ("11996-6", "[#] Pregnancies", "DE04.01.108.00", None)
PARITY = ("11977-6", "[#] Parity", "DE02.10.002.00", None)
HEIGHT = ("8302-2", "Body height", "DE04.10.167.00", "cm")
WEIGHT = ("29463-7", "Body weight", "DE04.10.188.00", "kg")
BMI = ("39156-5", "Body mass index (BMI) [Ratio]", None, "kg/m2")
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional", None, None)
SYSTOLIC = ("8480-6", "Systolic blood pressure", "DE04.10.174.00", "mm[Hg]")
DIASTOLIC = ("8462-4", "Diastolic blood pressure", "DE04.10.176.00", "mm[Hg]")
FHR = ("55283-6", "Fetal Heart rate", "DE04.10.183.00", "/min")
FUNDAL_HEIGHT = ("11881-0", "Uterus Fundal height by Tape measure", "DE04.10.067.00", "cm")
FHR_VARIABILITY = ("variability", "FHR baseline variability", None, "/min")  # local, CTG_CLASS_SYSTEM

ANTENATAL_CARE = ("424525001", "Antenatal care")  # SNOMED, EpisodeOfCare.type
CTG_MONITORING = ("182777000", "Monitoring of patient")  # SNOMED, Encounter.type of a CTG session

RISK_COLOURS = {"green": "绿色 低风险", "yellow": "黄色 一般风险", "orange": "橙色 较高风险",
                "red": "红色 高风险", "purple": "紫色 传染病"}
