"""A person's time zone: chosen on the security page, proposed once by the browser while none is chosen; every
page of theirs shows times in it, with the zone named; the zone never outlives their request."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.services.profile import user_time_zone_propose, user_time_zone_set
from core.models import AuditEvent
from core.timezones import INVALID_TIME_ZONE
from tests.accounts.factories import PartnerAdminFactory, UserFactory

pytestmark = pytest.mark.django_db

SECURITY = reverse("accounts:security")
CHOOSE = reverse("accounts:time_zone")
PROPOSE = reverse("accounts:time_zone_propose")
NOW = datetime.datetime(2026, 11, 29, 2, 7, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


def test_a_time_zone_is_an_iana_name_or_blank():
    user = UserFactory(time_zone="")
    user.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError) as raised:
        user.full_clean(exclude=["password"])
    assert raised.value.message_dict["time_zone"] == [str(INVALID_TIME_ZONE)]
    user.time_zone = "Europe/Berlin"
    user.full_clean(exclude=["password"])


def test_the_security_page_offers_the_zones_with_the_persons_own_chosen(client):
    user = UserFactory(time_zone="Asia/Tokyo")
    client.force_login(user)
    page = client.get(SECURITY).content.decode()
    assert '<label for="id_time_zone">Time zone</label>' in page
    assert '<optgroup label="Europe">' in page
    assert '<option value="Asia/Tokyo" selected>Tokyo (UTC+09:00)</option>' in page
    assert 'aria-describedby="id_time_zone_helptext"' in page


def test_a_person_without_a_zone_is_told_times_are_in_utc(client):
    client.force_login(UserFactory(time_zone=""))
    page = client.get(SECURITY).content.decode()
    assert '<option value="UTC" selected>UTC</option>' in page
    assert "You have not chosen one yet: times are shown in UTC." in page
    assert "Times are shown in UTC." in page


def test_choosing_a_zone_saves_it_audited_and_says_so(client):
    user = UserFactory(time_zone="")
    client.force_login(user)
    response = client.post(CHOOSE, {"time_zone": "America/New_York"}, follow=True)
    assert response.redirect_chain == [(SECURITY, 302)]
    user.refresh_from_db()
    assert user.time_zone == "America/New_York"
    assert "Times are now shown in America/New_York." in response.content.decode()
    assert "Times are shown in America/New_York." in response.content.decode()
    event = AuditEvent.objects.get(action="user.time_zone_changed")
    assert (event.actor, event.data) == (user, {"from": "", "to": "America/New_York"})


def test_a_zone_that_is_not_one_changes_nothing_and_is_shown_at_the_field(client):
    user = UserFactory(time_zone="Europe/Berlin")
    client.force_login(user)
    response = client.post(CHOOSE, {"time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'aria-invalid="true"' in page and "Select a valid choice." in page
    user.refresh_from_db()
    assert user.time_zone == "Europe/Berlin"
    assert not AuditEvent.objects.filter(action="user.time_zone_changed").exists()


def test_choosing_the_same_zone_again_records_nothing():
    user = UserFactory(time_zone="Europe/Berlin")
    user_time_zone_set(user=user, time_zone="Europe/Berlin", actor=user)
    assert not AuditEvent.objects.filter(action="user.time_zone_changed").exists()


def test_the_browsers_zone_is_kept_while_the_person_has_none_and_audited(client):
    user = UserFactory(time_zone="")
    client.force_login(user)
    response = client.post(PROPOSE, {"time_zone": "Europe/Vienna"})
    assert response.json() == {"kept": True, "time_zone": "Europe/Vienna"}
    user.refresh_from_db()
    assert user.time_zone == "Europe/Vienna"
    assert AuditEvent.objects.get(action="user.time_zone_proposed").data == {"to": "Europe/Vienna"}


def test_a_proposal_never_overrides_a_choice(client):
    user = UserFactory(time_zone="Asia/Tokyo")
    client.force_login(user)
    assert client.post(PROPOSE, {"time_zone": "Europe/Vienna"}).json() == {"kept": False, "time_zone": "Asia/Tokyo"}
    user.refresh_from_db()
    assert user.time_zone == "Asia/Tokyo"
    assert not AuditEvent.objects.filter(action="user.time_zone_proposed").exists()


@pytest.mark.parametrize("zone", ["", "Mars/Olympus", "Factory", "x" * 200])
def test_a_proposal_that_is_no_zone_is_ignored(zone):
    user = UserFactory(time_zone="")
    assert user_time_zone_propose(user=user, time_zone=zone) is False
    user.refresh_from_db()
    assert user.time_zone == ""


def test_proposing_needs_a_signed_in_person_a_post_and_the_csrf_token():
    assert Client().post(PROPOSE, {"time_zone": "Europe/Vienna"}).status_code == 302  # to sign-in
    user = UserFactory(time_zone="")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get(PROPOSE).status_code == 405
    assert browser.post(PROPOSE, {"time_zone": "Europe/Vienna"}).status_code == 403
    user.refresh_from_db()
    assert user.time_zone == ""


def test_the_proposing_script_is_on_pages_only_while_no_zone_is_chosen(client):
    user = UserFactory(time_zone="")
    client.force_login(user)
    page = client.get(SECURITY).content.decode()
    assert 'src="/static/js/time-zone.js"' in page and f'data-url="{PROPOSE}"' in page
    assert "data-csrf-token=" in page
    user.time_zone = "Europe/Berlin"
    user.save(update_fields=["time_zone"])
    page = client.get(SECURITY).content.decode()
    assert "time-zone.js" not in page
    assert "Times are shown in Europe/Berlin." in page
    assert f'href="{SECURITY}#time-zone"' in page


def test_a_signed_out_page_has_no_note_and_no_script():
    page = Client().get(reverse("accounts:login")).content.decode()
    assert "time-zone-note" not in page and "time-zone.js" not in page


def test_pages_show_times_in_the_viewers_zone_with_its_name_and_the_zone_ends_with_the_request(client):
    viewer = PartnerAdminFactory(time_zone="Europe/Berlin")
    PartnerAdminFactory(partner=viewer.partner, full_name="Kim Lee",
                        last_login=datetime.datetime(2026, 11, 1, 10, 0, tzinfo=datetime.UTC))
    client.force_login(viewer)
    page = client.get(reverse("onboarding:people", args=[viewer.partner.slug])).content.decode()
    assert '<time datetime="2026-11-01T11:00:00+01:00">2026-11-01 11:00 CET</time>' in page
    assert timezone.get_current_timezone_name() == "UTC"


def test_a_recent_time_reads_relative_with_the_exact_time_at_hand(client):
    viewer = PartnerAdminFactory(time_zone="America/Los_Angeles")
    PartnerAdminFactory(partner=viewer.partner, last_login=NOW - datetime.timedelta(hours=3))
    client.force_login(viewer)
    page = client.get(reverse("onboarding:people", args=[viewer.partner.slug])).content.decode()
    assert 'title="2026-11-28 15:07 PST">3\xa0hours\xa0ago</time>' in page
