"""Partners, agreements, portal-user requests, approval, recipient validation and invites."""
