"""Create or update an account's LDAP / Active Directory connection."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from directory_sync.management.base import partner_by_slug
from directory_sync.mapping import ROLES
from directory_sync.models import Preset
from directory_sync.services.connections import directory_connection_configure


class Command(BaseCommand):
    help = "Create or update the directory connection of an account (running it again updates it)."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="The partner's slug.")
        parser.add_argument("--preset", required=True, choices=Preset.values)
        parser.add_argument("--uri", required=True, help="ldap://host (StartTLS) or ldaps://host")
        parser.add_argument("--bind-dn", required=True)
        parser.add_argument("--password-file", required=True, help="A file holding the bind password.")
        parser.add_argument("--base-dn", required=True)
        parser.add_argument("--user-filter", default=None, help="Default: the preset's.")
        parser.add_argument("--page-size", type=int, default=None)
        parser.add_argument("--ca-file", default=None, help="PEM file of the CA that signed the server's certificate.")
        parser.add_argument(
            "--no-start-tls", action="store_true",
            help="Plain ldap:// without StartTLS: the password crosses the network unencrypted (loopback tests only).",
        )
        parser.add_argument(
            "--attribute", action="append", default=[], metavar="ROLE=NAME",
            help=f"Override one attribute of the preset's mapping. Roles: {', '.join(ROLES)}.",
        )

    def handle(self, *args, **options):
        partner = partner_by_slug(options["account"])
        try:
            with open(options["password_file"], encoding="utf-8") as fh:
                password = fh.read().strip()
        except OSError as exc:
            raise CommandError(f"Cannot read the password file: {exc}") from exc
        overrides = {}
        for item in options["attribute"]:
            role, sep, name = item.partition("=")
            if not sep:
                raise CommandError(f"--attribute takes ROLE=NAME, not {item!r}.")
            overrides[role.strip()] = name.strip()
        fields = {
            "preset": options["preset"], "uri": options["uri"], "bind_dn": options["bind_dn"],
            "bind_password": password, "base_dn": options["base_dn"], "attribute_overrides": overrides,
            "start_tls": not options["no_start_tls"],
        }
        if options["user_filter"] is not None:
            fields["user_filter"] = options["user_filter"]
        if options["page_size"] is not None:
            fields["page_size"] = options["page_size"]
        if options["ca_file"]:
            try:
                with open(options["ca_file"], encoding="utf-8") as fh:
                    fields["ca_certificate"] = fh.read()
            except OSError as exc:
                raise CommandError(f"Cannot read the CA file: {exc}") from exc
        try:
            connection = directory_connection_configure(partner=partner, **fields)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(self.style.SUCCESS(f"Directory connection of {partner.slug} saved: {connection.uri}"))
