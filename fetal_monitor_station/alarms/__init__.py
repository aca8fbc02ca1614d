"""CTG alarms: priorities (IEC 60601-1-8), thresholds per ward/bed, escalation, acknowledgement."""

from .manager import AlarmManager
from .model import ALARM_KINDS, Alarm, AlarmChange, AlarmThresholds, Priority, ThresholdTable

__all__ = ["ALARM_KINDS", "Alarm", "AlarmChange", "AlarmManager", "AlarmThresholds", "Priority", "ThresholdTable"]
