"""Data from outside the gateway: the inbound webhooks' bodies and what each one changes."""
