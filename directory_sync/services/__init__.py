"""Services of directory_sync: every state change of the app goes through one of these."""
