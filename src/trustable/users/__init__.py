"""Console users: the privacy team's accounts, their passwords and their roles."""
