"""Shared bits of directory_sync's management commands."""

from django.core.management.base import CommandError

from directory_sync.models import DirectoryConnection, SyncRun
from onboarding.models import Partner


def partner_by_slug(slug: str) -> Partner:
    """The partner whose account `--account` names, or a clear error."""
    partner = Partner.objects.filter(slug=slug).first()
    if partner is None:
        raise CommandError(f"No partner with the slug {slug!r}. Known: {', '.join(known_slugs()) or 'none'}.")
    return partner


def known_slugs() -> list[str]:
    return list(Partner.objects.order_by("slug").values_list("slug", flat=True)[:20])


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
