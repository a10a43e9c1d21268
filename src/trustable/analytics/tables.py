"""Each analyst's privacy budget: what they spent, per day, and on which queries; and
the exact answers they had today, which a new exact answer is held against.

Not per-customer tables: they hold analysts (an API key id or a console user id),
days, epsilons and query fingerprints, nothing about any customer, so they carry no
`customer_id` and erasing a customer leaves them as they are (a customer's influence
on past noisy answers is what differential privacy bounds).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

# The running total per analyst and day: the row a spend updates only if it still
# fits (`spent + epsilon <= budget` in the UPDATE itself), so two queries at once
# cannot both spend the last of it.
analytics_budgets = Table(
    "analytics_budgets",
    data_metadata,
    Column("analyst", String(40), nullable=False),  # key_… or usr_…
    Column("period", String(10), nullable=False),  # the UTC day, YYYY-MM-DD
    Column("spent", Float, nullable=False),
    PrimaryKeyConstraint("analyst", "period"),
)

# Every spend: which query (by fingerprint, the hash of its canonical form) and how much.
analytics_spends = Table(
    "analytics_spends",
    data_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("analyst", String(40), nullable=False),
    Column("period", String(10), nullable=False),
    Column("epsilon", Float, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("spent_at", UtcDateTime(), nullable=False),
    Index("ix_analytics_spends_analyst_period", "analyst", "period"),
)

# Every exact answer's query (declared names and days, never a value), so that the
# next exact answer of the same kind can be held against it (`analytics.audit`).
analytics_answers = Table(
    "analytics_answers",
    data_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("analyst", String(40), nullable=False),
    Column("period", String(10), nullable=False),
    Column("kind", String(160), nullable=False),  # measure:unit:value
    Column("query", Text, nullable=False),
    Column("answered_at", UtcDateTime(), nullable=False),
    Index("ix_analytics_answers_analyst_period", "analyst", "period", "kind"),
)
