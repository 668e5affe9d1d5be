"""The partner foreign keys now name partners.Partner (the same table, onboarding_partner)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('directory_sync', '0001_initial'),
        ('partners', '0001_initial'),
    ]

    operations = [
        # Django's bookkeeping only: the tables are there already and keep their names.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='directoryaddress',
                name='partner',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='partners.partner'),
            ),
            migrations.AlterField(
                model_name='directoryconnection',
                name='partner',
                field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='directory_connection', to='partners.partner'),
            ),
            migrations.AlterField(
                model_name='directoryuser',
                name='partner',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='directory_users', to='partners.partner'),
            ),
        ]),
    ]
