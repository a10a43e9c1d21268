"""The web shell: the customer's portal and the privacy team's console, as pages."""
