"""Outbound mail keeps its HTML part, so a resend sends the same mail; mail recorded before stays text alone."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0004_mail_preference"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundmail",
            name="html",
            field=models.TextField(blank=True, default="", help_text="The HTML alternative of the body."),
        ),
    ]
