"""Reading a directory: connect (StartTLS or LDAPS, optional CA), bind, and stream a paged search.

The connection's set-up (`connection_options`, `uses_start_tls`) is the one every handle to an
account's directory gets, the sync's and the one that binds as a person.

Pages come from a reader thread while the caller writes the previous page: python-ldap
releases the GIL while it waits for the server, so reading and writing overlap. At most
`PREFETCH` pages are held, so memory is bounded by the page size, not the directory's size.
"""

import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import ldap
from ldap.controls import SimplePagedResultsControl
from ldap.filter import escape_filter_chars

from directory_sync.errors import (
    DIRECTORY_UNAVAILABLE,
    INVALID_CREDENTIALS,
    INVALID_FILTER,
    NO_SUCH_BASE_DN,
    TLS_FAILED,
    TLS_UNVERIFIED,
    DirectoryError,
    DirectoryUnavailable,
)
from directory_sync.mapping import resolve_mapping
from directory_sync.models import DirectoryConnection
from directory_sync.vendors import vendor_for

PREFETCH = 2
NETWORK_TIMEOUT = 10  # seconds to connect
OPERATION_TIMEOUT = 120  # seconds for one page

Entry = tuple[str, dict[str, list[bytes]]]

_TRANSIENT = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.UNAVAILABLE, ldap.BUSY, ldap.TIMELIMIT_EXCEEDED)


def describe(exc: ldap.LDAPError) -> str:
    """A one-line message from python-ldap's dict-shaped errors."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    parts = [info.get("desc") or exc.__class__.__name__, info.get("info") or ""]
    return ": ".join(p for p in parts if p)


def translate(exc: ldap.LDAPError) -> DirectoryError:
    """Map a python-ldap error to the portal's two kinds: transient or not."""
    if isinstance(exc, _TRANSIENT):
        return DirectoryUnavailable(DIRECTORY_UNAVAILABLE.format(detail=describe(exc)))
    if isinstance(exc, ldap.INVALID_CREDENTIALS):
        return DirectoryError(INVALID_CREDENTIALS)
    if isinstance(exc, ldap.NO_SUCH_OBJECT):
        return DirectoryError(NO_SUCH_BASE_DN.format(detail=describe(exc)))
    if isinstance(exc, ldap.FILTER_ERROR):
        return DirectoryError(INVALID_FILTER)
    return DirectoryError(describe(exc))


def tls_failure(diagnostic: str) -> DirectoryError:
    """The TLS handshake failed: the directory is reachable, and retrying will not help until someone fixes the
    certificate or the CA configured for it."""
    # libldap's own certificate checks (chain, host name) fail with -1, which GnuTLS words "(unknown error code)";
    # other failures carry the TLS library's reason.
    unknown = diagnostic.strip() in ("", "(unknown error code)")
    return DirectoryError(TLS_FAILED.format(reason=TLS_UNVERIFIED if unknown else diagnostic.strip().rstrip(".")))


def uses_ldaps(connection: DirectoryConnection) -> bool:
    """An ldaps:// URI: TLS from the first byte, the handshake happens at the first operation (the bind)."""
    return connection.uri.lower().startswith("ldaps://")


def uses_start_tls(connection: DirectoryConnection) -> bool:
    """StartTLS upgrades a plain connection; an ldaps:// one is encrypted already, whatever its start_tls says."""
    return connection.start_tls and not uses_ldaps(connection)


@contextmanager
def connection_options(
    connection: DirectoryConnection, *, network_timeout: float, operation_timeout: float
) -> Iterator[dict[int, object]]:
    """The options of a handle to the account's directory, in the order they must be set.

    Both the sync and the bind of a person (django-auth-ldap's CONNECTION_OPTIONS) set these. The
    CA certificate is written to a temporary file that exists until the block ends.
    """
    options: dict[int, object] = {
        ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
        ldap.OPT_REFERRALS: 0,  # never followed: they lead to servers (AD's other domains) nobody configured
        ldap.OPT_NETWORK_TIMEOUT: network_timeout,
        ldap.OPT_TIMEOUT: operation_timeout,
    }
    ca_path = None
    try:
        if connection.ca_certificate.strip():
            fd, ca_path = tempfile.mkstemp(suffix=".pem")
            with os.fdopen(fd, "w") as fh:
                fh.write(connection.ca_certificate)
            options[ldap.OPT_X_TLS_CACERTFILE] = ca_path
        if uses_ldaps(connection) or uses_start_tls(connection):
            # Certificates are always verified; a self-signed directory needs its CA configured.
            options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
            # Last: the handle's own TLS context is built from the options set so far (not libldap's global one).
            options[ldap.OPT_X_TLS_NEWCTX] = 0
        yield options
    finally:
        if ca_path:
            os.unlink(ca_path)


@contextmanager
def connect(
    connection: DirectoryConnection, *, network_timeout: float = NETWORK_TIMEOUT,
    operation_timeout: float = OPERATION_TIMEOUT,
) -> Iterator[ldap.ldapobject.LDAPObject]:
    """A connection to the account's directory, bound as its service account, closed on exit."""
    try:
        with connection_options(
            connection, network_timeout=network_timeout, operation_timeout=operation_timeout
        ) as options:
            conn = ldap.initialize(connection.uri, bytes_mode=False)
            try:
                for option, value in options.items():
                    conn.set_option(option, value)
                _secure_and_bind(conn, connection)
                yield conn
            finally:
                with suppress(ldap.LDAPError):
                    conn.unbind_s()
    except ldap.LDAPError as exc:
        raise translate(exc) from exc


def _secure_and_bind(conn: ldap.ldapobject.LDAPObject, connection: DirectoryConnection) -> None:
    ldaps = uses_ldaps(connection)
    try:
        if ldaps:
            conn.simple_bind_s(connection.bind_dn, connection.bind_password)  # connects: the TLS handshake
        elif uses_start_tls(connection):
            conn.start_tls_s()
    except (ldap.CONNECT_ERROR, ldap.SERVER_DOWN) as exc:
        # libldap reports a failed handshake as a connect error, like an unreachable server, but only a TLS
        # failure leaves a diagnostic message on the handle.
        diagnostic = conn.get_option(ldap.OPT_DIAGNOSTIC_MESSAGE)
        if not diagnostic:
            raise
        raise tls_failure(diagnostic) from exc
    if not ldaps:
        conn.simple_bind_s(connection.bind_dn, connection.bind_password)


def user_filter(connection: DirectoryConnection) -> str:
    """The filter that selects the account's people: the connection's own, or its preset's."""
    return connection.user_filter or vendor_for(connection.preset).default_filter


def person_filter(connection: DirectoryConnection, *, external_id: str) -> str:
    """The filter that finds one of the account's people by the stable id the sync stored."""
    mapping = resolve_mapping(preset=connection.preset, overrides=connection.attribute_overrides)
    assertion = vendor_for(connection.preset).id_assertion(mapping["id"], external_id)
    return f"(&{user_filter(connection)}{assertion})"


def search_filter(*, user_filter: str, changed_attribute: str = "", changed_since: str = "") -> str:
    """The user filter, narrowed to entries changed at or after a marker for incremental runs."""
    if not changed_since:
        return user_filter
    return f"(&{user_filter}({changed_attribute}>={escape_filter_chars(changed_since)}))"


def _paged_search(
    conn, *, base_dn: str, search: str, attributes: list[str], page_size: int
) -> Iterator[list[Entry]]:
    control = SimplePagedResultsControl(True, size=page_size, cookie="")
    while True:
        msgid = conn.search_ext(base_dn, ldap.SCOPE_SUBTREE, search, attributes, serverctrls=[control])
        _, data, _, server_controls = conn.result3(msgid)
        # Search references come back with a None DN; the sync follows no referrals.
        yield [(dn, attrs) for dn, attrs in data if dn]
        cookies = [c.cookie for c in server_controls if c.controlType == SimplePagedResultsControl.controlType]
        if not cookies or not cookies[0]:
            return
        control.cookie = cookies[0]


_DONE = object()


def pages(
    connection: DirectoryConnection, *, search: str, attributes: list[str]
) -> Iterator[list[Entry]]:
    """Stream the search in pages (RFC 2696), read ahead by one thread; errors surface here."""
    pipe: queue.Queue = queue.Queue(maxsize=PREFETCH)
    stop = threading.Event()

    def read() -> None:
        try:
            with connect(connection) as conn:
                for page in _paged_search(
                    conn, base_dn=connection.base_dn, search=search, attributes=attributes,
                    page_size=connection.page_size,
                ):
                    while not stop.is_set():
                        try:
                            pipe.put(page, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            pipe.put(_DONE)
        except ldap.LDAPError as exc:
            pipe.put(translate(exc))
        except BaseException as exc:  # hand every failure to the consumer, never die silently
            pipe.put(exc)

    reader = threading.Thread(target=read, name=f"ldap-reader-{connection.pk}", daemon=True)
    reader.start()
    try:
        while True:
            item = pipe.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=OPERATION_TIMEOUT)
