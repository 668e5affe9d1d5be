"""User.partner now names partners.Partner (the same table, onboarding_partner)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_initial'),
        ('partners', '0001_initial'),
    ]

    operations = [
        # Django's bookkeeping only: the tables are there already and keep their names.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='user',
                name='partner',
                field=models.ForeignKey(blank=True, help_text='The partner a partner staff member or partner admin belongs to.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='members', to='partners.partner'),
            ),
        ]),
    ]
