"""The API through a real HTTP client (requests) against the live server: every successful answer is checked
against the OpenAPI document the portal serves, every error is an RFC 9457 problem-details body."""

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from accounts.models import ApiTokenScope
from accounts.services.api_tokens import api_token_create

PROBLEM_KEYS = {"type", "title", "status", "detail"}


class Api:
    """A client of /api/v1/ with one token (or none)."""

    def __init__(self, url: str, openapi: OpenAPI, token: str | None):
        self.url, self.openapi = url, openapi
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, *, headers: dict | None = None, **kwargs) -> requests.Response:
        response = self.session.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=60, **kwargs)
        if response.status_code < 400:
            self.openapi.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
        else:
            assert response.headers["Content-Type"].startswith("application/problem+json"), response.text
            body = response.json()
            assert set(body) >= PROBLEM_KEYS and body["status"] == response.status_code, body
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture(scope="session")
def openapi(live_server) -> OpenAPI:
    """The OpenAPI document the portal serves (checked as valid OpenAPI 3 on loading)."""
    response = requests.get(f"{live_server.url}/api/v1/schema/", params={"format": "json"}, timeout=60)
    response.raise_for_status()
    return OpenAPI.from_dict(response.json())


def token_for(user, *, scope: str = ApiTokenScope.WRITE, days: int = 30) -> str:
    _token, raw = api_token_create(user=user, name="tests", scope=scope, days=days, actor=user)
    return raw


@pytest.fixture
def api_as(live_server, openapi):
    """api_as(user, scope=…) -> an Api with a new token of `user`; api_as(None) -> one without a token."""

    def make(user, *, scope: str = ApiTokenScope.WRITE) -> Api:
        return Api(live_server.url, openapi, token_for(user, scope=scope) if user is not None else None)

    return make
