"""A county maternal-child platform of our own: a FHIR R4 server on loopback for tests, benchmarks
and `make run` (`python -m county_simulator --port 0 --data DIR`). It validates what it receives with
`fhirclient`'s R4 (4.0.1) models, an implementation independent of the hub's, keeps it in SQLite,
honours conditional create and update in transaction Bundles, and can be told to reject, answer
429 or 503, or answer too late (POST /_admin/faults)."""
