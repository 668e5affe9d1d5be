"""Say what an address is on an account: primary, alias of P, forwarding for P, disabled, conflict or not found."""

from django.core.management.base import BaseCommand

from directory_sync.management.base import partner_by_slug
from directory_sync.selectors import recipient_lookup


class Command(BaseCommand):
    help = "Look an address up on an account's directory, as invites and sign-in do."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="The partner's slug.")
        parser.add_argument("address")

    def handle(self, *args, **options):
        partner = partner_by_slug(options["account"])
        self.stdout.write(recipient_lookup(partner_id=partner.pk, address=options["address"]).describe())
