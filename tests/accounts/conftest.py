"""Fixtures for the sign-in tests: a real OpenID Connect provider and a real SMTP server.

`oidc_provider` is one IdP for the whole session (starting it takes about two seconds), holding `SSO_USERS`
of tests/oidc.py: alice (verified), unverified (email_verified false), alias (alias.alice@…, an alias
address of alice's) and bob (Bob.Mixed@Partner-SSO.example, mixed case). Tests that need another user add
one with `oidc_provider.add_user(...)` under a new username rather than changing these.
"""

from collections.abc import Iterator

import pytest

from tests.mail import MailServer
from tests.oidc import SSO_USERS, OidcProvider


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    provider = OidcProvider().start(tmp_path_factory.mktemp("oidc-idp"), SSO_USERS)
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """A fresh SMTP server per test (starting one takes milliseconds); `mail_server.use(settings)` to send to it."""
    with MailServer() as server:
        yield server


@pytest.fixture(scope="session")
def mail_server_session() -> Iterator[MailServer]:
    """One SMTP server for the session, e.g. for a Celery worker started once; `clear()` it before use."""
    with MailServer() as server:
        yield server
