"""Re-identification risk: k-anonymity, uniqueness, generalisation and de-identified exports."""
