"""Invites and welcome links: hashed single-use tokens, mailed exactly once, SMTP failures, one open invite per
person, resend, revoke, expiry and renewal, and acceptance by the person (services only; pages are tested apart)."""

import contextlib
import datetime
import hashlib
import re

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.mail import MailDeferred, retry_delay
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.errors import (
    ALREADY_ACCEPTED,
    ALREADY_OPEN_INVITE,
    INVITE_LINK_INVALID,
    INVITE_NOT_OPEN,
    INVITE_PERSON_GONE,
    InviteExpired,
    OnboardingError,
)
from onboarding.models import Invite, InviteKind, InviteState, ItemState
from onboarding.selectors import invite_by_token
from onboarding.services.acceptance import invite_accept, invite_check, invite_method
from onboarding.services.invites import (
    invite_create,
    invite_renewal_request,
    invite_resend,
    invite_revoke,
    invite_send,
    invite_send_failed,
    invite_token,
    invites_expire,
)
from onboarding.services.review import request_item_approve
from partners.models import PartnerKind
from tests.database import text_columns_containing
from tests.onboarding.factories import RequestItemFactory
from tests.onboarding.invite_links import mailed_code
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = "name,primary,aliases,forwarding,enabled\n"
IVY = "Ivy Invitee,Ivy@Partner.example,ivy.alias@partner.example,,yes\n"
OTTO = "Otto Other,otto@partner.example,,,yes\n"
PASSWORD = "quiet lantern orbit 7429"


def directory_load(partner, *rows: str) -> None:
    """Replace the partner's directory (a CSV account) with these people; no brake, for small test directories."""
    connection_, _ = DirectoryConnection.objects.get_or_create(
        partner=partner, defaults={"kind": SourceKind.CSV, "removal_brake_percent": 100}
    )
    directory_csv_import(connection=connection_, data=(HEADER + "".join(rows)).encode())


@pytest.fixture
def partner():
    partner = PartnerFactory(name="Acme MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    directory_load(partner, IVY, OTTO)
    return partner


@pytest.fixture
def manager(partner):
    return partner.account_manager


def token_of(message, portal_url: str) -> str:
    """The token in the one invitation link of a mail (its fragment), a link to the portal."""
    [link] = [url for url in re.findall(r"https?://\S+", message.body) if "#" in url]
    assert link.startswith(f"{portal_url}/invite/#")
    return mailed_code(link)


def create(partner, manager, email: str = "Ivy@Partner.example") -> Invite:
    """An invite created and not yet sent (its send task waits for a commit that never comes in these tests)."""
    return invite_create(partner=partner, email=email, name="Ivy Invitee", actor=manager)


def send(invite, settings) -> str:
    """Send a pending invite as the worker would and return the token of the link it mailed."""
    assert invite_send(invite_id=invite.pk) is True
    invite.refresh_from_db()
    return token_of(mail.outbox[-1], settings.PORTAL_URL)


@pytest.fixture
def approved(partner, manager, settings, django_capture_on_commit_callbacks):
    """Ivy's request approved: her item invited, the invite sent. Returns (invite, token)."""
    item = RequestItemFactory(request__partner=partner, name="Ivy Invitee", display_email="Ivy@Partner.example")
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=manager)
    invite = Invite.objects.get(item=item)
    [message] = [m for m in mail.outbox if m.to == ["Ivy@Partner.example"]]
    return invite, token_of(message, settings.PORTAL_URL)


# --- the token --------------------------------------------------------------------------------------------------------


def test_the_mailed_token_is_stored_only_as_its_sha256(approved):
    invite, token = approved
    invite.refresh_from_db()
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(token) >= 40  # 32 random bytes, URL-safe


def test_the_raw_token_appears_nowhere_in_the_database(approved):
    _, token = approved
    assert text_columns_containing(token) == []
    assert text_columns_containing(hashlib.sha256(token.encode()).hexdigest()) == ["onboarding_invite.token_hash"]


def test_a_pending_invite_has_no_token_until_it_is_sent(partner, manager):
    invite = create(partner, manager)
    assert (invite.state, invite.token_hash, invite.sent_at) == (InviteState.PENDING, None, None)


def test_the_mailed_link_finds_the_invite(approved):
    invite, token = approved
    assert invite_by_token(token).pk == invite.pk


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 101], ids=["empty", "unknown", "too long"])
def test_an_unknown_token_finds_nothing(approved, token):
    assert invite_by_token(token) is None


# --- sending exactly once ---------------------------------------------------------------------------------------------


def test_sending_an_invite_twice_mails_it_once(partner, manager):
    invite = create(partner, manager)
    assert invite_send(invite_id=invite.pk) is True
    assert invite_send(invite_id=invite.pk) is False
    assert len(mail.outbox) == 1
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.SENT, 1)
    assert AuditEvent.objects.filter(action="invite.sent", target_id=str(invite.pk)).count() == 1


def test_sending_an_invite_that_no_longer_exists_does_nothing():
    assert invite_send(invite_id=987654) is False
    assert mail.outbox == []


def test_an_smtp_failure_leaves_the_invite_pending_with_its_link_kept_for_the_retry(
    partner, manager, settings, mail_server
):
    mail_server.use(settings)
    invite = create(partner, manager)
    mail_server.fail_next(1)
    with pytest.raises(MailDeferred):
        invite_send(invite_id=invite.pk)
    invite.refresh_from_db()
    assert (invite.state, invite.sent_at) == (InviteState.PENDING, None)
    # The claim stored the hash (committed before SMTP): the retry mails the same link.
    assert invite.token_hash == hashlib.sha256(invite_token(invite).encode()).hexdigest()
    assert not AuditEvent.objects.filter(action="invite.sent").exists()
    assert (mail_server.refused, mail_server.messages) == (1, [])


def test_the_send_after_an_smtp_failure_mails_the_invite(partner, manager, settings, mail_server):
    mail_server.use(settings)
    invite = create(partner, manager)
    mail_server.fail_next(1)
    with pytest.raises(MailDeferred):
        invite_send(invite_id=invite.pk)
    with time_machine.travel(timezone.now() + retry_delay(1)):  # the retry is due at its time
        assert invite_send(invite_id=invite.pk) is True
    [message] = mail_server.wait_for(1)
    assert message["To"] == "Ivy@Partner.example"
    invite.refresh_from_db()
    token = mailed_code(mail_server.body(message))
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_invite_send_failed_marks_a_pending_invite_failed(partner, manager):
    invite = create(partner, manager)
    invite_send_failed(invite_id=invite.pk, error="SMTPDataError: 451 Try again later")
    invite.refresh_from_db()
    assert (invite.state, invite.last_error) == (InviteState.FAILED, "SMTPDataError: 451 Try again later")
    event = AuditEvent.objects.get(action="invite.send_failed")
    assert (event.actor, event.target_id) == (None, str(invite.pk))


def test_a_failure_report_for_an_invite_already_sent_changes_nothing(partner, manager, settings):
    invite = create(partner, manager)
    send(invite, settings)
    invite_send_failed(invite_id=invite.pk, error="late duplicate")
    invite.refresh_from_db()
    assert (invite.state, invite.last_error) == (InviteState.SENT, "")


# --- one open invite per person and partner ---------------------------------------------------------------------------


def test_a_second_open_invite_for_the_same_person_and_partner_is_refused(partner, manager):
    create(partner, manager)
    with pytest.raises(OnboardingError) as caught:
        create(partner, manager, email="IVY@partner.example")
    assert str(caught.value) == ALREADY_OPEN_INVITE.format(email="IVY@partner.example", partner=partner)
    assert Invite.objects.count() == 1


def test_a_person_can_be_invited_again_once_the_open_invite_is_revoked(partner, manager):
    invite_revoke(invite=create(partner, manager), actor=manager)
    assert create(partner, manager).state == InviteState.PENDING


# --- resend -----------------------------------------------------------------------------------------------------------


def test_a_resend_mails_a_new_link_with_a_fresh_expiry(partner, manager, settings):
    invite = create(partner, manager)
    old_token = send(invite, settings)
    later = timezone.now() + datetime.timedelta(days=3)
    with time_machine.travel(later, tick=False):
        invite_resend(invite=invite, actor=manager)
        new_token = send(invite, settings)
    assert new_token != old_token
    assert invite.expires_at == later + datetime.timedelta(days=settings.INVITE_EXPIRY_DAYS)
    assert invite_by_token(new_token).pk == invite.pk
    assert len(mail.outbox) == 2


def test_a_resend_kills_the_old_link_at_once(partner, manager, settings):
    invite = create(partner, manager)
    old_token = send(invite, settings)
    invite_resend(invite=invite, actor=manager)
    assert invite_by_token(old_token) is None
    invite.refresh_from_db()
    assert (invite.state, invite.token_hash) == (InviteState.PENDING, None)


def test_a_resend_is_audited_with_its_actor(partner, manager, settings):
    invite = create(partner, manager)
    send(invite, settings)
    invite_resend(invite=invite, actor=manager)
    assert AuditEvent.objects.get(action="invite.resent").actor == manager


def test_a_failed_invite_can_be_resent(partner, manager, settings):
    invite = create(partner, manager)
    invite_send_failed(invite_id=invite.pk, error="SMTPDataError")
    invite_resend(invite=invite, actor=manager)
    token = send(invite, settings)
    assert (invite.state, invite_by_token(token).pk) == (InviteState.SENT, invite.pk)


# --- revoke -----------------------------------------------------------------------------------------------------------


def test_revoking_kills_the_link_and_marks_the_item_revoked(approved, manager):
    invite, token = approved
    invite_revoke(invite=invite, actor=manager)
    invite.refresh_from_db()
    assert invite.state == InviteState.REVOKED
    assert invite.revoked_at is not None
    assert invite_by_token(token) is None
    invite.item.refresh_from_db()
    assert invite.item.state == ItemState.REVOKED
    assert AuditEvent.objects.get(action="invite.revoked").actor == manager


def test_a_revoked_invite_cannot_be_accepted(approved, manager):
    invite, _ = approved
    invite_revoke(invite=invite, actor=manager)
    with pytest.raises(OnboardingError, match=re.escape(str(INVITE_LINK_INVALID))):
        invite_accept(invite=invite, password=PASSWORD)


def test_revoking_twice_is_refused(approved, manager):
    invite, _ = approved
    invite_revoke(invite=invite, actor=manager)
    with pytest.raises(OnboardingError) as caught:
        invite_revoke(invite=invite, actor=manager)
    assert str(caught.value) == INVITE_NOT_OPEN.format(state="revoked", action="revoked")


# --- expiry and renewal -----------------------------------------------------------------------------------------------


def test_invites_past_their_expiry_are_marked_expired(approved):
    invite, _ = approved
    with time_machine.travel(invite.expires_at + datetime.timedelta(minutes=1)):
        assert invites_expire() == 1
    invite.refresh_from_db()
    assert invite.state == InviteState.EXPIRED
    assert AuditEvent.objects.filter(action="invite.expired", actor=None).count() == 1


def test_invites_within_their_time_are_not_expired(approved):
    invite, _ = approved
    with time_machine.travel(invite.expires_at - datetime.timedelta(minutes=1)):
        assert invites_expire() == 0
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT


def test_an_expired_link_is_still_recognised_to_offer_a_renewal(approved):
    invite, token = approved
    with time_machine.travel(invite.expires_at + datetime.timedelta(minutes=1)):
        invites_expire()
        found = invite_by_token(token)
        assert (found.pk, found.state) == (invite.pk, InviteState.EXPIRED)
        with pytest.raises(InviteExpired):
            invite_check(found)


def test_a_renewal_request_mails_the_account_manager_once(approved, manager, django_capture_on_commit_callbacks):
    invite, _ = approved
    mail.outbox.clear()
    with time_machine.travel(invite.expires_at + datetime.timedelta(minutes=1)):
        invites_expire()
        with django_capture_on_commit_callbacks(execute=True):
            invite_renewal_request(invite=invite)
            invite_renewal_request(invite=invite)
    [message] = mail.outbox
    assert message.to == [manager.display_email]
    assert message.subject == "Ivy@Partner.example asks for a new portal invitation"
    invite.refresh_from_db()
    assert invite.renewal_requested_at is not None
    assert AuditEvent.objects.filter(action="invite.renewal_requested").count() == 1


def test_a_resend_after_a_renewal_request_clears_it_and_mails_a_fresh_link(approved, manager, settings):
    invite, old_token = approved
    with time_machine.travel(invite.expires_at + datetime.timedelta(minutes=1)):
        invites_expire()
        invite_renewal_request(invite=invite)
        invite_resend(invite=invite, actor=manager)
        new_token = send(invite, settings)
    assert (invite.state, invite.renewal_requested_at) == (InviteState.SENT, None)
    assert invite_by_token(old_token) is None
    assert invite_by_token(new_token).pk == invite.pk


def test_a_link_that_still_works_cannot_ask_for_a_new_invite(approved, django_capture_on_commit_callbacks):
    # The renewal is offered from an expired link only; a valid one must not bother the account manager.
    invite, _ = approved
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True), contextlib.suppress(OnboardingError):
        invite_renewal_request(invite=invite)
    invite.refresh_from_db()
    assert invite.renewal_requested_at is None
    assert mail.outbox == []


# --- acceptance -------------------------------------------------------------------------------------------------------


def test_a_short_password_is_refused_and_nothing_changes(approved):
    invite, token = approved
    with pytest.raises(ValidationError):
        invite_accept(invite=invite, password="short")
    invite.refresh_from_db()
    invite.user.refresh_from_db()
    assert (invite.state, invite.user.is_active, invite.user.has_usable_password()) == (InviteState.SENT, False, False)
    assert invite_by_token(token).pk == invite.pk


def test_accepting_with_a_cloud_password_activates_the_person_with_that_password(approved):
    invite, _ = approved
    user = invite_accept(invite=invite, password=PASSWORD)
    user.refresh_from_db()
    assert user.is_active
    assert user.check_password(PASSWORD)
    assert user.directory_user.external_id == "ivy@partner.example"


def test_accepting_marks_the_invite_and_the_item_accepted(approved):
    invite, token = approved
    user = invite_accept(invite=invite, password=PASSWORD)
    invite.refresh_from_db()
    invite.item.refresh_from_db()
    assert invite.state == InviteState.ACCEPTED
    assert invite.accepted_at is not None
    assert (invite.item.state, invite.item.user) == (ItemState.ACCEPTED, user)
    # The used link is still recognised, to say it was accepted; it cannot be accepted again.
    with pytest.raises(OnboardingError, match="already accepted"):
        invite_check(invite_by_token(token))


def test_an_acceptance_is_audited_with_the_person_as_actor(approved):
    invite, _ = approved
    user = invite_accept(invite=invite, password=PASSWORD)
    event = AuditEvent.objects.get(action="invite.accepted")
    assert (event.actor, event.target_id, event.data) == (user, str(invite.pk),
                                                          {"method": "cloud_password", "role": "partner_staff"})


def test_opening_the_link_consumes_nothing(approved):
    invite, token = approved
    # What the page does on GET, as often as a mail gateway's link scanner likes.
    for _ in range(3):
        opened = invite_by_token(token)
        invite_check(opened)
        invite_method(opened)
    invite.refresh_from_db()
    invite.user.refresh_from_db()
    assert (invite.state, invite.accepted_at, invite.user.is_active) == (InviteState.SENT, None, False)
    assert invite_by_token(token).pk == invite.pk
    assert invite_accept(invite=invite, password=PASSWORD).is_active


@pytest.mark.parametrize("ivy_row", [IVY.replace(",yes", ",no"), None], ids=["disabled", "removed"])
def test_an_invite_for_someone_since_gone_from_the_directory_cannot_be_accepted(approved, partner, ivy_row):
    invite, _ = approved
    directory_load(partner, *([ivy_row] if ivy_row else []), OTTO)
    with pytest.raises(OnboardingError) as caught:
        invite_accept(invite=invite, password=PASSWORD)
    assert str(caught.value) == INVITE_PERSON_GONE.format(email="Ivy@Partner.example", partner=partner)
    invite.refresh_from_db()
    invite.user.refresh_from_db()
    assert (invite.state, invite.user.is_active) == (InviteState.SENT, False)


@pytest.mark.parametrize("expiry_ran", [False, True], ids=["before the expiry job", "after the expiry job"])
def test_an_expired_invite_cannot_be_accepted(approved, expiry_ran):
    invite, _ = approved
    with time_machine.travel(invite.expires_at + datetime.timedelta(minutes=1)):
        if expiry_ran:
            invites_expire()
        with pytest.raises(InviteExpired):
            invite_accept(invite=invite, password=PASSWORD)
    invite.user.refresh_from_db()
    assert not invite.user.is_active


def test_an_accepted_invite_cannot_be_used_again(approved):
    invite, _ = approved
    invite_accept(invite=invite, password=PASSWORD)
    with pytest.raises(OnboardingError, match=re.escape(str(ALREADY_ACCEPTED))):
        invite_accept(invite=invite, password="another long passphrase 9913")
    invite.user.refresh_from_db()
    assert invite.user.check_password(PASSWORD)


def test_a_resellers_welcome_link_is_accepted_without_a_directory(settings, django_capture_on_commit_callbacks):
    reseller = PartnerFactory(name="Resell Co", kind=PartnerKind.RESELLER)
    AgreementFactory(partner=reseller)
    item = RequestItemFactory(request__partner=reseller, display_email="rita@resell.example")
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=reseller.account_manager)
    invite = Invite.objects.get(item=item)
    assert invite.kind == InviteKind.WELCOME
    [message] = [m for m in mail.outbox if m.to == ["rita@resell.example"]]
    welcome = invite_by_token(token_of(message, settings.PORTAL_URL))
    user = invite_accept(invite=welcome, password=PASSWORD)
    item.refresh_from_db()
    assert (user.is_active, user.directory_user, item.state) == (True, None, ItemState.ACCEPTED)


def test_nobody_is_invited_for_a_partner_without_a_current_agreement(django_capture_on_commit_callbacks):
    from partners.errors import AgreementMissing

    partner = PartnerFactory()  # no agreement recorded
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(AgreementMissing):
        invite_create(partner=partner, email="Nobody@Partner.example", name="No Body")

    assert not Invite.objects.filter(partner=partner).exists()
    assert mail.outbox == []
