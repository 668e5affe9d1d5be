"""A throwaway OpenLDAP slapd for tests and benchmarks: its own directory, config, data and loopback port.

Pure Python around Debian's `/usr/sbin/slapd` and `/usr/sbin/slapadd` (no shell scripts, nothing outside this
repository): `start()` writes a slapd.conf (back-mdb, the schemas in tests/ldap/), checks it, bulk-loads a seed
LDIF offline with `slapadd -q` (about 30x faster than adding over LDAP) and runs slapd in the foreground as our
child process, logging to `<workdir>/slapd.log`.

    from tests.ldap_data import write_ad_people, write_base
    seed = workdir / "seed.ldif"
    with open(seed, "w") as fh:
        write_base(fh)
        write_ad_people(fh, n=1000)
    with Slapd(workdir) as slapd:      # __exit__ stops it; starting stays explicit
        slapd.start(seed)
        conn = slapd.connection()      # bound as the root DN

`start_streaming(writer)` pipes a generator's LDIF straight into slapadd instead (no seed file, and generation
overlaps loading), returning what the writer returned:

    slapd = Slapd(workdir)
    summary = slapd.start_streaming(lambda fh: write_ad_people(fh, n=100_000))

Failure simulations for sync tests: `stop()` / `restart()` (server down, then back with the same data and port)
and `pause()` / `resume()` (SIGSTOP/SIGCONT: the port still accepts connections, but nothing answers).

`Slapd(workdir, tls=True)` also serves TLS: a throwaway CA (`throwaway_ca()`, made with `cryptography`) signs a
server certificate for 127.0.0.1 and localhost; slapd offers StartTLS on `uri` and listens for LDAPS on
`ldaps_uri`. Clients verify against `ca_pem` (or the file `ca_path`); `throwaway_ca()` also makes an unrelated CA
for "wrong CA" tests.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO, TypeVar

import ldap
import ldap.modlist
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.ldap_data import DEFAULT_SUFFIX, SERVICE_PASSWORD, people_dn, service_dn, write_base

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA = Path(__file__).resolve().parent / "ldap" / "ad-lite.schema"
SYSTEM_SCHEMAS = ("core", "cosine", "inetorgperson")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
TLS_HOST = "127.0.0.1"  # the URIs use the IP: the server certificate names it (and localhost, see _dns_names)
CERT_VALIDITY = timedelta(days=30)

AttrValues = Iterable[bytes | str]
T = TypeVar("T")

# Instances started and not yet stopped. Stopping them at exit (a test run interrupted between start and stop,
# a benchmark that forgot) keeps orphaned slapd processes from piling up on developer machines.
_RUNNING: set[Slapd] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_RUNNING):
        server.stop()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _encode(values: AttrValues | None) -> list[bytes]:
    return [v.encode() if isinstance(v, str) else bytes(v) for v in values or ()]


def _dns_names() -> list[str]:
    """DNS names for the server certificate: localhost, and this machine's names, because libldap checks a
    `ldap://localhost` URI against the local FQDN (`ldap_pvt_get_fqdn`), not against "localhost"."""
    names = ["localhost", socket.gethostname(), socket.getfqdn()]
    return [name for i, name in enumerate(names) if name and name not in names[:i]]


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class ThrowawayCA:
    """A self-signed CA made for one test run (P-256 keys: fast to generate, and GnuTLS and OpenSSL take them)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return _pem(self.cert)

    def issue_server_certificate(self, ips: Iterable[str] = (TLS_HOST,),
                                 dns_names: Iterable[str] = ("localhost",)) -> tuple[str, bytes]:
        """A server certificate for `ips` and `dns_names` signed by this CA: (certificate PEM, unencrypted key PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        names: list[x509.GeneralName] = [x509.IPAddress(IPv4Address(ip)) for ip in ips]
        names += [x509.DNSName(name) for name in dns_names]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))  # tolerate a little clock skew
            .not_valid_after(now + CERT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return _pem(cert), _key_pem(key)


def throwaway_ca(common_name: str = "Partner Portal test CA") -> ThrowawayCA:
    """A new self-signed CA; each call makes an unrelated one (its own key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, key_encipherment=False, content_commitment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return ThrowawayCA(cert=cert, key=key)


class SlapdError(RuntimeError):
    """slapd, slaptest or slapadd failed; the message carries their output."""


class Slapd:
    """One slapd instance living in `workdir` (config, mdb database, logs)."""

    root_password = "admin-secret"  # a throwaway server's well-known test credentials
    service_password = SERVICE_PASSWORD

    def __init__(self, workdir: Path, *, suffix: str = DEFAULT_SUFFIX, port: int | None = None, tls: bool = False,
                 tls_port: int | None = None) -> None:
        """`tls=True` makes a throwaway CA and server certificate (written into `workdir` on start), offers
        StartTLS on `uri` and listens for LDAPS on `ldaps_uri` (port `tls_port`, a free one by default)."""
        self.workdir = Path(workdir)
        self.suffix = suffix
        self.root_dn = f"cn=admin,{suffix}"
        self.service_dn = service_dn(suffix)
        self.people_dn = people_dn(suffix)
        self.tls = tls
        self._fixed_port = port is not None
        self._fixed_tls_port = tls_port is not None
        self.port = port if port is not None else free_port()
        self.tls_port: int | None = None
        self.ca: ThrowawayCA | None = None
        if tls:
            self.tls_port = tls_port if tls_port is not None else self._other_free_port()
            self.ca = throwaway_ca()
            self._server_cert_pem, self._server_key_pem = self.ca.issue_server_certificate(dns_names=_dns_names())
        elif tls_port is not None:
            raise ValueError("tls_port needs tls=True")
        self.ca_path = self.workdir / "tls" / "ca.pem"
        self.cert_path = self.workdir / "tls" / "server.pem"
        self.key_path = self.workdir / "tls" / "server.key"
        self.conf = self.workdir / "slapd.conf"
        self.db_dir = self.workdir / "db"
        self.log_path = self.workdir / "slapd.log"
        self.pid_path = self.workdir / "slapd.pid"
        self._process: subprocess.Popen[bytes] | None = None
        self._probe_error = ""  # why the last readiness check failed, for the start timeout's message
        self._paused = False
        self._loaded = False  # the database holds data: restart() must not load again

    # --- properties -------------------------------------------------------------------------------------------

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        """Where slapd listens for LDAPS (TLS from the first byte); only with `tls=True`."""
        if self.tls_port is None:
            raise SlapdError(f"{self!r} was made without tls=True")
        return f"ldaps://{TLS_HOST}:{self.tls_port}"

    @property
    def ca_pem(self) -> str:
        """The PEM of the CA that signed the server certificate (what clients configure to verify it)."""
        if self.ca is None:
            raise SlapdError(f"{self!r} was made without tls=True")
        return self.ca.pem

    @property
    def listen_uris(self) -> list[str]:
        """slapd's `-h` listeners."""
        return [f"{self.uri}/"] + ([f"{self.ldaps_uri}/"] if self.tls else [])

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        """The slapd process exists (it may be paused)."""
        return self._process is not None and self._process.poll() is None

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running" if self.is_running else "stopped"
        return f"<Slapd {self.uri} {self.suffix} {state}>"

    # --- lifecycle --------------------------------------------------------------------------------------------

    def start(self, seed_ldif: Path | None = None) -> Self:
        """Write the config, load `seed_ldif` (or just the base entries) offline, run slapd and wait until it
        answers. The seed must contain the base entries (`tests.ldap_data.write_base`)."""
        self._prepare()
        if seed_ldif is None:
            seed_ldif = self.workdir / "base.ldif"
            with open(seed_ldif, "w", encoding="utf-8") as fh:
                write_base(fh, self.suffix)
        # -q skips consistency checks slapadd would otherwise do per entry: several times faster for 100k.
        self._run_tool([SLAPADD, "-q", "-f", str(self.conf), "-l", str(seed_ldif)], "slapadd")
        self._loaded = True
        self._launch(new_port_if_taken=True)
        return self

    def start_streaming(self, writer: Callable[[TextIO], T], *, base: bool = True) -> T:
        """Like `start()`, but `writer(fh)` writes the seed LDIF straight into slapadd's stdin: no seed file
        (100 MB for 100,000 AD people) and generating overlaps loading, though on two cores the total is about
        the same (8.5-9 s for 100,000 AD people either way). The base entries are written first unless
        `base=False`. Returns what `writer` returned (e.g. a `PeopleSummary`).

            summary = slapd.start_streaming(lambda fh: write_ad_people(fh, n=100_000))
        """
        self._prepare()
        log = self.workdir / "slapadd.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([SLAPADD, "-q", "-f", str(self.conf)], stdin=subprocess.PIPE, stdout=out,
                                       stderr=subprocess.STDOUT, bufsize=1 << 20)
            assert process.stdin is not None
            finished = False
            try:
                with io.TextIOWrapper(process.stdin, encoding="utf-8", newline="\n") as fh:
                    if base:
                        write_base(fh, self.suffix)
                    result = writer(fh)
                finished = True
            except BrokenPipeError:
                pass  # slapadd gave up early; its exit code and log say why
            except BaseException:
                process.kill()
                process.wait()
                raise
            code = process.wait()
        if code or not finished:
            raise SlapdError(f"slapadd failed (exit {code}):\n{log.read_text(errors='replace')}")
        self._loaded = True
        self._launch(new_port_if_taken=True)
        return result

    def stop(self) -> None:
        """Stop slapd cleanly (SIGTERM), SIGKILL after STOP_TIMEOUT s. Safe to call more than once."""
        process, self._process = self._process, None
        _RUNNING.discard(self)
        if process is None or process.poll() is not None:
            self._paused = False
            return
        process.send_signal(signal.SIGTERM)
        if self._paused:  # a stopped process only acts on SIGTERM once it runs again
            process.send_signal(signal.SIGCONT)
            self._paused = False
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> Self:
        """Stop and start again on the same port(s) with the same data (no reseed): "server down, then back"."""
        if not self._loaded:
            raise SlapdError(f"{self!r} was never started")
        self.stop()
        self._launch(new_port_if_taken=False)  # clients keep the URI they had
        return self

    def pause(self) -> None:
        """Freeze slapd (SIGSTOP) to simulate a hung server: connections are accepted, nothing is answered."""
        if not self.is_running:
            raise SlapdError(f"{self!r} is not running")
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        self._paused = True
        # SIGSTOP is delivered asynchronously: wait until every thread of slapd is stopped, or a
        # request sent right after pause() may still be answered.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self._all_threads_stopped():
            time.sleep(0.01)

    def _all_threads_stopped(self) -> bool:
        tasks = Path(f"/proc/{self._process.pid}/task")
        try:
            states = [(task / "stat").read_text().rsplit(")", 1)[1].split()[0] for task in tasks.iterdir()]
        except (FileNotFoundError, ProcessLookupError):
            return True
        return all(state in ("T", "t") for state in states)

    def resume(self) -> None:
        """Undo `pause()`."""
        if self._process is not None and self._paused:
            self._process.send_signal(signal.SIGCONT)
        self._paused = False

    def remove(self) -> None:
        """Stop and delete the working directory (config, database, logs)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self._loaded = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- LDAP helpers -----------------------------------------------------------------------------------------

    def connection(self, who: str | None = None, password: str | None = None, *,
                   timeout: float = 10.0) -> ldap.ldapobject.LDAPObject:
        """A new python-ldap connection (LDAPv3, no referral chasing), bound as the root DN unless `who` is given.

        `timeout` bounds connecting and every synchronous operation, so a paused server fails a test instead of
        hanging it. The caller owns the connection (`unbind_s()` when done)."""
        conn = ldap.initialize(self.uri)
        conn.protocol_version = ldap.VERSION3
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, timeout)
        conn.set_option(ldap.OPT_TIMEOUT, timeout)
        if who is None:
            who, password = self.root_dn, self.root_password
        elif password is None and who:
            # An empty password would make this an anonymous bind that "succeeds": refuse instead.
            raise ValueError(f"a password is needed to bind as {who}")
        conn.simple_bind_s(who, password or "")
        return conn

    def service_connection(self, *, timeout: float = 10.0) -> ldap.ldapobject.LDAPObject:
        """A connection bound as the portal's sync account: an ordinary user to the ACLs, but (like the root DN)
        exempt from the size limit, as the sync needs to be."""
        return self.connection(self.service_dn, self.service_password, timeout=timeout)

    def add(self, dn: str, attrs: Mapping[str, AttrValues]) -> None:
        """Add one entry online, as root."""
        entry = {attr: _encode(values) for attr, values in attrs.items()}
        with self._root() as conn:
            conn.add_s(dn, ldap.modlist.addModlist(entry))

    def modify(self, dn: str, replace: Mapping[str, AttrValues | None]) -> None:
        """Replace attributes of one entry, as root; `None` or `[]` deletes the attribute (no error if absent)."""
        # MOD_REPLACE with no values deletes the attribute and, unlike MOD_DELETE, tolerates its absence.
        mods = [(ldap.MOD_REPLACE, attr, _encode(values) or None) for attr, values in replace.items()]
        with self._root() as conn:
            conn.modify_s(dn, mods)

    def delete(self, dn: str) -> None:
        """Delete one (leaf) entry, as root."""
        with self._root() as conn:
            conn.delete_s(dn)

    def log(self, offset: int = 0) -> str:
        """What slapd wrote to its log so far (start, stop and errors), from byte `offset` on."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    @contextlib.contextmanager
    def _root(self) -> Iterator[ldap.ldapobject.LDAPObject]:
        conn = self.connection()
        try:
            yield conn
        finally:
            conn.unbind_s()

    # --- internals --------------------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Checks and config shared by the start methods."""
        if self.is_running:
            raise SlapdError(f"{self!r} is already running")
        if self._loaded:
            raise SlapdError(f"{self!r} already holds data: use restart(), or a new workdir to load another seed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_dir.mkdir(exist_ok=True)
        if self.tls:
            self._write_tls_files()
        self._write_config()
        self._run_tool([SLAPD, "-Tt", "-u", "-f", str(self.conf)], "slaptest")

    def _write_config(self) -> None:
        # The schema is copied so the instance keeps working (restart) even if the source tree changes meanwhile.
        schema = self.workdir / SCHEMA.name
        shutil.copyfile(SCHEMA, schema)
        includes = "\n".join(f"include  /etc/ldap/schema/{name}.schema" for name in SYSTEM_SCHEMAS)
        tls = "" if not self.tls else f"""
# StartTLS on the ldap:// listener and LDAPS on the ldaps:// one; clients are not asked for a certificate.
TLSCACertificateFile  {self.ca_path}
TLSCertificateFile    {self.cert_path}
TLSCertificateKeyFile {self.key_path}
TLSVerifyClient never
"""
        self.conf.write_text(f"""\
{includes}
include  {schema}

pidfile  {self.pid_path}
argsfile {self.workdir / "slapd.args"}
modulepath /usr/lib/ldap
moduleload back_mdb
{tls}
# slapadd -q builds the indexes in parallel: with them, 2 threads load 100,000 people ~15 % faster on 2 cores.
tool-threads 2

# The default sizelimit (500) also caps the TOTAL of a paged search for non-root binds; AD's MaxPageSize is
# 1000 per page with an unlimited total, and the sync account gets no limit at all (below).
sizelimit size.soft=1000 size.hard=unlimited size.prtotal=unlimited
timelimit unlimited

database mdb
# The mdb default map size is 10 MiB; 100,000 AD-shaped people need a few hundred MiB (the file is sparse).
maxsize  1073741824
suffix   "{self.suffix}"
rootdn   "{self.root_dn}"
rootpw   {self.root_password}
directory {self.db_dir}
# Throwaway data: no fsync per write, so tests that add or modify many people online stay fast.
dbnosync

limits dn.exact="{self.service_dn}" size=unlimited time=unlimited

# Equality indexes also answer >= / <= on integer and generalizedTime values (modifyTimestamp, uSNChanged).
index objectClass,entryUUID,entryCSN eq
index mail,uid,sAMAccountName,userPrincipalName,proxyAddresses,objectGUID,mailAlternateAddress eq
index uSNChanged,modifyTimestamp eq

access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by users read
  by * none
""")

    def _write_tls_files(self) -> None:
        # slapd reads these as whoever runs it (root here, or the developer): owner-only is enough for the key.
        tls_dir = self.ca_path.parent
        tls_dir.mkdir(exist_ok=True)
        self.ca_path.write_text(self.ca_pem, encoding="ascii")
        self.cert_path.write_text(self._server_cert_pem, encoding="ascii")
        self.key_path.touch(mode=0o600)
        self.key_path.write_bytes(self._server_key_pem)

    def _other_free_port(self) -> int:
        """A free port other than `self.port` (the kernel may hand out the same one twice in a row)."""
        while (port := free_port()) == self.port:
            pass
        return port

    def _pick_new_ports(self) -> bool:
        """New free ports for the listeners that were not given explicitly; False if all were."""
        changed = False
        if not self._fixed_port:
            self.port = free_port()
            changed = True
        if self.tls and not self._fixed_tls_port:
            self.tls_port = self._other_free_port()
            changed = True
        return changed

    def _run_tool(self, argv: list[str], name: str) -> None:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    check=False)
        if result.returncode:
            raise SlapdError(f"{name} failed (exit {result.returncode}):\n{log.read_text(errors='replace')}")

    def _launch(self, *, new_port_if_taken: bool, attempts: int = 3) -> None:
        for attempt in range(attempts):
            try:
                self._launch_once()
                return
            except SlapdError as exc:
                # A port picked by free_port() can be taken by someone else before slapd binds it.
                if not new_port_if_taken or "Address already in use" not in str(exc) or attempt == attempts - 1:
                    raise
                if not self._pick_new_ports():
                    raise

    def _launch_once(self) -> None:
        # slapd writes its pidfile only once it has bound the port: until then an answer on the port may come
        # from someone else (another server that holds it), so a stale pidfile must not count.
        self.pid_path.unlink(missing_ok=True)
        self._probe_error = ""
        with open(self.log_path, "ab") as out:
            log_start = out.tell()  # the log accumulates over restarts; errors quote this run's part only
            # Any -d keeps slapd in the foreground, so it stays our child and stop() can wait for it. Level "none"
            # logs only what is always logged (start, stop, errors such as "bind failed: Address already in
            # use"); "-d 0" would log nothing at all, not even why slapd refused to start.
            process = self._process = subprocess.Popen(
                [SLAPD, "-f", str(self.conf), "-h", " ".join(self.listen_uris), "-d", "none"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        _RUNNING.add(self)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                self._process = None
                _RUNNING.discard(self)
                raise SlapdError(f"slapd exited with {process.returncode} on {' '.join(self.listen_uris)}:\n"
                                 f"{self.log(log_start)}")
            if self._pidfile_is(process.pid) and self._answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise SlapdError(f"slapd did not answer on {' '.join(self.listen_uris)} within {START_TIMEOUT} s "
                                 f"(last try: {self._probe_error or 'no pidfile'}):\n{self.log(log_start)}")
            time.sleep(0.02)

    def _pidfile_is(self, pid: int) -> bool:
        try:
            return self.pid_path.read_text().strip() == str(pid)
        except FileNotFoundError:
            return False

    def _answers(self) -> bool:
        """An anonymous read of the RootDSE succeeds; with `tls`, a TLS handshake on the LDAPS port verifies too."""
        return self._answers_ldap() and (not self.tls or self._handshakes())

    def _handshakes(self) -> bool:
        # Python's ssl rather than libldap: libldap's TLS handshake has no timeout (a stalled server would hang
        # start() forever), and this leaves libldap's TLS state alone. It checks the chain and the IP SAN as well.
        context = ssl.create_default_context(cafile=str(self.ca_path))
        try:
            with (socket.create_connection((TLS_HOST, self.tls_port), timeout=1.0) as sock,
                  context.wrap_socket(sock, server_hostname=TLS_HOST)):
                return True
        except OSError as exc:  # ssl.SSLError included
            self._probe_error = f"TLS handshake on {self.ldaps_uri}: {exc}"
            return False

    def _answers_ldap(self) -> bool:
        conn = ldap.initialize(self.uri)
        try:
            conn.protocol_version = ldap.VERSION3
            conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 1.0)
            conn.set_option(ldap.OPT_TIMEOUT, 1.0)
            conn.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["namingContexts"])
            return True
        except (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR) as exc:
            self._probe_error = f"LDAP on {self.uri}: {exc}"
            return False
        finally:
            with contextlib.suppress(ldap.LDAPError):
                conn.unbind_s()


def start_with_people(workdir: Path, writer: Callable[..., T], n: int) -> tuple[Slapd, T]:
    """A started slapd holding the base entries and `n` people from `writer` (write_ad_people, …)."""
    from tests.ldap_data import write_base as _write_base

    seed = workdir / "seed.ldif"
    with open(seed, "w", encoding="utf-8") as fh:
        _write_base(fh)
        summary = writer(fh, n=n)
    return Slapd(workdir / "slapd").start(seed), summary
