"""The portal project itself as an app: the dashboard, health, demo data and the admin site."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Partner Portal"

