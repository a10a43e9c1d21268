"""Personalization: recommendations from consented data, explained and forgettable."""
