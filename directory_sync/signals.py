"""Signals directory_sync sends; other apps listen (dependencies stay one-way)."""

from django.dispatch import Signal

# Sent after the transaction that finished a successful (not dry) run commits; kwargs: run.
# Onboarding listens to re-check requests held for recipient validation (R9).
sync_run_succeeded = Signal()
