"""SCIM filters (RFC 7644 §3.4.2.2) as database conditions, with scim2-filter-parser's grammar and Django transpiler.

Equality on userName, emails and id is made exact on the normalised stored value (the indexes serve it) instead of
the transpiler's case-insensitive `iexact`. A filter naming an attribute the portal does not keep is refused
(invalidFilter), never read as "no condition".
"""

import uuid

from django.db.models import Q
from django.utils.translation import gettext as _
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser
from scim2_filter_parser.transpilers.django_q_object import Transpiler

from core.emails import InvalidEmail, normalize_email

ADDRESS = "directory_user__addresses__address"
# (attribute, sub-attribute, schema URN) -> field of ScimIdentity, as the transpiler takes them.
ATTRIBUTES = {
    ("id", None, None): "scim_id",
    ("userName", None, None): "user_name",
    ("externalId", None, None): "external_id",
    ("displayName", None, None): "directory_user__display_name",
    ("emails", None, None): ADDRESS,
    ("emails", "value", None): ADDRESS,
    ("name", "givenName", None): "given_name",
    ("name", "familyName", None): "family_name",
}
CORE = "urn:ietf:params:scim:schemas:core:2.0:user"


class InvalidFilter(ValueError):
    """A filter the portal cannot read, or that names an attribute it does not keep."""


class _Transpiler(Transpiler):
    def visit_AttrPath(self, node):
        uri = (node.uri or "").lower()
        key = (node.attr_name.lower(), node.sub_attr.value.lower() if node.sub_attr else None, None)
        field = self.attr_map.get(key) if uri in ("", CORE) else None
        if field is None:
            raise InvalidFilter(_("The filter names an attribute the portal does not keep: {name}").format(
                name=node.attr_name))
        return field


def _exact(child):
    """An equality on a normalised field, made exact (an index can answer it)."""
    if isinstance(child, Q):
        clone = Q(*[_exact(c) for c in child.children], _connector=child.connector, _negated=child.negated)
        return clone
    key, value = child
    field, _sep, lookup = key.rpartition("__")
    if lookup != "iexact" or not isinstance(value, str):
        return child
    if field == ADDRESS:
        try:
            return (field, normalize_email(value))
        except InvalidEmail:
            return (field, value.lower())
    if field == "user_name":
        return (field, value.lower())
    if field == "scim_id":
        try:
            return (field, uuid.UUID(value))
        except ValueError:
            return ("pk__in", [])
    if field == "external_id":
        return (field, value)  # externalId is case exact (RFC 7643 §3.1)
    return child


def filter_condition(text: str) -> Q:
    """The condition on ScimIdentity a SCIM filter stands for; InvalidFilter when it cannot be read."""
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(text))
        condition = _Transpiler(ATTRIBUTES).transpile(tree)
    except InvalidFilter:
        raise
    except Exception as exc:  # the parser's errors are of several kinds (sly's, ValueError, AttributeError)
        raise InvalidFilter(_("The filter cannot be read: {detail}").format(detail=exc)) from None
    if not isinstance(condition, Q):
        raise InvalidFilter(_("The filter cannot be read: {detail}").format(detail=text))
    return _exact(condition)
