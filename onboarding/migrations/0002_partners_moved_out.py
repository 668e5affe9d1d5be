"""Partners, account settings, domains and agreements now live in the partners app (same tables)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_user_partner_in_partners_app'),
        ('directory_sync', '0002_partner_in_partners_app'),
        ('onboarding', '0001_initial'),
        ('partners', '0001_initial'),
        ('portal', '0003_auditevent_moved_to_core'),
    ]

    operations = [
        # Django's bookkeeping only: the tables are there already and keep their names.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.RemoveField(
                model_name='accountsettings',
                name='partner',
            ),
            migrations.RemoveField(
                model_name='agreement',
                name='partner',
            ),
            migrations.RemoveField(
                model_name='agreement',
                name='recorded_by',
            ),
            migrations.RemoveField(
                model_name='partner',
                name='account_manager',
            ),
            migrations.AlterField(
                model_name='requestitem',
                name='partner',
                field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='request_items', to='partners.partner'),
            ),
            migrations.AlterField(
                model_name='portaluserrequest',
                name='partner',
                field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='requests', to='partners.partner'),
            ),
            migrations.AlterField(
                model_name='invite',
                name='partner',
                field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='invites', to='partners.partner'),
            ),
            migrations.DeleteModel(
                name='AccountDomain',
            ),
            migrations.DeleteModel(
                name='AccountSettings',
            ),
            migrations.DeleteModel(
                name='Agreement',
            ),
            migrations.DeleteModel(
                name='Partner',
            ),
        ]),
    ]
