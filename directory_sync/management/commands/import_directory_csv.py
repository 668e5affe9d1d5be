"""Replace an account's people with a CSV file (for accounts without a directory server)."""

from django.core.management.base import BaseCommand, CommandError

from directory_sync.errors import SyncError
from directory_sync.management.base import partner_by_slug, summary
from directory_sync.models import DirectoryConnection, SourceKind, SyncStatus
from directory_sync.services.runs import directory_csv_import


class Command(BaseCommand):
    help = (
        "Import an account's people from CSV (columns: name, primary, aliases, forwarding, enabled[, id]). "
        "The whole file is checked first; a bad row rejects it and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="The partner's slug.")
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--force", action="store_true", help="Override the removal brake.")

    def handle(self, *args, **options):
        partner = partner_by_slug(options["account"])
        try:
            with open(options["file"], "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
        connection, _ = DirectoryConnection.objects.get_or_create(partner=partner, defaults={"kind": SourceKind.CSV})
        try:
            run = directory_csv_import(
                connection=connection, data=data, force=options["force"], dry_run=options["dry_run"]
            )
        except SyncError as exc:
            raise CommandError(str(exc)) from exc
        if run.status != SyncStatus.SUCCEEDED:
            raise CommandError(summary(run))
        self.stdout.write(summary(run))
