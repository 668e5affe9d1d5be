"""People with access: the list and a person's page, the changes to access (each audited, each ending sessions
where it should), the last partner admin kept, who may see and change what (404 for anyone else), offboarding by
the partner's directory, and the same queries for a page of 5 people as of 60."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.errors import ACCESS_OWN, ACCESS_STILL_OFF_IN_DIRECTORY, LAST_PARTNER_ADMIN, AccessRefused
from accounts.forms import PortalSetPasswordForm
from accounts.models import AccessEnded, Role, TOTPDevice, User
from accounts.services.access import (
    user_deactivate,
    user_reactivate,
    user_remove,
    user_set_role,
    users_offboard_from_directory,
)
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, DirectoryUser, DirectoryUserStatus, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import OPEN_INVITE_STATES, Invite, InviteState, RequestItem
from onboarding.services.acceptance import invite_accept
from onboarding.services.people import person_remove
from onboarding.services.requests import request_submit
from onboarding.services.review import request_items_approve
from partners.models import Partner, PartnerKind
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.conftest import login_with_second_factor
from tests.onboarding.factories import InviteFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

DIRECTORY = (
    b"name,primary,aliases,forwarding,enabled\n"
    b"Ann Able,ann@acme.example,,,yes\n"
    b"Dan Doe,dan@acme.example,dan.alias@acme.example,,yes\n"
    b"Eve Early,eve@acme.example,,,yes\n"
)


@pytest.fixture
def client_class():
    """Django's test client, for a person signed in on several devices at once."""
    return Client


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def acme(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def directory(acme):
    csv_source = DirectoryConnection.objects.create(partner=acme, kind=SourceKind.CSV)
    directory_csv_import(connection=csv_source, data=DIRECTORY)
    return csv_source


@pytest.fixture
def ann(acme):
    return PartnerAdminFactory(partner=acme, display_email="ann@acme.example", full_name="Ann Able")


@pytest.fixture
def dan(acme):
    return UserFactory(partner=acme, display_email="dan@acme.example", full_name="Dan Doe")


def signed_in(client_class, user):
    client = client_class()
    client.force_login(user)
    assert client.get("/partners/acme/").status_code == 200
    return client


def refused(client) -> bool:
    """The session no longer works: the next request is sent to sign in."""
    response = client.get("/partners/acme/")
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- the services -------------------------------------------------------------------------------------------------

def test_deactivating_ends_every_session_of_the_person_at_their_next_request(client_class, ann, dan):
    phone, laptop = signed_in(client_class, dan), signed_in(client_class, dan)
    user_deactivate(user=dan, actor=ann)
    assert refused(phone) and refused(laptop)
    dan.refresh_from_db()
    assert (dan.is_active, dan.access_ended) == (False, AccessEnded.DEACTIVATED)
    event = AuditEvent.objects.get(action="access.deactivated")
    assert (event.actor_id, event.target_id, event.partner_id) == (ann.pk, str(dan.pk), dan.partner_id)


def test_reactivating_does_not_bring_the_old_sessions_back(client_class, ann, dan):
    old = signed_in(client_class, dan)
    user_deactivate(user=dan, actor=ann)
    user_reactivate(user=dan, actor=ann)
    assert refused(old)
    dan.refresh_from_db()
    assert (dan.is_active, dan.access_ended, dan.access_ended_at) == (True, "", None)
    signed_in(client_class, dan)  # a new sign-in works
    assert AuditEvent.objects.filter(action="access.reactivated", data__ended="deactivated").count() == 1


def test_removing_revokes_the_open_invitation_and_is_for_good(ann, acme):
    invited = UserFactory(partner=acme, display_email="new@acme.example", is_active=False)
    invite = InviteFactory(partner=acme, user=invited, display_email="new@acme.example", state=InviteState.SENT,
                           token_hash="a" * 64, sent_at=timezone.now())
    person_remove(user=invited, actor=ann)
    invite.refresh_from_db()
    invited.refresh_from_db()
    assert invite.state == InviteState.REVOKED and invite.token_hash is None
    assert invited.access_ended == AccessEnded.REMOVED
    with pytest.raises(AccessRefused):
        user_reactivate(user=invited, actor=ann)


def test_the_last_active_partner_admin_is_kept(ann, acme, manager):
    for change in (lambda: user_deactivate(user=ann, actor=manager), lambda: user_remove(user=ann, actor=manager),
                   lambda: user_set_role(user=ann, role=Role.PARTNER_STAFF, actor=manager)):
        with pytest.raises(AccessRefused, match="last active partner admin"):
            change()
    assert str(LAST_PARTNER_ADMIN).startswith("This is the partner's last active partner admin")
    second = PartnerAdminFactory(partner=acme)
    user_set_role(user=ann, role=Role.PARTNER_STAFF, actor=manager)  # now there is another
    with pytest.raises(AccessRefused, match="last active partner admin"):
        user_deactivate(user=second, actor=manager)
    ann.refresh_from_db()
    assert ann.role == Role.PARTNER_STAFF


def test_a_deactivated_partner_admin_does_not_count_as_the_one_kept(ann, acme, manager):
    other = PartnerAdminFactory(partner=acme)
    user_deactivate(user=other, actor=manager)
    with pytest.raises(AccessRefused, match="last active partner admin"):
        user_set_role(user=ann, role=Role.PARTNER_STAFF, actor=manager)


def test_no_one_changes_their_own_access(ann, acme):
    PartnerAdminFactory(partner=acme)
    for change in (lambda: user_deactivate(user=ann, actor=ann), lambda: user_remove(user=ann, actor=ann),
                   lambda: user_set_role(user=ann, role=Role.PARTNER_STAFF, actor=ann)):
        with pytest.raises(AccessRefused, match=ACCESS_OWN[:30]):
            change()


def test_making_a_partner_admin_is_audited_with_the_roles(ann, dan):
    user_set_role(user=dan, role=Role.PARTNER_ADMIN, actor=ann)
    dan.refresh_from_db()
    assert dan.role == Role.PARTNER_ADMIN
    event = AuditEvent.objects.get(action="access.role_changed")
    assert event.data == {"from": "partner_staff", "to": "partner_admin"}


# --- offboarding by the directory ---------------------------------------------------------------------------------

def imported(run_on_commit, directory, data: bytes, **options) -> None:
    """A CSV import, with what runs once it commits (the announcement of its success, and its listeners)."""
    with run_on_commit(execute=True):
        directory_csv_import(connection=directory, data=data, **options)


def test_a_directory_that_disables_a_person_ends_their_access_and_sessions(
    client_class, django_capture_on_commit_callbacks, directory, ann, dan,
):
    session = signed_in(client_class, dan)
    imported(django_capture_on_commit_callbacks, directory, DIRECTORY.replace(b"dan.alias@acme.example,,yes",
                                                                              b"dan.alias@acme.example,,no"),
             force=True)  # one in three: more than the brake lets through unforced
    assert refused(session)
    dan.refresh_from_db()
    assert (dan.is_active, dan.access_ended) == (False, AccessEnded.DIRECTORY_DISABLED)
    event = AuditEvent.objects.get(action="access.directory_disabled")
    assert (event.actor_id, event.target_id) == (None, str(dan.pk))
    # The partner admin cannot bring them back while the directory says no; once it enables them, they can.
    with pytest.raises(AccessRefused, match=ACCESS_STILL_OFF_IN_DIRECTORY[:30].format(email="")):
        user_reactivate(user=dan, actor=ann)
    imported(django_capture_on_commit_callbacks, directory, DIRECTORY)
    user_reactivate(user=dan, actor=ann)
    dan.refresh_from_db()
    assert dan.is_active


def test_a_person_removed_from_the_directory_loses_access(django_capture_on_commit_callbacks, directory, ann, dan):
    imported(django_capture_on_commit_callbacks, directory,
             DIRECTORY.replace(b"Dan Doe,dan@acme.example,dan.alias@acme.example,,yes\n", b""), force=True)
    dan.refresh_from_db()
    assert (dan.is_active, dan.access_ended) == (False, AccessEnded.DIRECTORY_REMOVED)


def test_a_session_is_refused_as_soon_as_the_directory_disables_the_linked_person(client_class, directory, dan):
    """Before (or without) the offboarding after a sync: the per-request check alone refuses the session."""
    person = DirectoryUser.objects.get(partner=dan.partner, display_name="Dan Doe")
    User.objects.filter(pk=dan.pk).update(directory_user=person)
    session = signed_in(client_class, dan)
    DirectoryUser.objects.filter(pk=person.pk).update(status=DirectoryUserStatus.DISABLED)
    assert refused(session)


def test_offboarding_again_changes_nothing_and_a_last_partner_admin_is_not_spared(directory, ann, dan):
    DirectoryUser.objects.filter(partner=ann.partner).update(status=DirectoryUserStatus.DISABLED)
    assert users_offboard_from_directory(partner_id=ann.partner_id) == 2
    assert users_offboard_from_directory(partner_id=ann.partner_id) == 0
    assert not User.objects.filter(pk__in=[ann.pk, dan.pk], is_active=True).exists()
    assert AuditEvent.objects.filter(action="access.directory_disabled").count() == 2


def test_a_partner_without_a_directory_offboards_no_one(ann, dan):
    assert users_offboard_from_directory(partner_id=ann.partner_id) == 0
    dan.refresh_from_db()
    assert dan.is_active


def test_another_partners_directory_offboards_no_one_here(django_capture_on_commit_callbacks, manager, ann, dan):
    other = PartnerFactory(account_manager=manager)
    source = DirectoryConnection.objects.create(partner=other, kind=SourceKind.CSV)
    imported(django_capture_on_commit_callbacks, source,
             b"name,primary,aliases,forwarding,enabled\nDan Elsewhere,dan@acme.example,,,no\n")
    dan.refresh_from_db()
    assert dan.is_active


# --- the pages ----------------------------------------------------------------------------------------------------

def test_a_partner_admin_deactivates_a_person_from_their_page(client, client_class, ann, dan):
    session = signed_in(client_class, dan)
    client.force_login(ann)
    page = client.get(f"/partners/acme/access/{dan.pk}/")
    assert page.status_code == 200 and b"Deactivate" in page.content
    response = client.post(f"/partners/acme/access/{dan.pk}/change/", {"action": "deactivate"}, follow=True)
    assert b"is deactivated: their sessions have ended" in response.content
    assert refused(session)
    timeline = client.get(f"/partners/acme/access/{dan.pk}/").content.decode()
    assert "Access removed (deactivated)" in timeline and "Reactivate" in timeline


def test_removing_asks_for_confirmation_first(client, ann, dan):
    client.force_login(ann)
    response = client.post(f"/partners/acme/access/{dan.pk}/change/", {"action": "remove"})
    assert response.status_code == 302 and response["Location"].endswith("?confirm=remove")
    dan.refresh_from_db()
    assert dan.is_active
    assert b"Remove Dan Doe from the portal?" in client.get(response["Location"]).content
    client.post(f"/partners/acme/access/{dan.pk}/change/", {"action": "remove", "confirmed": "on"})
    dan.refresh_from_db()
    assert dan.access_ended == AccessEnded.REMOVED


def test_a_refused_change_says_why_and_changes_nothing(client, manager, ann):
    client.force_login(manager)
    response = client.post(f"/partners/acme/access/{ann.pk}/change/", {"action": "deactivate"}, follow=True)
    assert b"last active partner admin" in response.content
    ann.refresh_from_db()
    assert ann.is_active


def test_the_list_filters_by_status_role_and_search(client, ann, dan, acme):
    gone = UserFactory(partner=acme, display_email="gone@acme.example", full_name="Gone Away")
    user_deactivate(user=gone, actor=ann)
    removed = UserFactory(partner=acme, display_email="rem@acme.example", full_name="Rem Oved")
    user_remove(user=removed, actor=ann)
    client.force_login(ann)
    everyone = client.get("/partners/acme/access/").content.decode()
    assert "Dan Doe" in everyone and "Gone Away" in everyone and "Rem Oved" not in everyone  # removed: asked for
    deactivated = client.get("/partners/acme/access/?state=deactivated").content.decode()
    assert "Gone Away" in deactivated and "Dan Doe" not in deactivated and "1 of 3 matches" in deactivated
    assert "Rem Oved" in client.get("/partners/acme/access/?state=removed").content.decode()
    admins = client.get("/partners/acme/access/?role=partner_admin").content.decode()
    assert ">Ann Able</a>" in admins and "Dan Doe" not in admins
    found = client.get("/partners/acme/access/?q=DAN").content.decode()
    assert ">Dan Doe</a>" in found and ">Ann Able</a>" not in found
    assert client.get("/partners/acme/access/?state=bogus").status_code == 200  # not applied, said so


@pytest.mark.parametrize("who", ["staff", "other_admin", "other_manager"])
def test_no_one_else_sees_or_changes_a_partners_people(client, ann, dan, acme, who):
    viewer = {
        "staff": lambda: UserFactory(partner=acme),
        "other_admin": lambda: PartnerAdminFactory(partner=PartnerFactory(slug="other")),
        "other_manager": lambda: AccountManagerFactory(),
    }[who]()
    client.force_login(viewer)
    assert client.get("/partners/acme/access/").status_code == 404
    assert client.get(f"/partners/acme/access/{dan.pk}/").status_code == 404
    assert client.post(f"/partners/acme/access/{dan.pk}/change/", {"action": "deactivate"}).status_code == 404
    dan.refresh_from_db()
    assert dan.is_active


def test_a_person_of_another_partner_is_not_found_through_this_one(client, ann, manager):
    elsewhere = UserFactory(partner=PartnerFactory(slug="other", account_manager=manager))
    client.force_login(manager)
    assert client.get(f"/partners/acme/access/{elsewhere.pk}/").status_code == 404
    assert client.post(f"/partners/acme/access/{elsewhere.pk}/change/", {"action": "deactivate"}).status_code == 404


def test_the_account_manager_and_an_admin_manage_any_of_their_partners(client, manager, ann, dan):
    for viewer in (manager, AdminFactory()):
        client.force_login(viewer)
        assert client.get("/partners/acme/access/").status_code == 200
    client.post(f"/partners/acme/access/{dan.pk}/change/", {"action": "make_partner_admin"})
    dan.refresh_from_db()
    assert dan.role == Role.PARTNER_ADMIN


def test_the_post_needs_its_csrf_token(client_class, ann, dan):
    client = client_class(enforce_csrf_checks=True)
    client.force_login(ann)
    assert client.post(f"/partners/acme/access/{dan.pk}/change/", {"action": "deactivate"}).status_code == 403


@pytest.mark.parametrize("path", ["/partners/acme/access/", "/partners/acme/access/?state=deactivated&q=p"])
def test_the_list_takes_the_same_queries_for_5_people_as_for_60(client, ann, acme, path):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    def add(start: int, count: int) -> None:
        for n in range(start, start + count):
            person = UserFactory(partner=acme, display_email=f"p{n}@acme.example", full_name=f"P {n}")
            InviteFactory(partner=acme, user=person, display_email=person.display_email, state=InviteState.ACCEPTED,
                          sent_at=timezone.now(), accepted_at=timezone.now())
            TOTPDevice.objects.create(user=person, name="phone", confirmed=True)
            user_deactivate(user=person, actor=ann)

    client.force_login(ann)
    add(0, 5)
    few = queries()
    add(5, 55)
    assert queries() == few


def test_a_persons_page_takes_the_same_queries_for_a_short_timeline_as_for_a_long_one(client, ann, dan, manager):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/partners/acme/access/{dan.pk}/").status_code == 200
        return len(captured)

    client.force_login(ann)
    user_set_role(user=dan, role=Role.PARTNER_ADMIN, actor=manager)
    few = queries()
    for _ in range(30):
        user_set_role(user=dan, role=Role.PARTNER_STAFF, actor=manager)
        user_set_role(user=dan, role=Role.PARTNER_ADMIN, actor=manager)
    assert queries() == few


# --- the admin ----------------------------------------------------------------------------------------------------

def test_the_admin_deactivates_and_reactivates_through_the_services(client, client_class, ann, dan):
    session = signed_in(client_class, dan)
    admin = AdminFactory()
    login_with_second_factor(client, admin)
    done = client.post("/admin/accounts/user/", {"action": "deactivate_access", "_selected_action": [dan.pk, ann.pk]},
                       follow=True)
    assert b"last active partner admin" in done.content  # Ann is kept; Dan is not
    assert refused(session)
    dan.refresh_from_db()
    ann.refresh_from_db()
    assert (dan.access_ended, ann.is_active) == (AccessEnded.DEACTIVATED, True)
    assert AuditEvent.objects.get(action="access.deactivated").actor_id == admin.pk
    client.post("/admin/accounts/user/", {"action": "reactivate_access", "_selected_action": [dan.pk]})
    dan.refresh_from_db()
    assert dan.is_active


def test_the_admin_shows_access_read_only(client, dan):
    login_with_second_factor(client, AdminFactory())
    page = client.get(f"/admin/accounts/user/{dan.pk}/change/").content.decode()
    assert 'name="is_active"' not in page and "Access ended" in page


# --- the role asked for -------------------------------------------------------------------------------------------

def test_the_role_asked_for_on_the_list_is_the_role_the_account_gets(manager):
    reseller = PartnerFactory(slug="resell", kind=PartnerKind.RESELLER, account_manager=manager)
    AgreementFactory(partner=reseller)
    admin = PartnerAdminFactory(partner=reseller)
    portal_request = request_submit(partner=reseller, actor=admin, rows=[
        ("Ada", "ada@resell.example", "partner_admin"), ("Bob", "bob@resell.example", "")])
    request_items_approve(item_ids=portal_request.items.values_list("pk", flat=True), actor=manager)
    roles = dict(User.objects.filter(partner=reseller).exclude(pk=admin.pk).values_list("email", "role"))
    assert roles == {"ada@resell.example": Role.PARTNER_ADMIN, "bob@resell.example": Role.PARTNER_STAFF}


def test_the_request_form_takes_each_persons_role(client, ann, directory):
    client.force_login(ann)
    form = client.get("/partners/acme/requests/new/").content.decode()
    assert 'name="rows-0-role"' in form and 'aria-label="Role of the person in row 1"' in form
    data = {"rows-TOTAL_FORMS": "1", "rows-INITIAL_FORMS": "0", "rows-0-name": "Eve Early",
            "rows-0-email": "eve@acme.example", "rows-0-role": "partner_admin", "submit": "1"}
    assert client.post("/partners/acme/requests/new/", data).status_code == 302
    assert RequestItem.objects.get(email="eve@acme.example").role == Role.PARTNER_ADMIN


# --- authorised signers ---------------------------------------------------------------------------------------------

def test_the_account_manager_makes_a_partner_admin_an_authorised_signer(client, manager, ann, dan, acme):
    client.force_login(manager)
    assert b"Make authorised signer" in client.get(f"/partners/acme/access/{ann.pk}/").content
    assert b"Make authorised signer" not in client.get(f"/partners/acme/access/{dan.pk}/").content  # staff
    response = client.post(f"/partners/acme/access/{ann.pk}/change/", {"action": "make_signer"}, follow=True)
    assert b"may now accept the partner&#x27;s agreements" in response.content
    assert list(acme.authorised_signers.all()) == [ann]
    client.post(f"/partners/acme/access/{ann.pk}/change/", {"action": "unmake_signer"})
    assert not acme.authorised_signers.exists()


def test_a_partner_admin_cannot_make_anyone_an_authorised_signer(client, ann, acme):
    other = PartnerAdminFactory(partner=acme)
    client.force_login(ann)
    assert b"authorised signer" not in client.get(f"/partners/acme/access/{other.pk}/").content
    assert client.post(f"/partners/acme/access/{other.pk}/change/", {"action": "make_signer"}).status_code == 404
    assert not acme.authorised_signers.exists()


# --- what a concurrent change must not undo -------------------------------------------------------------------------

def test_a_new_password_saved_after_a_deactivation_does_not_undo_it(ann, dan):
    as_loaded = User.objects.get(pk=dan.pk)  # the request's user, read before the deactivation commits
    user_deactivate(user=dan, actor=ann)
    form = PortalSetPasswordForm(as_loaded, {"new_password1": "a brand new passphrase 42",
                                             "new_password2": "a brand new passphrase 42"})
    assert form.is_valid()
    form.save()
    dan.refresh_from_db()
    assert (dan.is_active, dan.access_ended) == (False, AccessEnded.DEACTIVATED)
    assert dan.check_password("a brand new passphrase 42")


def test_a_person_asked_for_again_gets_the_role_asked_for_this_time(manager, django_capture_on_commit_callbacks):
    reseller = PartnerFactory(slug="resell", kind=PartnerKind.RESELLER, account_manager=manager)
    AgreementFactory(partner=reseller)
    admin = PartnerAdminFactory(partner=reseller)
    former = PartnerAdminFactory(partner=reseller, display_email="former@resell.example")
    person_remove(user=former, actor=admin)
    portal_request = request_submit(partner=reseller, actor=admin, rows=[("Former", "former@resell.example", "staff")])
    with django_capture_on_commit_callbacks(execute=True):  # its welcome mail goes out
        request_items_approve(item_ids=portal_request.items.values_list("pk", flat=True), actor=manager)
    invite = Invite.objects.get(email="former@resell.example", state__in=OPEN_INVITE_STATES)
    invite_accept(invite=invite, password="a brand new passphrase 42")
    former.refresh_from_db()
    assert (former.is_active, former.access_ended, former.role) == (True, "", Role.PARTNER_STAFF)


def test_a_removed_persons_role_is_not_changed(ann, dan):
    user_remove(user=dan, actor=ann)
    with pytest.raises(AccessRefused, match="was removed already"):
        user_set_role(user=dan, role=Role.PARTNER_ADMIN, actor=ann)


def test_no_one_is_reactivated_whose_address_the_directory_does_not_have(directory, ann, acme):
    gone = UserFactory(partner=acme, display_email="nobody@acme.example")
    user_deactivate(user=gone, actor=ann)
    with pytest.raises(AccessRefused, match="still disabled or removed"):
        user_reactivate(user=gone, actor=ann)


def test_switching_a_partner_off_ends_its_peoples_sessions(client_class, acme, dan):
    session = signed_in(client_class, dan)
    Partner.objects.filter(pk=acme.pk).update(is_active=False)
    assert refused(session)


def test_a_partner_persons_role_is_changed_on_the_people_page_not_in_the_admin(client, dan):
    login_with_second_factor(client, AdminFactory())
    page = client.get(f"/admin/accounts/user/{dan.pk}/change/").content.decode()
    assert 'name="role"' not in page and 'name="partner"' not in page
