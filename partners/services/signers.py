"""Authorised signers: which partner admins may accept a new agreement version for their partner."""

from django.db import transaction

from core.audit import audit_record
from partners.errors import SIGNER_NOT_PARTNER_ADMIN, AgreementRefused
from partners.models import Partner
from partners.selectors import ROLE_PARTNER_ADMIN


def agreement_signer_set(*, partner: Partner, user, authorised: bool, actor, request=None) -> bool:
    """Mark (or unmark) `user` as an authorised signer of `partner`; True when something changed.

    Only an active partner admin of that partner can be marked; unmarking anyone always works. Repeating a
    change is a no-op (no second audit event)."""
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        is_signer = partner.authorised_signers.filter(pk=user.pk).exists()
        if authorised == is_signer:
            return False
        if authorised:
            if not (user.is_active and user.role == ROLE_PARTNER_ADMIN and user.partner_id == partner.pk):
                raise AgreementRefused(SIGNER_NOT_PARTNER_ADMIN.format(person=user, partner=partner))
            partner.authorised_signers.add(user)
        else:
            partner.authorised_signers.remove(user)
        audit_record(actor=actor, action="agreement_signer.added" if authorised else "agreement_signer.removed",
                     target=partner, partner=partner, request=request,
                     data={"user_id": user.pk, "email": getattr(user, "email", "")})
    return True
