"""Partners, account settings, domains and agreements move here from onboarding, keeping their tables."""

import core.fields
from core.migration_ops import content_types_move
import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('admin', '0003_logentry_add_action_flag_choices'),
        # The tables were created there (onboarding_partner, …): fresh databases make them first.
        ('onboarding', '0001_initial'),
    ]

    operations = [
        # Django's bookkeeping only: the tables are there already and keep their names.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='Partner',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=200)),
                    ('slug', models.SlugField(help_text='Short name used in commands and URLs.', max_length=64)),
                    ('kind', models.CharField(choices=[('reseller', 'Reseller'), ('msp', 'Managed service provider')], max_length=16)),
                    ('is_active', models.BooleanField(default=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('account_manager', models.ForeignKey(blank=True, limit_choices_to={'role': 'account_manager'}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='managed_partners', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'onboarding_partner',
                    'ordering': ['name'],
                },
            ),
            migrations.CreateModel(
                name='AccountDomain',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('domain', models.CharField(help_text='Normalised: lower-case, IDNA (punycode).', max_length=253)),
                    ('partner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='domains', to='partners.partner')),
                ],
                options={
                    'db_table': 'onboarding_accountdomain',
                    'ordering': ['domain'],
                },
            ),
            migrations.CreateModel(
                name='Agreement',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('version', models.CharField(max_length=32)),
                    ('signed_at', models.DateTimeField()),
                    ('signed_by_name', models.CharField(max_length=200)),
                    ('signed_by_email', models.EmailField(blank=True, max_length=254)),
                    ('valid_until', models.DateField(blank=True, help_text='Empty: valid until superseded.', null=True)),
                    ('document', models.FileField(blank=True, upload_to='agreements/%Y/')),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='agreements', to='partners.partner')),
                    ('recorded_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'onboarding_agreement',
                    'ordering': ['-signed_at'],
                    'get_latest_by': 'signed_at',
                },
            ),
            migrations.CreateModel(
                name='AccountSettings',
                fields=[
                    ('partner', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='account_settings', serialize=False, to='partners.partner')),
                    ('auth_method', models.CharField(choices=[('cloud_password', 'Cloud password (stored by the portal)'), ('domain_password', 'Domain password (checked against the directory)'), ('sso', 'Single sign-on (OpenID Connect)')], default='cloud_password', max_length=24)),
                    ('self_service_reset', models.BooleanField(default=True, help_text='Cloud-password users may reset their own password by email link.')),
                    ('reset_contact', models.CharField(blank=True, help_text='Whom people should contact for a password reset when self-service reset is off.', max_length=254)),
                    ('two_factor_policy', models.CharField(choices=[('off', 'Off'), ('optional', 'Optional'), ('required', 'Required')], default='optional', max_length=16)),
                    ('two_factor_grace_days', models.PositiveSmallIntegerField(default=7, help_text='Days a person may still sign in without a second factor once it is required.')),
                    ('sso_issuer', core.fields.HttpsURLField(blank=True, help_text='OpenID Connect issuer (discovery at /.well-known/).')),
                    ('sso_client_id', models.CharField(blank=True, max_length=255)),
                    ('sso_client_secret', core.fields.EncryptedTextField(blank=True, help_text='Stored encrypted; never shown back.')),
                    ('sso_scopes', models.CharField(default='openid email profile', max_length=255)),
                    ('sso_enforced', models.BooleanField(default=False, help_text='People of this account may not use passwords.')),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                ],
                options={
                    'verbose_name': 'account settings',
                    'verbose_name_plural': 'account settings',
                    'db_table': 'onboarding_accountsettings',
                    'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('auth_method', 'sso'), _negated=True), models.Q(models.Q(('sso_issuer', ''), _negated=True), models.Q(('sso_client_id', ''), _negated=True)), _connector='OR'), name='account_sso_needs_issuer_and_client'), models.CheckConstraint(condition=models.Q(('sso_enforced', False), ('auth_method', 'sso'), _connector='OR'), name='account_sso_enforced_needs_sso')],
                },
            ),
            migrations.AddConstraint(
                model_name='partner',
                constraint=models.UniqueConstraint(fields=('slug',), name='partner_slug_unique'),
            ),
            migrations.AddConstraint(
                model_name='partner',
                constraint=models.CheckConstraint(condition=models.Q(('slug', django.db.models.functions.text.Lower('slug'))), name='partner_slug_lowercase'),
            ),
            migrations.AddConstraint(
                model_name='accountdomain',
                constraint=models.UniqueConstraint(fields=('domain',), name='account_domain_unique'),
            ),
            migrations.AddConstraint(
                model_name='accountdomain',
                constraint=models.CheckConstraint(condition=models.Q(('domain', django.db.models.functions.text.Lower('domain'))), name='account_domain_lowercase'),
            ),
            migrations.AddConstraint(
                model_name='agreement',
                constraint=models.UniqueConstraint(fields=('partner', 'version'), name='agreement_version_unique_per_partner'),
            ),
        ]),
        content_types_move(old_app='onboarding', new_app='partners',
                           models=('partner', 'accountsettings', 'accountdomain', 'agreement')),
    ]
