"""The customer's privacy portal: sign-in links and what the portal shows."""
