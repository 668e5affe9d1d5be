"""Directory connections, the people and addresses of each partner's account, and sync runs."""
