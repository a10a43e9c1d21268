"""Witnesses: independent cosigners of transparency logs (C2SP tlog-witness)."""
