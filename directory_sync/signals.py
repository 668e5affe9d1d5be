"""Signals directory_sync sends; other apps listen (dependencies stay one-way)."""

from django.dispatch import Signal

# Sent after the transaction that finished a successful (not dry) run commits; kwargs: run.
# Onboarding listens to re-check requests held for recipient validation (R9); accounts to offboard the people
# the run disabled or removed.
sync_run_succeeded = Signal()

# Sent after a transaction that changed an account's directory people outside a run commits (a partner admin
# adding, changing or removing one person of a CSV-sourced account, or a change file); kwargs: partner_id.
# The same listeners as sync_run_succeeded act on it.
people_changed = Signal()
