"""Fixtures of the SAML tests (the flow and its setup are in saml_flow.py)."""

import pytest
from django.core.cache import cache

from tests.accounts.factories import UserFactory
from tests.saml.saml_flow import ANN, PORTAL, saml_partner


@pytest.fixture
def idp(saml_idp, settings):
    """The session's identity provider, reset; the portal's address as the test client's."""
    settings.PORTAL_URL = PORTAL
    saml_idp.reset()
    cache.clear()
    yield saml_idp
    saml_idp.reset()
    cache.clear()


@pytest.fixture
def partner(idp):
    return saml_partner(idp)


@pytest.fixture
def ann(partner):
    return UserFactory(partner=partner, display_email=ANN, full_name="Ann Partner")

