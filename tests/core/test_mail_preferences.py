"""Who wants which optional mail: each kind's default, a person's choice, one query for a batch of recipients,
and the "Mail I receive" page reached from the security page."""

import pytest
from django.urls import reverse

from core.mail import (
    MAIL_KINDS,
    mail_kind_recipients,
    mail_kinds_offered,
    mail_preferences_of,
    mail_preferences_set,
)
from core.models import AuditEvent, MailPreference
from onboarding.services.decision_mail import REQUEST_DECIDED
from onboarding.services.invites.notices import INVITE_FAILED, PERSON_ACCEPTED
from onboarding.services.review import REQUEST_EXPIRED
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("accounts:notifications")


def test_the_kinds_are_declared_where_they_are_sent_and_on_by_default():
    assert {REQUEST_DECIDED.key, REQUEST_EXPIRED.key, PERSON_ACCEPTED.key, INVITE_FAILED.key} <= set(MAIL_KINDS)
    assert all(kind.default for kind in (REQUEST_DECIDED, REQUEST_EXPIRED, PERSON_ACCEPTED, INVITE_FAILED))


def test_each_role_is_offered_only_the_mails_it_can_get():
    keys = lambda user: [kind.key for kind in mail_kinds_offered(user=user)]  # noqa: E731
    assert keys(AccountManagerFactory.build()) == [REQUEST_DECIDED.key, REQUEST_EXPIRED.key, PERSON_ACCEPTED.key,
                                                    INVITE_FAILED.key]
    assert keys(PartnerAdminFactory.build()) == [REQUEST_DECIDED.key, REQUEST_EXPIRED.key, PERSON_ACCEPTED.key]
    assert keys(UserFactory.build()) == []


def test_recipients_get_the_default_unless_they_chose_and_inactive_people_get_nothing(django_assert_num_queries):
    wanting, declined, gone = PartnerAdminFactory(), PartnerAdminFactory(), PartnerAdminFactory(is_active=False)
    mail_preferences_set(user=declined, enabled={PERSON_ACCEPTED.key: False}, actor=declined)
    with django_assert_num_queries(1):
        chosen = mail_kind_recipients(kind=PERSON_ACCEPTED, users=[wanting, declined, gone, None, wanting])
    assert chosen == [wanting]


def test_a_batch_of_recipients_costs_one_query_whatever_its_size(django_assert_num_queries):
    for size in (2, 20):
        people = PartnerAdminFactory.create_batch(size)
        with django_assert_num_queries(1):
            assert len(mail_kind_recipients(kind=REQUEST_DECIDED, users=people)) == size


def test_choices_are_recorded_once_per_kind_audited_and_only_for_offered_kinds():
    admin = PartnerAdminFactory()
    mail_preferences_set(user=admin, enabled={PERSON_ACCEPTED.key: False, INVITE_FAILED.key: False,
                                              "password_changed": False}, actor=admin)
    mail_preferences_set(user=admin, enabled={PERSON_ACCEPTED.key: False}, actor=admin)  # no change: no event
    mail_preferences_set(user=admin, enabled={PERSON_ACCEPTED.key: True}, actor=admin)
    assert list(MailPreference.objects.filter(user=admin).values_list("kind", "enabled")) == [
        (PERSON_ACCEPTED.key, True)]
    events = AuditEvent.objects.filter(action="mail.preferences_changed", target_id=str(admin.pk)).order_by("id")
    assert [event.data for event in events] == [{PERSON_ACCEPTED.key: False}, {PERSON_ACCEPTED.key: True}]
    assert mail_preferences_of(user=admin)[PERSON_ACCEPTED.key] is True


# --- the page ---------------------------------------------------------------------------------------------------------


def test_the_security_page_links_to_the_mail_choices(client):
    user = PartnerAdminFactory()
    client.force_login(user)
    assert f'href="{PAGE}"' in client.get(reverse("accounts:security")).content.decode()


def test_the_page_shows_each_offered_mail_ticked_by_default_and_saves_the_choice(client):
    manager = AccountManagerFactory()
    client.force_login(manager)
    page = client.get(PAGE).content.decode()
    for key in (REQUEST_DECIDED.key, REQUEST_EXPIRED.key, PERSON_ACCEPTED.key, INVITE_FAILED.key):
        assert f'name="{key}"' in page
    assert page.count("checked") == 4
    assert "Security notices" in page and "always go out" in page
    # Unticked boxes are not posted: those mails are turned off.
    response = client.post(PAGE, {REQUEST_DECIDED.key: "on", PERSON_ACCEPTED.key: "on"}, follow=True)
    assert "Your mail choices are saved." in [str(m) for m in response.context["messages"]]
    assert mail_preferences_of(user=manager) == {REQUEST_DECIDED.key: True, REQUEST_EXPIRED.key: False,
                                                 PERSON_ACCEPTED.key: True, INVITE_FAILED.key: False}
    assert response.content.decode().count("checked") == 2


def test_partner_staff_have_no_optional_mails(client):
    client.force_login(UserFactory())
    page = client.get(PAGE).content.decode()
    assert "There are no optional mails for your role." in page
    assert f'name="{REQUEST_DECIDED.key}"' not in page


def test_the_page_needs_a_signed_in_person(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]
