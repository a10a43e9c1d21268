"""Downstream systems: the transactional outbox, consent-checked delivery, signing."""
