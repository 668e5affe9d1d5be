"""App config for core."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Audit trail and mail"

    def ready(self) -> None:
        from core import tasks  # noqa: F401 - registers the tasks that services queue by name
