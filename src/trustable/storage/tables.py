"""Every table of both stores, for migrations and tests that need the whole schema."""

from __future__ import annotations

from sqlalchemy import MetaData


def all_tables(store: str) -> MetaData:
    """Import each domain's tables so the store's metadata is complete."""
    import trustable.access.tables
    import trustable.analytics.tables
    import trustable.consent.tables
    import trustable.destinations.tables
    import trustable.events.tables
    import trustable.identity.tables
    import trustable.incidents.tables
    import trustable.ledger.tables
    import trustable.portal.tables
    import trustable.rights.tables
    import trustable.segments.tables
    import trustable.sessions.tables
    import trustable.storage.leases
    import trustable.users.tables
    import trustable.vault.tables  # noqa: F401
    from trustable.storage.metadata import data_metadata, keys_metadata

    return keys_metadata if store == "keys" else data_metadata
