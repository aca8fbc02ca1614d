"""The county platform feed: records -> FHIR R4 transaction Bundles -> the county, through an outbox.

mapping (pure) -> validate (fhir.resources R4B) -> outbox (trigger, rows) -> sender (retries,
dead letters) -> county (HTTP). See docs/feed.md.
"""
