"""Reading a directory: connect (StartTLS or LDAPS, optional CA), bind, and stream a paged search.

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

from directory_sync.models import DirectoryConnection

PREFETCH = 2
NETWORK_TIMEOUT = 10  # seconds to connect
OPERATION_TIMEOUT = 120  # seconds for one page

Entry = tuple[str, dict[str, list[bytes]]]


class DirectoryError(Exception):
    """The directory refused or failed the operation; retrying will not help (bad credentials, bad base DN)."""


class DirectoryUnavailable(DirectoryError):
    """The directory could not be reached or timed out; a later retry may succeed."""


_TRANSIENT = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.UNAVAILABLE, ldap.BUSY, ldap.TIMELIMIT_EXCEEDED)


def describe(exc: ldap.LDAPError) -> str:
    """A one-line message from python-ldap's dict-shaped errors."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    parts = [info.get("desc") or exc.__class__.__name__, info.get("info") or ""]
    return ": ".join(p for p in parts if p)


def translate(exc: ldap.LDAPError) -> DirectoryError:
    """Map a python-ldap error to the portal's two kinds: transient or not."""
    if isinstance(exc, _TRANSIENT):
        return DirectoryUnavailable(f"The directory is unreachable: {describe(exc)}")
    if isinstance(exc, ldap.INVALID_CREDENTIALS):
        return DirectoryError("The directory refused the bind DN and password (invalid credentials).")
    if isinstance(exc, ldap.NO_SUCH_OBJECT):
        return DirectoryError(f"The base DN does not exist on the directory: {describe(exc)}")
    if isinstance(exc, ldap.FILTER_ERROR):
        return DirectoryError("The user filter is not a valid LDAP filter.")
    return DirectoryError(describe(exc))


def tls_failure(diagnostic: str) -> DirectoryError:
    """The TLS handshake failed: the directory is reachable, and retrying will not help until someone fixes the
    certificate or the CA configured for it."""
    # libldap's own certificate checks (chain, host name) fail with -1, which GnuTLS words "(unknown error code)";
    # other failures carry the TLS library's reason.
    unknown = diagnostic.strip() in ("", "(unknown error code)")
    reason = "its certificate could not be verified" if unknown else diagnostic.strip().rstrip(".")
    return DirectoryError(
        f"TLS with the directory failed ({reason}). Its certificate must be signed by the configured CA "
        "certificate (or, with none configured, by a CA this server trusts) and name the host in the URI."
    )


@contextmanager
def connect(connection: DirectoryConnection) -> Iterator[ldap.ldapobject.LDAPObject]:
    """A bound connection to the account's directory, closed on exit."""
    ca_path = None
    conn = None
    try:
        conn = ldap.initialize(connection.uri, bytes_mode=False)
        conn.protocol_version = ldap.VERSION3
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, NETWORK_TIMEOUT)
        conn.set_option(ldap.OPT_TIMEOUT, OPERATION_TIMEOUT)
        if connection.ca_certificate.strip():
            fd, ca_path = tempfile.mkstemp(suffix=".pem")
            with os.fdopen(fd, "w") as fh:
                fh.write(connection.ca_certificate)
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, ca_path)
        ldaps = connection.uri.lower().startswith("ldaps://")
        if ldaps or connection.start_tls:
            # Certificates are always verified; a self-signed directory needs its CA configured.
            conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
            # Last: the handle's own TLS context is built from the options set so far (not libldap's global one).
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        try:
            if ldaps:
                conn.simple_bind_s(connection.bind_dn, connection.bind_password)  # connects: the TLS handshake
            elif connection.start_tls:
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
        yield conn
    except ldap.LDAPError as exc:
        raise translate(exc) from exc
    finally:
        if conn is not None:
            with suppress(ldap.LDAPError):
                conn.unbind_s()
        if ca_path:
            os.unlink(ca_path)


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
