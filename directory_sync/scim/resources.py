"""The SCIM resources the portal serves (scim2-models): its User with the portal's extension, and the discovery
documents (ServiceProviderConfig, ResourceTypes, Schemas). Also the mapping between a SCIM User and the portal's
record of a person (services.scim.ScimRecord, models.ScimIdentity)."""

from typing import Union

from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    EnterpriseUser,
    ETag,
    Extension,
    Filter,
    Meta,
    Name,
    Patch,
    ResourceType,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    User,
)

from directory_sync.models import AddressKind, DirectoryUserStatus, ScimIdentity
from directory_sync.services.scim import ScimRecord

EXTENSION_URN = "urn:ietf:params:scim:schemas:extension:partnerportal:2.0:User"
MAX_RESULTS = 500
DEFAULT_COUNT = 100


class PartnerPortalUser(Extension):
    """The portal's extension of User: what the core schema has no place for."""

    __schema__ = URN(EXTENSION_URN)

    forwarding: list[str] | None = None
    """Forwarding addresses of the person: they receive mail but never sign in (R7)."""


# The enterprise extension is accepted (Entra ID and Okta send it when it is mapped) and ignored.
PortalUser = User[Union[PartnerPortalUser, EnterpriseUser]]  # noqa: UP007 - scim2-models reads a typing.Union


# What identity providers send beyond the strict reading of the RFCs, accepted (scim2-models' policy): attributes
# and extensions the portal does not keep are ignored (Okta's and Entra ID's custom mappings); a `remove` whose value
# names what to remove, and an `add` or `replace` at a filter matching no entry (`emails[type eq "work"].value` of a
# person without one) creates it, as Microsoft Entra ID expects.
PROVIDER_POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


def service_provider_config(*, base_url: str) -> ServiceProviderConfig:
    """What this service provider supports (RFC 7643 §5)."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type="oauthbearertoken", name="Bearer token", primary=True,
            description="The connection's SCIM token, made in the portal's admin (Directory connections).",
        )],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base_url}/ServiceProviderConfig"),
    )


def user_resource_type(*, base_url: str) -> ResourceType:
    resource_type = ResourceType.from_resource(PortalUser)
    resource_type.meta = Meta(resource_type="ResourceType", location=f"{base_url}/ResourceTypes/User")
    return resource_type


def schemas(*, base_url: str) -> dict[str, object]:
    """The Schema documents by id: the core User and its two extensions (the portal's, and the enterprise one)."""
    result = {}
    for model in (User, PartnerPortalUser, EnterpriseUser):
        schema = model.to_schema()
        schema.meta = Meta(resource_type="Schema", location=f"{base_url}/Schemas/{schema.id}")
        result[schema.id] = schema
    return result


def record_of(user: User) -> ScimRecord:
    """The portal's record of a SCIM User: the primary address is the email marked primary (else the first work
    one, else the first, else the userName); the other emails are aliases; forwarding comes from the extension."""
    emails = [e for e in user.emails or [] if e.value]
    primary = next((e for e in emails if e.primary), None) or next(
        (e for e in emails if str(e.type or "") == "work"), None) or (emails[0] if emails else None)
    extension = user[PartnerPortalUser] if user[PartnerPortalUser] is not None else None
    name = user.name or Name()
    display = user.display_name or name.formatted or " ".join(p for p in (name.given_name, name.family_name) if p)
    return ScimRecord(
        user_name=user.user_name or "", external_id=user.external_id or "", display_name=display or "",
        given_name=name.given_name or "", family_name=name.family_name or "",
        active=True if user.active is None else bool(user.active),
        primary=str(primary.value) if primary else "",
        aliases=[str(e.value) for e in emails if e is not primary],
        forwarding=list(extension.forwarding or []) if extension else [],
    )


def user_of(identity: ScimIdentity, *, base_url: str) -> User:
    """The SCIM User of a provisioned person (their addresses prefetched)."""
    person = identity.directory_user
    addresses = sorted(person.addresses.all(), key=lambda a: (a.kind != AddressKind.PRIMARY, a.address))
    emails = [Email(value=a.display_address, type="work" if a.kind == AddressKind.PRIMARY else "other",
                    primary=a.kind == AddressKind.PRIMARY)
              for a in addresses if a.kind != AddressKind.FORWARDING]
    forwarding = [a.display_address for a in addresses if a.kind == AddressKind.FORWARDING]
    user = PortalUser(
        id=str(identity.scim_id), external_id=identity.external_id or None, user_name=identity.display_user_name,
        display_name=person.display_name or None,
        name=Name(given_name=identity.given_name or None, family_name=identity.family_name or None,
                  formatted=person.display_name or None),
        active=person.status == DirectoryUserStatus.ACTIVE, emails=emails or None,
        meta=Meta(resource_type="User", created=identity.created_at, last_modified=identity.updated_at,
                  location=f"{base_url}/Users/{identity.scim_id}"),
    )
    if forwarding:
        user[PartnerPortalUser] = PartnerPortalUser(forwarding=forwarding)
    return user
