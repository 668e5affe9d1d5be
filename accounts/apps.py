"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import hashers, tasks  # noqa: F401 - the Argon2 parameters' check; the tasks services queue by name
