"""Bring the IdP's database up to date: schema, users with their claims, and the portal's client. Idempotent.

Run as `python -m idp.bootstrap` with cwd tests/oidc_idp and DJANGO_SETTINGS_MODULE=idp.settings, before the
server starts and again whenever the user list changes (the running server reads users from the database).

Environment:
    IDP_DIR                 state directory (SQLite database, RSA key)
    IDP_USERS               JSON file: a list of {"username", "password", "email", "email_verified",
                            "given_name", "family_name"}; users are created or updated, never deleted
    OIDC_CLIENT_ID          default "portal"
    OIDC_CLIENT_SECRET      default "portal-secret" (DOT stores it hashed)
    OIDC_REDIRECT_URIS      space separated; default "http://127.0.0.1/oidc/callback/" (DOT ignores the port of
                            http://127.0.0.1 redirect URIs, RFC 8252 7.3, so any live_server port matches)
"""

import json
import os
from pathlib import Path
from typing import Any

import django

REQUIRED_KEYS = ("username", "password", "email")
DEFAULT_REDIRECT_URIS = "http://127.0.0.1/oidc/callback/"


def load_users(path: Path) -> list[dict[str, Any]]:
    """The user list from IDP_USERS, checked so a typo fails bootstrap instead of a sign-in test later."""
    users = json.loads(path.read_text())
    if not isinstance(users, list):
        raise SystemExit(f"{path}: expected a JSON list of users")
    for user in users:
        missing = [key for key in REQUIRED_KEYS if not user.get(key)]
        if missing:
            raise SystemExit(f"{path}: user {user!r} lacks {', '.join(missing)}")
    return users


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")
    django.setup()
    # Model imports need the app registry, which django.setup() just filled.
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from oauth2_provider.models import get_application_model

    from idp.models import Claims

    users_file = os.environ.get("IDP_USERS")
    users = load_users(Path(users_file)) if users_file else []

    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    user_model = get_user_model()
    application_model = get_application_model()
    with transaction.atomic():
        for spec in users:
            user, _ = user_model.objects.get_or_create(username=spec["username"])
            # Set verbatim (no normalize_email): mixed-case addresses must reach the portal as written.
            user.email = spec["email"]
            user.first_name = spec.get("given_name", "")
            user.last_name = spec.get("family_name", "")
            user.is_active = spec.get("is_active", True)
            user.set_password(spec["password"])
            user.save()
            Claims.objects.update_or_create(user=user, defaults={"email_verified": bool(spec.get("email_verified"))})

        client_id = os.environ.get("OIDC_CLIENT_ID", "portal")
        # Updated in place rather than recreated: deleting the application would cascade to the grants and
        # tokens of sign-ins in flight when a test adds a user to a running IdP.
        client = application_model.objects.filter(client_id=client_id).first() or application_model(
            client_id=client_id
        )
        client.name = "portal"
        client.client_secret = os.environ.get("OIDC_CLIENT_SECRET", "portal-secret")  # hashed on save (DOT >= 2)
        client.client_type = application_model.CLIENT_CONFIDENTIAL
        client.authorization_grant_type = application_model.GRANT_AUTHORIZATION_CODE
        client.redirect_uris = os.environ.get("OIDC_REDIRECT_URIS", DEFAULT_REDIRECT_URIS)
        client.algorithm = application_model.RS256_ALGORITHM
        client.skip_authorization = True  # no consent screen: the portal is a first-party client here
        client.save()
    print(f"bootstrapped client {client_id} and {len(users)} user(s)")


if __name__ == "__main__":
    main()
