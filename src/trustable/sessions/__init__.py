"""Browser sessions: a customer in the portal, a console user in the console."""
