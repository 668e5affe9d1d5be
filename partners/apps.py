"""App config for partners."""

from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partner accounts"

    def ready(self) -> None:
        from partners import checks  # noqa: F401  (registers the storage location check)
