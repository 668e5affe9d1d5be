"""SCIM through scim2-client against the live server, as an identity provider's provisioning service calls it.

scim2-client's own network engine speaks httpx2; the suite's HTTP client is httpx, whose Client has the same
calls, so `HttpxScimClient` is that engine on an httpx.Client (the base-URL check rebuilt on httpx's URL)."""

from typing import Any

import httpx
import pytest
from scim2_client.client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException
from scim2_models import EnterpriseUser, ResourceType, ScimProvider, User

from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.scim.resources import PartnerPortalUser, PortalUser
from directory_sync.services.scim import scim_token_new
from partners.models import PartnerKind
from tests.partners.factories import AgreementFactory, PartnerFactory


class HttpxScimClient(BaseSyncSCIMClient):
    """scim2-client's synchronous client over an httpx.Client."""

    def __init__(self, client: httpx.Client, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) and \
            url.raw_path.startswith(base.raw_path)

    def _parse_json(self, response):
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            raise RequestNetworkException() from exc


PROVIDER = ScimProvider(models=[User, PartnerPortalUser, EnterpriseUser],
                        resource_types=[ResourceType.from_resource(PortalUser)])


def http_for(live_server, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{live_server.url}/scim/v2", headers=headers, timeout=60)


def scim_client(live_server, token: str | None, *, provider: ScimProvider | None = PROVIDER) -> HttpxScimClient:
    return HttpxScimClient(http_for(live_server, token), provider=provider)


def scim_account(name: str = "Cloud MSP", *, brake: int = 10):
    """An MSP partner (agreement signed) whose people come by SCIM, and its connection's token."""
    partner = PartnerFactory(name=name, kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.SCIM,
                                                    removal_brake_percent=brake)
    return connection, scim_token_new(connection=connection, actor=None)


@pytest.fixture
def account():
    return scim_account()


@pytest.fixture
def scim(live_server, account) -> HttpxScimClient:
    _connection, token = account
    return scim_client(live_server, token)


@pytest.fixture
def http(live_server, account) -> httpx.Client:
    """Raw requests with the account's token (what a provider sends that a client library would not)."""
    return http_for(live_server, account[1])
