"""The two stores' schemas.

`data` holds what Trustable keeps about customers (all personal values encrypted);
`keys` holds what opens it. They never share a database file or schema.
"""

from __future__ import annotations

from sqlalchemy import MetaData

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

data_metadata = MetaData(naming_convention=NAMING)
keys_metadata = MetaData(naming_convention=NAMING)
