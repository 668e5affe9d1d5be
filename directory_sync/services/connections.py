"""Configuring an account's directory connection (admin and `configure_directory` call this)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from core.audit import audit_record
from directory_sync.mapping import resolve_mapping
from directory_sync.models import DirectoryConnection, Preset, SourceKind

SECRET_FIELDS = {"bind_password"}


def directory_connection_configure(*, partner, actor=None, **fields) -> DirectoryConnection:
    """Create or update the partner's LDAP connection; validate it whole before saving.

    `fields` are DirectoryConnection fields (uri, bind_dn, bind_password, base_dn, preset,
    user_filter, page_size, start_tls, ca_certificate, attribute_overrides, …). The audit
    event names the fields that changed, never a secret's value.
    """
    if fields.get("preset") not in (None, *Preset.values):
        raise ValidationError({"preset": gettext("Unknown preset {preset!r}: use {presets}.").format(
            preset=fields["preset"], presets=" or ".join(Preset.values))})
    overrides = fields.get("attribute_overrides")
    if overrides is not None:
        try:
            resolve_mapping(preset=fields.get("preset") or Preset.ACTIVE_DIRECTORY, overrides=overrides)
        except ValueError as exc:
            raise ValidationError({"attribute_overrides": str(exc)}) from exc
    uri = fields.get("uri")
    if uri is not None and not uri.lower().startswith(("ldap://", "ldaps://")):
        raise ValidationError({"uri": gettext("The URI must start with ldap:// (StartTLS) or ldaps://.")})
    with transaction.atomic():
        connection = DirectoryConnection.objects.select_for_update().filter(partner=partner).first()
        created = connection is None
        connection = connection or DirectoryConnection(partner=partner)
        changed = sorted(name for name, value in fields.items() if getattr(connection, name, None) != value)
        for name, value in fields.items():
            setattr(connection, name, value)
        connection.kind = SourceKind.LDAP
        connection.full_clean()
        connection.save()
        audit_record(
            actor=actor, action="directory.connection.created" if created else "directory.connection.changed",
            target=connection, partner=partner, data={"fields": changed},
        )
    return connection
