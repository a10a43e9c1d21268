"""Engines, the unit of work and the schema migrations of both stores."""
