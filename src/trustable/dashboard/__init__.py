"""The trust dashboard: figures over the whole store, counted by the database."""
