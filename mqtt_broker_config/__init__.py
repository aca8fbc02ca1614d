"""mqtt_broker_config."""
