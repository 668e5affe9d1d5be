"""Times for people: in the zone in use, the zone named, relative within a week of now, dates kept as dates; and
rendering in someone else's zone (a mail's recipient)."""

import datetime

import pytest
from django.template import Context, Template
from django.utils import timezone

from core.templatetags.times import relative_time
from core.timezones import (
    in_recipient_time_zone,
    is_valid_time_zone,
    override_time_zone,
    portal_today,
    recipient_time_zone,
    time_zone_choices,
    utc_offset,
)

NOW = datetime.datetime(2026, 11, 29, 2, 7, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


def draw(source: str, **context) -> str:
    return Template("{% load times %}" + source).render(Context(context)).replace("\xa0", " ")


def test_a_time_beyond_a_week_is_absolute_in_the_zone_in_use_with_the_zone_named():
    value = NOW + datetime.timedelta(days=21)
    with override_time_zone("Europe/Berlin"):
        assert draw("{{ v|when }}", v=value) == '<time datetime="2026-12-20T03:07:00+01:00">2026-12-20 03:07 CET</time>'


def test_without_a_zone_times_are_utc_and_say_so():
    assert draw("{{ v|when }}", v=NOW - datetime.timedelta(days=30)) == \
        '<time datetime="2026-10-30T02:07:00+00:00">2026-10-30 02:07 UTC</time>'


def test_a_time_within_a_week_is_relative_with_the_absolute_time_as_its_title():
    with override_time_zone("America/New_York"):
        assert draw("{{ v|when }}", v=NOW + datetime.timedelta(days=3, hours=2)) == (
            '<time datetime="2026-12-01T23:07:00-05:00" title="2026-12-01 23:07 EST">in 3 days</time>')
        assert draw("{{ v|when }}", v=NOW - datetime.timedelta(hours=2, minutes=5)) == (
            '<time datetime="2026-11-28T19:02:00-05:00" title="2026-11-28 19:02 EST">2 hours ago</time>')


@pytest.mark.parametrize(("delta", "text"), [
    (datetime.timedelta(seconds=20), "just now"),
    (datetime.timedelta(seconds=-20), "just now"),
    (datetime.timedelta(minutes=1), "in 1 minute"),
    (datetime.timedelta(minutes=-5), "5 minutes ago"),
    (datetime.timedelta(days=-1, hours=-3), "1 day ago"),
])
def test_relative_times_name_the_largest_whole_unit(delta, text):
    assert relative_time(NOW + delta, now=NOW).replace("\xa0", " ") == text


def test_absolute_mode_never_goes_relative():
    with override_time_zone("Asia/Tokyo"):
        assert draw('{{ v|when:"absolute" }}', v=NOW - datetime.timedelta(hours=1)) == \
            '<time datetime="2026-11-29T10:07:00+09:00">2026-11-29 10:07 JST</time>'


def test_a_zone_without_an_abbreviation_is_named_by_its_offset():
    with override_time_zone("America/Sao_Paulo"):
        assert draw("{{ v|local_time }}", v=NOW) == "2026-11-28 23:07 UTC-03"


def test_nothing_is_drawn_for_no_time_so_a_default_shows():
    assert draw('{{ v|when|default:"never" }}', v=None) == "never"
    assert draw("{{ v|local_time }}", v=None) == ""


def test_a_date_stays_a_date():
    assert draw("{{ v|when }}", v=datetime.date(2026, 12, 24)) == '<time datetime="2026-12-24">2026-12-24</time>'


def test_a_date_of_a_time_is_the_date_in_the_zone_in_use():
    with override_time_zone("Pacific/Auckland"):
        assert draw('{{ v|date:"Y-m-d" }}', v=NOW + datetime.timedelta(hours=20)) == "2026-11-30"


def test_the_plain_text_form_has_no_markup_for_mail_bodies():
    with override_time_zone("Europe/Berlin"):
        assert draw("{{ v|local_time }}", v=NOW) == "2026-11-29 03:07 CET"


def test_override_restores_the_zone_that_was_active_and_ignores_a_name_that_is_no_zone():
    with override_time_zone("Europe/Berlin"):
        with override_time_zone("Not/AZone"):
            assert timezone.get_current_timezone_name() == "UTC"
        assert timezone.get_current_timezone_name() == "Europe/Berlin"
    assert timezone.get_current_timezone_name() == "UTC"


def test_rules_keep_the_portals_today_whoever_looks(time_machine):
    time_machine.move_to(NOW + datetime.timedelta(hours=12), tick=False)  # 14:07 UTC: the 30th in UTC+14
    with override_time_zone("Pacific/Kiritimati"):
        assert timezone.localdate() == datetime.date(2026, 11, 30)
        assert portal_today() == datetime.date(2026, 11, 29)


def test_zones_are_iana_names_and_the_choice_groups_them_by_area():
    assert is_valid_time_zone("Europe/Berlin") and is_valid_time_zone("UTC") and is_valid_time_zone("US/Eastern")
    assert not is_valid_time_zone("Factory") and not is_valid_time_zone("Mars/Olympus") and not is_valid_time_zone("")
    choices = time_zone_choices()
    assert choices[0] == ("UTC", "UTC")
    groups = dict(choices[1:])
    assert ("Europe/Berlin", "Berlin (UTC+01:00)") in groups["Europe"]
    assert ("America/Argentina/Buenos_Aires", "Argentina/Buenos Aires (UTC-03:00)") in groups["America"]
    assert "US/Eastern" not in {name for _area, places in choices[1:] for name, _label in places}  # a legacy
    assert "US/Eastern" in dict(dict(time_zone_choices(current="US/Eastern")[1:])["Other"])  # name, listed if held
    assert utc_offset("Asia/Kolkata") == "UTC+05:30"


@pytest.mark.django_db
def test_a_mail_is_drawn_in_its_recipients_zone_and_in_utc_for_someone_unknown():
    from tests.accounts.factories import UserFactory

    UserFactory(display_email="Kim@Partner.example", time_zone="Australia/Sydney")
    assert recipient_time_zone("kim@partner.EXAMPLE") == "Australia/Sydney"
    with in_recipient_time_zone("Kim@partner.example") as zone:
        assert zone == "Australia/Sydney"
        assert draw("{{ v|local_time }}", v=NOW) == "2026-11-29 13:07 AEDT"
    with in_recipient_time_zone("nobody@elsewhere.example") as zone:
        assert zone == "UTC"
    assert recipient_time_zone("not an address") == ""
