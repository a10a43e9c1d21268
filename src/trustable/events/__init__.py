"""Segment-spec collection and minimization at the door."""
