"""The web benchmark's settings: production's, with the benchmark's URLconf (a trivial view added).

The environment (secrets, the benchmark database, Redis db 5) is set by bench/web_bench.py before Django starts.
Static files use the plain storage: production's manifest storage needs a `collectstatic` first, which the
benchmark does not measure (whitenoise serves static files without Django's views either way).
"""

from portal.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
