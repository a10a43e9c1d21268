"""Segments: groups of customers by rules over consented data, each bound to purposes."""
