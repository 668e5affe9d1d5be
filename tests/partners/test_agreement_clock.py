"""Whether an agreement is current is decided on the portal's clock (TIME_ZONE), never the viewer's: a person whose
zone is a day ahead sees the same answer as the workers that send reminders and block requests."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from partners.models import Agreement
from partners.selectors import current_agreement
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

NOON_UTC = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)  # already 30 November in Kiritimati


@time_machine.travel(NOON_UTC, tick=False)
def test_an_agreement_valid_until_today_is_current_in_every_viewers_zone():
    partner = PartnerFactory()
    AgreementFactory(partner=partner, valid_until=datetime.date(2026, 11, 29))
    for zone in ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        with timezone.override(zone):
            assert current_agreement(partner=partner) is not None, zone
            assert Agreement.objects.get(partner=partner).is_current(), zone
