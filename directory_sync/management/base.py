"""Shared bits of directory_sync's management commands."""

from django.core.management.base import CommandError

from directory_sync.models import DirectoryConnection, SyncRun
from partners import selectors
from partners.models import Partner


def partner_by_slug(slug: str) -> Partner:
    """The partner whose account `--account` names, or a clear error."""
    partner = selectors.partner_by_slug(slug=slug)
    if partner is None:
        known = ", ".join(selectors.partner_slugs()) or "none"
        raise CommandError(f"No partner with the slug {slug!r}. Known: {known}.")
    return partner


def connection_of(partner: Partner) -> DirectoryConnection:
    connection = DirectoryConnection.objects.filter(partner=partner).select_related("partner").first()
    if connection is None:
        raise CommandError(
            f"{partner.slug} has no directory connection: create one with configure_directory "
            "(LDAP/AD) or import_directory_csv (CSV)."
        )
    return connection


def summary(run: SyncRun) -> str:
    """The one-line summary the commands print at the end of a run."""
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    line = (
        f"{run.get_mode_display().lower()} run {run.status}{' (dry run: nothing written)' if run.dry_run else ''}: "
        f"seen {run.seen}, created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
        f"disabled {run.disabled}, removed {run.removed}, skipped {run.skipped}, conflicts {run.conflicts} "
        f"in {seconds:.1f} s"
    )
    return f"{line}\n{run.error}" if run.error else line
