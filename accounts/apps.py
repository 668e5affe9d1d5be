"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import hashers, tasks  # noqa: F401 - the Argon2 parameters' check; the tasks services queue by name
        from accounts.receivers import offboard_after_directory_change
        from directory_sync.signals import people_changed, sync_run_succeeded

        # directory_sync announces changes to an account's people; accounts ends the access of its leavers.
        sync_run_succeeded.connect(offboard_after_directory_change, dispatch_uid="accounts.offboard_after_sync")
        people_changed.connect(offboard_after_directory_change, dispatch_uid="accounts.offboard_after_change")
