"""The audit trail moves here from portal, keeping its table (portal_auditevent) and its append-only trigger.

Its partner is now a plain id (the bottom layer knows no partner model). The foreign key it was
had no database constraint, only an index of its own, which the (partner_id, created_at) index
already serves: that index goes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_ops import content_types_move

TABLE = "portal_auditevent"


def _partner_only_indexes(schema_editor) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, TABLE)
    return [name for name, info in constraints.items()
            if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == ["partner_id"]]


def drop_partner_index(apps, schema_editor):
    for name in _partner_only_indexes(schema_editor):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def restore_partner_index(apps, schema_editor):
    if not _partner_only_indexes(schema_editor):
        schema_editor.execute(f"CREATE INDEX portal_auditevent_partner_id ON {TABLE} (partner_id)")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('admin', '0003_logentry_add_action_flag_choices'),
        # The table and its trigger were created there: fresh databases make them first.
        ('portal', '0002_audit_event_append_only'),
    ]

    operations = [
        # Django's bookkeeping only: the table is there already and keeps its name.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='AuditEvent',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                    ('actor_label', models.CharField(blank=True, help_text="The actor's email at the time.", max_length=254)),
                    ('action', models.CharField(db_index=True, help_text='What happened, e.g. invite.sent.', max_length=64)),
                    ('partner_id', models.BigIntegerField(blank=True, help_text='The partner the event concerns.', null=True)),
                    ('target_type', models.CharField(blank=True, help_text='app_label.model of the object.', max_length=100)),
                    ('target_id', models.CharField(blank=True, max_length=64)),
                    ('target_label', models.CharField(blank=True, max_length=300)),
                    ('data', models.JSONField(blank=True, default=dict)),
                    ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                    ('user_agent', models.CharField(blank=True, max_length=300)),
                    ('actor', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'portal_auditevent',
                    'ordering': ['-created_at', '-id'],
                    'indexes': [models.Index(fields=['partner_id', 'created_at'], name='audit_partner_time'), models.Index(fields=['target_type', 'target_id'], name='audit_target')],
                },
            ),
        ]),
        migrations.RunPython(drop_partner_index, restore_partner_index),
        content_types_move(old_app='portal', new_app='core', models=('auditevent',)),
    ]
