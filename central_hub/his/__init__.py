"""The hospital clinic system's (HIS) inbound interface: its records into the hub (`mch-hub his import`)."""
