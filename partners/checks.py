"""System checks: agreement documents are stored where no static or media route can publish them."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, register

PRIVATE_INSIDE_PUBLIC = "PRIVATE_MEDIA_ROOT ({private}) is inside {name} ({public}), a folder web servers publish."
PUBLIC_INSIDE_PRIVATE = "{name} ({public}) is inside PRIVATE_MEDIA_ROOT ({private}): its files would be published."


def _published_folders() -> list[tuple[str, Path]]:
    folders = [("STATIC_ROOT", settings.STATIC_ROOT), ("MEDIA_ROOT", settings.MEDIA_ROOT)]
    folders += [("STATICFILES_DIRS", entry[-1] if isinstance(entry, tuple | list) else entry)
                for entry in settings.STATICFILES_DIRS]
    return [(name, Path(folder).resolve()) for name, folder in folders if folder]


@register()
def private_media_root_check(app_configs=None, **kwargs) -> list[Error]:
    """Refuse a PRIVATE_MEDIA_ROOT that overlaps a folder the portal or its web server serves."""
    private = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    errors = []
    for name, public in _published_folders():
        if private == public or private.is_relative_to(public):
            message = PRIVATE_INSIDE_PUBLIC.format(private=private, name=name, public=public)
        elif public.is_relative_to(private):
            message = PUBLIC_INSIDE_PRIVATE.format(private=private, name=name, public=public)
        else:
            continue
        errors.append(Error(message, hint="Set PRIVATE_MEDIA_ROOT to a folder of its own.", id="partners.E001"))
    return errors
