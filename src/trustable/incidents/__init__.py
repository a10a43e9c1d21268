"""Breach response: incidents, who is affected, notices to customers, the regulator's report."""
