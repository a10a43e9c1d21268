"""Trustable: a customer data platform that keeps only what each customer allowed."""

from __future__ import annotations

__version__ = "0.1.0"
