"""A partner's own changes to the people of an account without a directory server (a CSV-sourced account):
one person added, changed or removed, or a change file of such rows instead of the whole list.

The same normalisation as a CSV import (mapping.build_person) and the same writer, with stricter address
rules: a sync keeps an address several people claim "in conflict", but a person typing one in is told who
holds it, and nothing changes. An address may not be at another partner's account domain, and a primary
address must be at one of the account's own domains when it has any. A change file is all or nothing and
passes the removal brake (forced only by vendor staff); a single person never does. Every change is audited
with the person's record before and after, and announced (`people_changed`) once its transaction commits.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.audit import audit_client, audit_event, audit_record_many
from core.emails import InvalidEmail, domain_of, normalize_email
from core.errors import ConcurrentChange, PortalError
from directory_sync.errors import CsvInvalid, SkipEntry, SyncAlreadyRunning
from directory_sync.mapping import Person, build_person, content_hash
from directory_sync.models import (
    ADDRESS_IN_EITHER_STATE,
    AddressKind,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
    SourceKind,
    SyncRun,
)
from directory_sync.services.writer import Writer
from directory_sync.signals import people_changed
from directory_sync.sources.csv_file import ADD, REMOVE, UPDATE, Change, ChangeFileParser
from partners.models import AccountDomain, Partner

ADDED, CHANGED, REMOVED_ACTION = "directory.person.added", "directory.person.changed", "directory.person.removed"
PERSON_ACTIONS = (ADDED, CHANGED, REMOVED_ACTION)
ACTIVE, DISABLED, REMOVED = DirectoryUserStatus.ACTIVE, DirectoryUserStatus.DISABLED, DirectoryUserStatus.REMOVED

# What people read (tests reuse them).
NOT_CSV = _("{partner}'s people come from its directory server: change them there, the next sync brings them here.")
NO_CONNECTION = _("{partner} has no directory connection yet: ask your account manager to set one up.")
ALREADY_PRESENT = _("{key} is already on the account")
NOT_PRESENT = _("no one on the account has {what} {key}")
ADDRESS_HELD = _("{address} is already an address of {name}")
FOREIGN_DOMAIN = _("{address} is at {domain}, the domain of another partner's account")
REFUSED_DOMAIN = _("{address}: {reason}")
NOT_OWN_DOMAIN = _("{address} is not at one of the account's domains ({domains})")
BRAKE = _(
    "Refused: this change file would remove {removed} and disable {disabled} of {present} people "
    "({share:.1f}%), more than the {limit}% the brake allows. Nothing was changed. Check the file; if it is "
    "intended, your account manager can apply it anyway."
)
NOTHING_TO_CHANGE = _("The file holds no changes.")
SELF_LOCKOUT = _(
    "{address} is your own address: removing or disabling yourself, or moving your primary address, would end your "
    "own access here. Ask another partner admin or your account manager."
)


# A hook for the layers above: the domains (of those given) that people may not have addresses at, each with the
# reason (onboarding refuses the vendor's own domains, which it alone knows).
DomainCheck = Callable[[set[str]], dict[str, str]]


class PeopleEditRefused(PortalError):
    """A change refused before anything was written; `errors` pairs each message with the form field at fault
    (primary, aliases, forwarding; "" for none)."""

    def __init__(self, message: str, *, field: str = "", errors: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.errors = list(errors) or [(field, message)]


class ChangesRefusedByBrake(PortalError):
    """A change file that would disable or remove more people than the brake allows: nothing was written."""


@dataclass
class ChangeSummary:
    """What a change file does (or did): counts, and the brake's refusal when it would refuse it."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    disabled: int = 0
    present: int = 0
    brake: str = ""
    applied: bool = False
    people: list[DirectoryUser] = field(default_factory=list)


@dataclass
class _Step:
    """One change resolved against the account: who it concerns now (`current`, None for an add)."""

    change: Change
    current: DirectoryUser | None
    exists: bool  # a row with this stable id exists (perhaps removed): an add revives it


# -- entry points ----------------------------------------------------------------------------------------------------


def directory_person_add(
    *, partner: Partner, actor, name: str, primary: str, aliases: Sequence[str] = (),
    forwarding: Sequence[str] = (), request=None, domain_check: DomainCheck | None = None,
) -> DirectoryUser:
    """Add one person (active) to a CSV-sourced account; PeopleEditRefused (with the field) when it cannot be."""
    person = _person(external_id="", name=name, primary=primary, aliases=aliases, forwarding=forwarding,
                     disabled=False)
    change = Change(0, ADD, person.external_id, False, person)
    return _apply_one(partner=partner, actor=actor, change=change, request=request, domain_check=domain_check)


def directory_person_change(
    *, partner: Partner, actor, person_id: int, name: str, primary: str, aliases: Sequence[str] = (),
    forwarding: Sequence[str] = (), disabled: bool = False, request=None, domain_check: DomainCheck | None = None,
) -> DirectoryUser:
    """Replace one person's name, addresses and active/disabled state; never braked (one person)."""
    current = _present_person(partner=partner, person_id=person_id)
    person = _person(external_id=current.external_id, name=name, primary=primary, aliases=aliases,
                     forwarding=forwarding, disabled=disabled)
    change = Change(0, UPDATE, current.external_id, True, person)
    return _apply_one(partner=partner, actor=actor, change=change, request=request, domain_check=domain_check)


def directory_person_remove(*, partner: Partner, actor, person_id: int, request=None) -> DirectoryUser:
    """Mark one person removed (kept for the audit trail, as a sync does) and free their addresses."""
    current = _present_person(partner=partner, person_id=person_id)
    change = Change(0, REMOVE, current.external_id, True, None)
    return _apply_one(partner=partner, actor=actor, change=change, request=request)


def directory_person_write(
    *, partner: Partner, actor, action: str, external_id: str, name: str = "", primary: str = "",
    aliases: Sequence[str] = (), forwarding: Sequence[str] = (), disabled: bool = False, via: str, request=None,
    domain_check: DomainCheck | None = None,
) -> DirectoryUser:
    """One person's add, update or removal (ADD, UPDATE, REMOVE) by stable id, for a source that locks the account's
    connection itself (SCIM): the same normalisation, address rules, writer, audit and `people_changed` as a partner's
    edit; never braked. PeopleEditRefused (with the field) when it cannot be. Call inside a transaction."""
    person = None if action == REMOVE else _person(
        external_id=external_id, name=name, primary=primary, aliases=aliases, forwarding=forwarding, disabled=disabled)
    steps, problems = _resolve(partner, [Change(0, action, external_id, True, person)])
    problems += _address_problems(partner, steps, domain_check=domain_check)
    if problems:
        raise PeopleEditRefused("; ".join(m for _r, _f, m in problems), errors=[(f, m) for _r, f, m in problems])
    return _write(partner, steps, actor=actor, request=request, via=via)[0]


def directory_changes_apply(
    *, partner: Partner, actor, data: bytes, dry_run: bool = False, force: bool = False, request=None,
    domain_check: DomainCheck | None = None,
) -> ChangeSummary:
    """Apply a change file (add/update/remove rows) all or nothing, and return what it did.

    CsvInvalid (nothing written) lists every bad row with its number; ChangesRefusedByBrake when it would
    disable or remove more than the brake's share of the present people, unless `force`d. A `dry_run` checks
    everything and returns the counts (with the brake's refusal in `brake`), writing nothing.
    """
    with transaction.atomic():
        connection = _locked_connection(partner)  # an LDAP account is told so before its file is read
        parser = ChangeFileParser()
        try:
            parser.parse(data)
        except CsvInvalid as exc:  # the rows read well are checked all the same: one upload shows everything
            unreadable = exc.problems
        else:
            unreadable = []
        changes = parser.changes
        if not changes and not unreadable:
            raise CsvInvalid([(1, str(NOTHING_TO_CHANGE))])
        steps, problems = _resolve(partner, changes)
        problems += _self_problems(steps, actor=actor)
        problems += _address_problems(partner, steps, domain_check=domain_check)
        if problems or unreadable:
            raise CsvInvalid(sorted({*unreadable, *((row, message) for row, _field, message in problems)}))
        summary = _summary(partner, steps)
        destructive = summary.disabled + summary.removed
        if destructive * 100 > connection.removal_brake_percent * max(summary.present, 1):
            summary.brake = str(BRAKE).format(
                removed=summary.removed, disabled=summary.disabled, present=summary.present,
                share=100 * destructive / max(summary.present, 1), limit=connection.removal_brake_percent,
            )
        if dry_run:
            return summary
        if summary.brake and not force:
            raise ChangesRefusedByBrake(summary.brake)
        summary.people = _write(partner, steps, actor=actor, request=request, via="change file")
        summary.applied = True
    return summary


# -- resolving changes against the account ---------------------------------------------------------------------------


def _person(*, external_id: str, name: str, primary: str, aliases: Iterable[str], forwarding: Iterable[str],
            disabled: bool) -> Person:
    """The person a form describes, normalised as a CSV row is; a malformed address is refused, not ignored."""
    fields = {"primary": [primary.strip()], "aliases": [a for a in aliases if a.strip()],
              "forwarding": [f for f in forwarding if f.strip()]}
    if not fields["primary"][0]:
        raise PeopleEditRefused(str(_("A primary address is needed.")), field="primary")
    for name_of_field, values in fields.items():
        for value in values:
            try:
                normalize_email(value)
            except InvalidEmail as exc:
                raise PeopleEditRefused(f"{value}: {exc}", field=name_of_field) from exc
    try:
        return build_person(
            external_id=external_id or normalize_email(primary), dn="", name=name.strip(), disabled=disabled,
            primary=primary.strip(), aliases=fields["aliases"], forwarding=fields["forwarding"],
        )
    except SkipEntry as exc:
        raise PeopleEditRefused(str(exc), field="primary") from exc


def _present_person(*, partner: Partner, person_id: int) -> DirectoryUser:
    """A present (not removed) person of this account, or PeopleEditRefused."""
    person = DirectoryUser.objects.filter(partner=partner, pk=person_id).exclude(status=REMOVED).first()
    if person is None:
        raise PeopleEditRefused(str(_("This person is no longer on the account.")))
    return person


def _locked_connection(partner: Partner) -> DirectoryConnection:
    """The account's CSV connection, locked: edits of one account wait for each other, and not for a running run."""
    connection = DirectoryConnection.objects.select_for_update().filter(partner=partner).first()
    if connection is None:
        raise PeopleEditRefused(str(NO_CONNECTION).format(partner=partner.name))
    if connection.kind != SourceKind.CSV:
        raise PeopleEditRefused(str(NOT_CSV).format(partner=partner.name))
    if SyncRun.objects.running().filter(connection=connection).exists():
        raise SyncAlreadyRunning()  # a CSV import is replacing the list right now
    return connection


def _resolve(partner: Partner, changes: Sequence[Change]) -> tuple[list[_Step], list[tuple[int, str, str]]]:
    """Who each change concerns: by stable id, or (rows without one) the present person with that primary."""
    keys = {change.key for change in changes}
    by_id = {
        user.external_id: user
        for user in DirectoryUser.objects.filter(partner=partner, external_id__in=keys).prefetch_related("addresses")
    }
    wanted = {c.key for c in changes if not c.by_id and not _present(by_id.get(c.key))}
    by_primary = {}
    if wanted:
        rows = (DirectoryAddress.objects.filter(partner=partner, address__in=wanted, kind=AddressKind.PRIMARY)
                .filter(ADDRESS_IN_EITHER_STATE).exclude(directory_user__status=REMOVED)
                .values_list("address", "directory_user_id"))
        owners = dict(rows)
        people = DirectoryUser.objects.filter(pk__in=set(owners.values())).prefetch_related("addresses")
        people_by_pk = {user.pk: user for user in people}
        by_primary = {address: people_by_pk[pk] for address, pk in owners.items()}
    steps, problems = [], []
    for change in changes:
        stored = by_id.get(change.key)
        current = stored if _present(stored) else (None if change.by_id else by_primary.get(change.key))
        if change.action == ADD and current is not None:
            problems.append((change.row, "primary", str(ALREADY_PRESENT).format(key=change.key)))
            continue
        if change.action != ADD and current is None:
            what = _("id") if change.by_id else _("the primary address")
            problems.append((change.row, "", str(NOT_PRESENT).format(what=what, key=change.key)))
            continue
        if current is not None and change.person is not None:
            change.person.external_id = current.external_id  # matched by its primary: keep the person's id
        steps.append(_Step(change, current, exists=stored is not None))
    return steps, problems


def _self_problems(steps: Sequence[_Step], *, actor) -> list[tuple[int, str, str]]:
    """The actor's own person (whose primary address is the actor's) may not be removed, disabled or moved to another
    primary address here: the portal would end the actor's access at once (and a partner could lose its last
    partner admin so)."""
    own = getattr(actor, "email", "")
    problems = []
    for step in steps:
        current, person = step.current, step.change.person
        if not own or current is None or not any(
                a.kind == AddressKind.PRIMARY and a.address == own for a in current.addresses.all()):
            continue
        if person is None or person.status != ACTIVE or person.primary.address != own:
            problems.append((step.change.row, "", str(SELF_LOCKOUT).format(address=own)))
    return problems


def _present(user: DirectoryUser | None) -> bool:
    return user is not None and user.status != REMOVED


def _address_problems(
    partner: Partner, steps: Sequence[_Step], *, domain_check: DomainCheck | None = None,
) -> list[tuple[int, str, str]]:
    """Addresses someone else on the account holds, or at a domain the account may not use."""
    claims = {a.address: (s.change.row, a) for s in steps if s.change.person for a in s.change.person.addresses}
    if not claims:
        return []
    touched = [s.current.pk for s in steps if s.current is not None]  # their old addresses are being replaced
    held = (DirectoryAddress.objects.filter(partner=partner, address__in=list(claims)).filter(ADDRESS_IN_EITHER_STATE)
            .exclude(directory_user__status=REMOVED).exclude(directory_user_id__in=touched)
            .select_related("directory_user"))
    problems = []
    for row in held:
        line, address = claims[row.address]
        problems.append((line, _field_of(address), str(ADDRESS_HELD).format(
            address=address.display, name=row.directory_user.display_name or row.directory_user.external_id)))
    domains = {domain_of(address) for address in claims}
    owners = dict(AccountDomain.objects.filter(domain__in=domains).values_list("domain", "partner_id"))
    own = sorted(AccountDomain.objects.filter(partner=partner).values_list("domain", flat=True))
    refused = domain_check(domains) if domain_check is not None else {}
    for line, address in claims.values():
        domain = domain_of(address.address)
        if domain in refused:
            problems.append((line, _field_of(address), str(REFUSED_DOMAIN).format(address=address.display,
                                                                                   reason=refused[domain])))
        elif owners.get(domain, partner.pk) != partner.pk:
            problems.append((line, _field_of(address), str(FOREIGN_DOMAIN).format(address=address.display,
                                                                                   domain=domain)))
        elif own and address.kind == AddressKind.PRIMARY and domain not in own:
            problems.append((line, "primary", str(NOT_OWN_DOMAIN).format(address=address.display,
                                                                         domains=", ".join(own))))
    return problems


def _field_of(address) -> str:
    return {AddressKind.PRIMARY: "primary", AddressKind.ALIAS: "aliases"}.get(address.kind, "forwarding")


def _summary(partner: Partner, steps: Sequence[_Step]) -> ChangeSummary:
    summary = ChangeSummary(present=DirectoryUser.objects.filter(partner=partner).exclude(status=REMOVED).count())
    counts = Counter()
    for step in steps:
        action, current = step.change.action, step.current
        if action == ADD:
            counts["added"] += 1
        elif action == REMOVE:
            counts["removed"] += 1
        elif current.content_hash == _hash(step.change.person):
            counts["unchanged"] += 1
        else:
            counts["updated"] += 1
            if current.status == ACTIVE and step.change.person.status == DISABLED:
                counts["disabled"] += 1
    for name, value in counts.items():
        setattr(summary, name, value)
    return summary


def _hash(person: Person) -> str:
    if not person.content_hash:
        person.content_hash = content_hash(person)
    return person.content_hash


# -- writing -----------------------------------------------------------------------------------------------------------


def _apply_one(
    *, partner: Partner, actor, change: Change, request, domain_check: DomainCheck | None = None,
) -> DirectoryUser:
    """One person's change, all or nothing, under the same checks as a file's (never braked)."""
    with transaction.atomic():
        _locked_connection(partner)
        steps, problems = _resolve(partner, [change])
        problems += _self_problems(steps, actor=actor)
        problems += _address_problems(partner, steps, domain_check=domain_check)
        if problems:
            raise PeopleEditRefused("; ".join(m for _r, _f, m in problems),
                                    errors=[(f, m) for _r, f, m in problems])
        people = _write(partner, steps, actor=actor, request=request, via="form")
    return people[0]


def _write(partner: Partner, steps: Sequence[_Step], *, actor, request, via: str) -> list[DirectoryUser]:
    """Write the steps with the sync's writer, audit each change (before and after), announce them on commit."""
    writer = Writer(partner_id=partner.pk)
    people = [s.change.person for s in steps if s.change.person is not None
              and (_hash(s.change.person) != (s.current.content_hash if s.current is not None else None))]
    removals = [s.current.external_id for s in steps if s.change.action == REMOVE]
    new = {s.change.person.external_id for s in steps if s.change.action == ADD and not s.exists}
    before = {s.change.key: _record_of_user(s.current) for s in steps if s.current is not None}
    if writer.write_people(people, new=new):
        raise ConcurrentChange()  # an address was taken meanwhile: the checks above no longer hold
    writer.remove_people(removals)
    writer.resolve_conflicts()
    written = {p.external_id for p in people} | set(removals)
    users = {u.external_id: u for u in DirectoryUser.objects.filter(partner=partner, external_id__in=written)}
    client = audit_client(request)
    events, result = [], []
    for step in steps:
        external_id = step.current.external_id if step.current is not None else step.change.person.external_id
        user = users.get(external_id) or step.current
        result.append(user)
        if external_id not in written:
            continue  # an update that changes nothing is not a change
        action = {ADD: ADDED, UPDATE: CHANGED, REMOVE: REMOVED_ACTION}[step.change.action]
        after = _record_of_person(step.change.person) if step.change.person else None
        data = {"before": before.get(step.change.key), "after": after, "via": via}
        if step.change.row:
            data["row"] = step.change.row
        events.append(audit_event(actor=actor, action=action, target=user, partner=partner, data=data, **client))
    audit_record_many(events)
    if events:
        partner_id = partner.pk
        transaction.on_commit(lambda: people_changed.send(sender=DirectoryUser, partner_id=partner_id))
    return result


def _record_of_person(person: Person) -> dict:
    return _record(person.name, person.status, [(a.kind, a.display) for a in person.addresses])


def _record_of_user(user: DirectoryUser) -> dict:
    return _record(user.display_name, user.status, [(a.kind, a.display_address) for a in user.addresses.all()])


def _record(name: str, status: str, addresses: Sequence[tuple[str, str]]) -> dict:
    """A person as the audit trail keeps them: name, status and addresses by kind."""
    by_kind = {kind: sorted(display for k, display in addresses if k == kind) for kind in AddressKind.values}
    return {"name": name, "status": status, "primary": (by_kind[AddressKind.PRIMARY] or [""])[0],
            "aliases": by_kind[AddressKind.ALIAS], "forwarding": by_kind[AddressKind.FORWARDING]}
