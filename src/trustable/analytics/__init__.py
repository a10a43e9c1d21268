"""Aggregates, never individuals: counts, sums and distributions over the customers
who permit the policy's analytics purpose, in groups of at least k, optionally
differentially private under a budget per analyst and day."""
