"""Checks of a deployment against what Trustable promises customers."""
