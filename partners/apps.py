"""App config for partners."""

from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partner accounts"

    def ready(self) -> None:
        from partners import checks, tasks  # noqa: F401  (the storage location check; the tasks services queue by name)
