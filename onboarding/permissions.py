"""Who may do what to a partner's onboarding (the pages check these after partner_for's 404 scoping)."""

from accounts.models import Role


def may_submit(user, partner) -> bool:
    """Partner admins submit their own lists; account managers and admins enter lists on a partner's behalf."""
    if user.role == Role.PARTNER_ADMIN:
        return user.partner_id == partner.pk
    return may_review(user, partner)


def may_download_agreement(user, partner) -> bool:
    """The partner's admins, its account manager and admins (partners.selectors.agreement_document_for decides)."""
    return (user.role == Role.PARTNER_ADMIN and user.partner_id == partner.pk) or may_review(user, partner)


def may_review(user, partner) -> bool:
    """The partner's account manager, or an admin."""
    return user.role == Role.ADMIN or (user.role == Role.ACCOUNT_MANAGER and partner.account_manager_id == user.pk)


def may_export_people(user, partner) -> bool:
    """Who has access, as a file: the partner's admins (not its staff), its account manager and admins."""
    return (user.role == Role.PARTNER_ADMIN and user.partner_id == partner.pk) or may_review(user, partner)


def may_manage_people(user, partner) -> bool:
    """People with access, and changes to it: the partner's admins (not its staff), its account manager, admins."""
    return (user.role == Role.PARTNER_ADMIN and user.partner_id == partner.pk) or may_review(user, partner)


def may_maintain_directory(user, partner) -> bool:
    """The partner's admins (not its staff), its account manager and admins: its directory's people and lookups."""
    return (user.role == Role.PARTNER_ADMIN and user.partner_id == partner.pk) or may_review(user, partner)
