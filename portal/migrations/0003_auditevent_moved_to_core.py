"""The audit trail moves to core, keeping its table (portal_auditevent) and its append-only trigger."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0002_audit_event_append_only'),
        ('core', '0001_initial'),
    ]

    operations = [
        # Django's bookkeeping only: the tables are there already and keep their names.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(
                name='AuditEvent',
            ),
        ]),
    ]
