"""Where a sync's entries come from: an LDAP server, or a CSV file."""
