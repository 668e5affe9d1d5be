"""The REST API's resources (/api/v1/): partners and agreements, people with access, requests and their items,
review decisions, invites, the directory (recipient lookup, sync runs) and the audit trail. Each resource calls the
same services and selectors as the pages, with the same scope: a partner's people see their partner; account
managers their partners; admins all; anything else answers 404."""
