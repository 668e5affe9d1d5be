#!/usr/bin/env python
"""The test OpenID Connect provider's manage.py: run it with cwd tests/oidc_idp (it is its own Django project)."""

import os
import sys

from django.core.management import execute_from_command_line

if __name__ == "__main__":
    # setdefault would keep the portal's module when started from pytest-django: tests/oidc.py sets it
    # explicitly, and a developer running `python manage.py …` here by hand gets the IdP's.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")
    execute_from_command_line(sys.argv)
