"""Run a directory sync now, with a progress bar on a terminal and a one-line summary."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from directory_sync.errors import DirectoryError, SyncError
from directory_sync.management.base import connection_of, partner_by_slug, summary
from directory_sync.models import DirectoryUser, DirectoryUserStatus, SyncStatus
from directory_sync.services.runs import directory_sync_run


class ProgressBar:
    """A one-line progress display on stderr, redrawn at most ten times a second."""

    def __init__(self, *, expected: int, stream=sys.stderr):
        self.expected, self.stream, self.started, self.drawn = expected, stream, time.monotonic(), 0.0

    def __call__(self, run) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.1:
            return
        self.drawn = now
        rate = run.seen / max(now - self.started, 1e-6)
        if self.expected:
            share = min(run.seen / self.expected, 1.0)
            bar = "#" * int(share * 30)
            head = f"[{bar:<30}] {share:4.0%}"
        else:
            head = f"page {run.pages_done}"
        self.stream.write(f"\r{head}  {run.seen} entries, {rate:,.0f}/s ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


class Command(BaseCommand):
    help = "Sync an account's directory now (incremental unless --full); exits non-zero when the run failed."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="The partner's slug.")
        parser.add_argument("--full", action="store_true", help="A full run (catches removals).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--force", action="store_true", help="Override the removal brake.")

    def handle(self, *args, **options):
        connection = connection_of(partner_by_slug(options["account"]))
        bar = None
        if sys.stderr.isatty():
            expected = DirectoryUser.objects.filter(partner=connection.partner).exclude(
                status=DirectoryUserStatus.REMOVED
            ).count()
            bar = ProgressBar(expected=expected if options["full"] or not connection.high_water_mark else 0)
        try:
            run = directory_sync_run(
                connection=connection, full=options["full"], dry_run=options["dry_run"], force=options["force"],
                progress=bar,
            )
        except DirectoryError as exc:
            if bar:
                bar.close()
            run = getattr(exc, "run", None)
            raise CommandError(summary(run) if run else str(exc)) from exc
        except SyncError as exc:
            raise CommandError(str(exc)) from exc
        if bar:
            bar.close()
        if run.status != SyncStatus.SUCCEEDED:
            raise CommandError(summary(run))
        self.stdout.write(summary(run))
