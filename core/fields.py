"""Model fields shared by the apps."""

from django.db import models

from core import crypto


class EncryptedTextField(models.TextField):
    """Text stored encrypted at rest (Fernet); the Python value is the plaintext.

    The empty string and None are stored as they are, so "no secret set" stays visible
    to queries. Never filter on the value: every encryption is randomised.
    """

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(value)


class HttpsURLField(models.URLField):
    """A URL field whose forms assume https:// when the scheme is left out (Django 6's default)."""

    def formfield(self, **kwargs):
        return super().formfield(**{"assume_scheme": "https", **kwargs})
