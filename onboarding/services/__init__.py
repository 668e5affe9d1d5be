"""Services of onboarding: every state change of requests, items and invites goes through these."""
