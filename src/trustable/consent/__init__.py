"""Customers' decisions per purpose, their history, and the decision `may`."""
