"""Monitor simulators speaking the Corometrics 115 protocol on pseudo-terminals."""

from fetal_monitor_station.simulator.encoder import TickEncoder
from fetal_monitor_station.simulator.pty_port import PtyPort
from fetal_monitor_station.simulator.runner import SimulatedMonitor, Simulator

__all__ = ["PtyPort", "SimulatedMonitor", "Simulator", "TickEncoder"]
