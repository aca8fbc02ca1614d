"""fetal_monitor_station."""
