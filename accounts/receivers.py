"""Signal receivers of accounts: what lower layers announce, and accounts acts on."""

import logging

from accounts.services.access import users_offboard_from_directory

logger = logging.getLogger(__name__)


def offboard_after_directory_change(sender, run=None, partner_id: int | None = None, **kwargs) -> None:
    """An account's directory people changed (a sync run, or a partner admin's edit; after commit): end the
    access of those it disabled or removed, at once.

    A failure here must not stop the other listeners (onboarding's re-check); the sessions of such people are
    refused on every request anyway (accounts.selectors.active_user), and the next change tries again."""
    partner_id = partner_id if partner_id is not None else run.connection.partner_id
    try:
        ended = users_offboard_from_directory(partner_id=partner_id)
    except Exception:
        logger.exception("offboarding after a directory change of partner %s failed", partner_id)
        return
    if ended:
        logger.info("partner %s: access of %s people ended by their directory", partner_id, ended)
