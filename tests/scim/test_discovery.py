"""The discovery documents (RFC 7644 §4): a client that knows nothing of the portal learns its User, the portal's
extension and what it supports, and then provisions with what it learnt."""

import pytest
from scim2_models import ResourceType, Schema, ServiceProviderConfig

from directory_sync.models import DirectoryAddress
from directory_sync.scim.resources import EXTENSION_URN
from tests.scim.conftest import scim_client

pytestmark = pytest.mark.django_db(transaction=True)

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_service_provider_config_says_patch_and_filter_yes_bulk_sort_and_etags_no(scim):
    config = scim.query(ServiceProviderConfig)

    assert config.patch.supported and config.filter.supported and config.filter.max_results == 500
    assert not config.bulk.supported and not config.sort.supported and not config.etag.supported
    assert [s.type for s in config.authentication_schemes] == ["oauthbearertoken"]


def test_resource_types_and_schemas_describe_the_user_with_the_portals_extension(scim):
    [user_type] = scim.query(ResourceType).resources
    schemas = {s.id: s for s in scim.query(Schema).resources}

    assert (user_type.id, user_type.endpoint, user_type.schema_) == ("User", "/Users", CORE_USER)
    assert [e.schema_ for e in user_type.schema_extensions] == [EXTENSION_URN, ENTERPRISE]
    assert set(schemas) == {CORE_USER, EXTENSION_URN, ENTERPRISE}
    assert [a.name for a in schemas[EXTENSION_URN].attributes] == ["forwarding"]
    assert scim.client.get(f"/Schemas/{EXTENSION_URN}").json()["id"] == EXTENSION_URN
    assert scim.client.get("/ResourceTypes/User").json()["endpoint"] == "/Users"
    assert scim.client.get("/Schemas/urn:nothing").status_code == 404


def test_a_client_that_discovers_the_service_provisions_with_the_models_it_built(live_server, account):
    client = scim_client(live_server, account[1], provider=None)

    client.discover()
    user_model = client.get_resource_model("User")
    created = client.create(user_model(user_name="dora@cloud.example", emails=[
        {"value": "dora@cloud.example", "primary": True}]))

    assert created.id
    assert DirectoryAddress.objects.filter(address="dora@cloud.example").exists()


def test_an_endpoint_the_portal_does_not_serve_is_a_scim_404_after_the_token(scim, live_server):
    answer = scim.client.get("/Groups")

    assert answer.status_code == 404 and answer.headers["Content-Type"] == "application/scim+json"
    assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert scim_client(live_server, None).client.get("/Groups").status_code == 401
