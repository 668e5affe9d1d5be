"""The partner page's search boxes: a partner's requested people and invites by the beginning of a name (any case)
or of an address, on PostgreSQL.

Django asks for UPPER(name::text) LIKE 'PAT%' and email::text LIKE 'pat%'; the indexes of migration 0006 serve
those over every partner's rows, so a short prefix ("j") there reads every partner's matches and keeps the one
partner's. Led by the partner, these read the one partner's matches only. Like 0006's, an expression index and a
pattern operator class: PostgreSQL only (SQLite has neither, and the embedded default's tables are small).
"""

from django.db import migrations

PREFIX_INDEXES = {
    "request_item_partner_email_prefix": ("onboarding_requestitem", '"email" varchar_pattern_ops'),
    "request_item_partner_name_prefix": ("onboarding_requestitem", '(UPPER("name"::text)) text_pattern_ops'),
    "invite_partner_email_prefix": ("onboarding_invite", '"email" varchar_pattern_ops'),
    "invite_partner_name_prefix": ("onboarding_invite", '(UPPER("name"::text)) text_pattern_ops'),
}


def prefix_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index, (table, column) in PREFIX_INDEXES.items():
        schema_editor.execute(f'CREATE INDEX {index} ON {table} ("partner_id", {column})')


def prefix_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in PREFIX_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


class Migration(migrations.Migration):

    dependencies = [
        ('onboarding', '0009_invite_reminded_at'),
    ]

    operations = [
        migrations.RunPython(prefix_indexes_create, prefix_indexes_drop),
    ]
