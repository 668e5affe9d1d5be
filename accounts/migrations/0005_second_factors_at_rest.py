"""Existing second factors move to accounts' devices: TOTP keys encrypted, backup codes hashed.

django-otp's otp_totp and otp_static tables kept them in clear; they are emptied here. Backwards,
the authenticator apps return with their keys; backup codes cannot (only their hashes are kept), so
their sets return empty and people make new ones on their security page.
"""

from django.core.management.color import no_style
from django.db import migrations

from accounts.models.devices import backup_code_hash

DEVICE_FIELDS = ("user_id", "name", "confirmed", "throttling_failure_timestamp", "throttling_failure_count",
                 "last_used_at")
TOTP_FIELDS = (*DEVICE_FIELDS, "key", "step", "t0", "digits", "tolerance", "drift", "last_t")


def _copy(source, model, fields, db):
    """A row of `model` with the id and values of `source`; created_at kept (auto_now_add would set it to now).

    The same id both ways, so that migrating back gives the very rows there were.
    """
    row = model.objects.using(db).create(pk=source.pk, **{name: getattr(source, name) for name in fields})
    model.objects.using(db).filter(pk=row.pk).update(created_at=source.created_at)
    return row


def _reset_sequences(schema_editor, *models):
    """Rows inserted with their ids leave PostgreSQL's id sequences behind: move them past the highest id."""
    connection = schema_editor.connection
    for sql in connection.ops.sequence_reset_sql(no_style(), list(models)):
        schema_editor.execute(sql)


def encrypt_and_hash(apps, schema_editor):
    db = schema_editor.connection.alias
    legacy_totp = apps.get_model("otp_totp", "TOTPDevice")
    legacy_static = apps.get_model("otp_static", "StaticDevice")
    totp = apps.get_model("accounts", "TOTPDevice")
    code_set = apps.get_model("accounts", "BackupCodeDevice")
    code = apps.get_model("accounts", "BackupCode")
    for device in legacy_totp.objects.using(db).order_by("pk"):
        _copy(device, totp, TOTP_FIELDS, db)  # the key field encrypts on save
    legacy_totp.objects.using(db).all().delete()
    for device in legacy_static.objects.using(db).order_by("pk"):
        new = _copy(device, code_set, DEVICE_FIELDS, db)
        hashes = {backup_code_hash(user_id=device.user_id, code=token.token) for token in device.token_set.all()}
        code.objects.using(db).bulk_create([code(device=new, code_hash=value) for value in sorted(hashes)])
    legacy_static.objects.using(db).all().delete()  # their tokens go with them (cascade)
    _reset_sequences(schema_editor, totp, code_set)


def decrypt_back(apps, schema_editor):
    db = schema_editor.connection.alias
    legacy_totp = apps.get_model("otp_totp", "TOTPDevice")
    legacy_static = apps.get_model("otp_static", "StaticDevice")
    totp = apps.get_model("accounts", "TOTPDevice")
    code_set = apps.get_model("accounts", "BackupCodeDevice")
    for device in totp.objects.using(db).order_by("pk"):
        _copy(device, legacy_totp, TOTP_FIELDS, db)  # the key field decrypted on load
    totp.objects.using(db).all().delete()
    for device in code_set.objects.using(db).order_by("pk"):
        _copy(device, legacy_static, DEVICE_FIELDS, db)  # without codes: only their hashes were kept
    code_set.objects.using(db).all().delete()
    _reset_sequences(schema_editor, legacy_totp, legacy_static)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_second_factor_devices"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [
        migrations.RunPython(encrypt_and_hash, decrypt_back),
    ]
