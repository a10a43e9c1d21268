"""The keys: one data key per customer, wrapped by a master key, stored apart."""
