"""Agreement versions and signatures: an admin publishes a version per kind of partner; an authorised signer
accepts it in the portal, or an admin records a signature made elsewhere."""

import hashlib
import unicodedata
from typing import BinaryIO

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from core.audit import audit_record
from core.clients import client_ip
from core.links import absolute_url
from core.mail import mail_send_on_commit
from core.timezones import portal_today
from partners.documents import document_require_pdf
from partners.errors import (
    ACCEPTANCE_NOT_CONFIRMED,
    NOT_A_SIGNER,
    SIGNER_FIELD_ONE_LINE,
    SIGNER_FIELD_REQUIRED,
    VERSION_ALREADY_ACCEPTED,
    VERSION_DOCUMENT_CHANGED,
    VERSION_LABEL_TAKEN,
    VERSION_STALE,
    VERSION_UNKNOWN,
    AgreementRefused,
)
from partners.models import Agreement, AgreementVersion, Partner, PartnerKind, SignedVia
from partners.selectors import agreement_is_signer, agreement_version_latest

SIGNER_FIELD_MAX = 200


def document_sha256(file: BinaryIO) -> str:
    """The SHA-256 of a file's content, read from its start in chunks and left at its start."""
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in iter(lambda: file.read(64 * 1024), b""):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def agreement_version_publish(
    *, partner_kind: str, label: str, document, valid_for_days: int | None = None, actor, request=None,
) -> AgreementVersion:
    """Publish a version of the agreement for every partner of `partner_kind`: its signers are offered it at once.

    The document must be a PDF; its SHA-256 is what signers see and accept. Raises AgreementRefused for a label
    the kind has already (or ValidationError for a document that is not a PDF)."""
    label = label.strip()
    document_require_pdf(file=document)
    sha256 = document_sha256(document)
    with transaction.atomic():
        if AgreementVersion.objects.filter(partner_kind=partner_kind, label=label).exists():
            raise AgreementRefused(VERSION_LABEL_TAKEN.format(label=label, kind=PartnerKind(partner_kind).label))
        version = AgreementVersion(partner_kind=partner_kind, label=label, valid_for_days=valid_for_days or None,
                                   document_sha256=sha256, published_at=timezone.now(),
                                   published_by=actor if getattr(actor, "pk", None) else None)
        version.document.save(document.name or "agreement.pdf", document, save=False)
        version.save()
        audit_record(actor=actor, action="agreement_version.published", target=version, request=request,
                     data={"partner_kind": partner_kind, "label": label, "sha256": sha256,
                           "valid_for_days": version.valid_for_days})
    return version


def _signer_text(value: str, field: str) -> str:
    """A name or title as typed, one line: the signature names the person as they wrote it."""
    value = (value or "").strip()
    if not value:
        raise AgreementRefused(SIGNER_FIELD_REQUIRED.format(field=field))
    if len(value) > SIGNER_FIELD_MAX or any(unicodedata.category(char).startswith("C") for char in value):
        raise AgreementRefused(SIGNER_FIELD_ONE_LINE.format(field=field))
    return value


def agreement_accept(
    *, partner: Partner, version_id: int, document_sha256: str, name: str, title: str, confirmed: bool, actor,
    request=None,
) -> Agreement:
    """An authorised signer accepts the version offered to their partner, in the portal: the agreement is signed
    now by them (name and title as typed, their address, the document's SHA-256).

    Refused, with nothing written: someone who is not an authorised signer, a version not offered to this kind,
    a page opened before a newer version was published or showing another document, and a second acceptance."""
    name = _signer_text(name, gettext("full name"))
    title = _signer_text(title, gettext("title"))
    if not confirmed:
        raise AgreementRefused(ACCEPTANCE_NOT_CONFIRMED)
    with transaction.atomic():
        # One acceptance at a time per partner: two signers (or two tabs) cannot both sign the same version.
        partner = Partner.objects.select_for_update(of=("self",)).select_related("account_manager").get(pk=partner.pk)
        if not agreement_is_signer(user=actor, partner=partner):
            raise AgreementRefused(NOT_A_SIGNER.format(partner=partner))
        version = AgreementVersion.objects.filter(pk=version_id, partner_kind=partner.kind).first()
        if version is None:
            raise AgreementRefused(VERSION_UNKNOWN.format(partner=partner))
        accepted = partner.agreements.filter(agreement_version=version).first()
        if accepted is not None:
            raise AgreementRefused(VERSION_ALREADY_ACCEPTED.format(
                partner=partner, label=version.label, name=accepted.signed_by_name,
                date=timezone.localtime(accepted.signed_at).date().isoformat()))
        latest = agreement_version_latest(partner_kind=partner.kind)
        if latest.pk != version.pk:
            raise AgreementRefused(VERSION_STALE.format(label=latest.label))
        if document_sha256 != version.document_sha256:
            raise AgreementRefused(VERSION_DOCUMENT_CHANGED)
        now = timezone.now()
        agreement = Agreement.objects.create(
            partner=partner, version=version.label, agreement_version=version, signed_at=now,
            signed_by_name=name, signed_by_title=title, signed_by_email=actor.display_email or actor.email,
            signed_by_user=actor, signed_via=SignedVia.PORTAL,
            signed_from_ip=client_ip(request) if request is not None else None,
            document=version.document.name, document_sha256=version.document_sha256,
            valid_until=version.valid_until_from(portal_today(now)),
        )
        audit_record(actor=actor, action="agreement.accepted", target=agreement, partner=partner, request=request,
                     data={"version": version.label, "version_id": version.pk, "sha256": version.document_sha256,
                           "name": name, "title": title, "valid_until": str(agreement.valid_until or "")})
        _accepted_notify(agreement)
    return agreement


def _accepted_notify(agreement: Agreement) -> None:
    manager = agreement.partner.account_manager
    if manager is None or not manager.is_active:
        return
    mail_send_on_commit(
        to=manager.display_email or manager.email, template="agreement_accepted", partner=agreement.partner,
        subject=format_lazy(gettext_lazy("{partner} accepted partner agreement v{version}"),
                            partner=agreement.partner, version=agreement.version),
        context={"agreement": agreement, "partner": agreement.partner, "manager": manager,
                 "page_url": absolute_url("partners:agreement", agreement.partner.slug)},
    )


def agreement_record(*, agreement: Agreement, actor, request=None) -> Agreement:
    """Record a signature made elsewhere (an admin, with the signed PDF if there is one): saved as recorded by
    `actor`, with the SHA-256 of its document (or of the published version's, when it names one and has none)."""
    with transaction.atomic():
        agreement.signed_via = SignedVia.RECORDED
        agreement.recorded_by = actor if getattr(actor, "pk", None) else None
        version = agreement.agreement_version
        if version is not None and not agreement.version:
            agreement.version = version.label
        if agreement.document:
            agreement.document_sha256 = document_sha256(agreement.document)
        elif version is not None:
            agreement.document, agreement.document_sha256 = version.document.name, version.document_sha256
        agreement.save()
        audit_record(actor=actor, action="agreement.recorded", target=agreement, partner=agreement.partner,
                     request=request, data={"version": agreement.version, "sha256": agreement.document_sha256,
                                            "valid_until": str(agreement.valid_until or "")})
    return agreement
