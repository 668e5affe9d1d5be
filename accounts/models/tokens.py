"""API tokens: how a person's own tooling calls the REST API (/api/v1/) as them.

A token is shown once, when it is made: `pp_<prefix>_<secret>`. The prefix (public, unique) finds it; only a
SHA-256 of the whole token is stored, which is enough for a random 256-bit secret (no password to stretch). A
token acts as its person, with their permissions of the moment (a partner admin's reaches their partner only),
narrowed by its scope (read, or read and write), until it expires or is revoked, or the person loses access.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_START = "pp_"  # noqa: S105 - the marker every token starts with, not a secret
PREFIX_LENGTH = 8


class ApiTokenScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A new token and its prefix: `pp_` + 8 characters to find it by + a 256-bit secret."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    return f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(32)}", prefix


def token_prefix(token: str) -> str:
    """The prefix of something that looks like a token ("" when it does not)."""
    if not token.startswith(TOKEN_START):
        return ""
    prefix, _sep, secret = token[len(TOKEN_START):].partition("_")
    return prefix if len(prefix) == PREFIX_LENGTH and secret else ""


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, help_text=_("What the token is for, e.g. the script using it."))
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(_("scope"), max_length=8, choices=ApiTokenScope.choices, default=ApiTokenScope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="api_token_user_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.shown})"

    @property
    def shown(self) -> str:
        """How lists name the token without showing it: its start and prefix."""
        return f"{TOKEN_START}{self.prefix}…"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def can_write(self) -> bool:
        return self.scope == ApiTokenScope.WRITE

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(self.secret_hash, token_hash(token))

    def audit_label(self) -> dict:
        """How the audit trail names the token an action came through (core.audit reads it from request.auth)."""
        return {"id": self.pk, "name": self.name, "prefix": self.prefix}
