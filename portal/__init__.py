"""The Partner Portal Django project: settings, root URLs, the Celery app and the health endpoint."""

from portal.celery import app as celery_app

__all__ = ("celery_app",)
