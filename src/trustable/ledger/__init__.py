"""The transparency ledger: a Merkle log (RFC 9162) of every use of customer data."""
