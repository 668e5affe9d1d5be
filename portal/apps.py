"""The portal project itself as an app: dashboard, health, demo data and shared helpers."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Partner Portal"

