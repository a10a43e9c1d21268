"""Customers and the identifiers that recognise them."""
