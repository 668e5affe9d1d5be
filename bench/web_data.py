"""The web benchmark's data set: partners, directories, users, requests, invites and audit events, built set-wise.

`DataSet.grow(scale)` adds rows up to `scale` of the full size (bench/web_shapes.py), so the benchmark can measure at
1/10 and then grow the same database to the full size. Rows are written with one `COPY` per table into the real
tables (their columns read from the models, so a field added later with a default is filled with it), ids are
assigned here and the sequences moved past them afterwards. Everything random comes from a seeded generator.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import random
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import models
from django.utils import timezone

from accounts.models import Role, TOTPDevice, User
from bench.web_copy import copy_rows, move_sequences
from bench.web_shapes import (
    ACTIONS,
    ADMINS,
    BIG,
    BIG_ITEM_SHARE,
    BIG_USER_SHARE,
    CSV_TARGET,
    EVERY_STATE_K,
    FIXED_LIST,
    FULL,
    INVITE_OF_ITEM,
    ITEM_ACTIONS,
    ITEM_STATES,
    PARTNERS_PER_MANAGER,
    PASSWORD,
    RESELLER_STATE,
    SMALL,
    VENDOR_DOMAIN,
    big_primary,
    counts_at,
    domain_of,
    person_name,
)
from core.models import AuditEvent, MailState, OutboundMail
from directory_sync.models import (
    AddressKind,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
    SourceKind,
    SyncMode,
    SyncRun,
    SyncStatus,
)
from onboarding.models import (
    CheckResult,
    Invite,
    InviteKind,
    InviteState,
    ItemState,
    PortalUserRequest,
    RequestItem,
    RequestSource,
)
from partners.models import AccountDomain, AccountSettings, Agreement, AuthMethod, Partner, PartnerKind, TwoFactorPolicy

# --- the data set -----------------------------------------------------------------------------------------------


@dataclass
class PartnerRow:
    id: int
    slug: str
    kind: str
    manager_id: int
    auth_method: str
    user_ids: list[int] = field(default_factory=list)


@dataclass
class DataSet:
    """What has been built so far (ids and counts), so that `grow` adds only the difference."""

    seed: int
    scale: float = 0.0
    next_id: dict[str, int] = field(default_factory=dict)
    admins: list[int] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)
    partners: list[PartnerRow] = field(default_factory=list)
    have: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FULL, 0))
    big_people: int = 0
    big_person_ids: list[int] = field(default_factory=list)  # by k
    password_hash: str = ""
    fixed_request_id: int = 0
    every_state_lists: set[int] = field(default_factory=set)
    items: list[tuple[int, int, str]] = field(default_factory=list)  # (id, partner id, state) of every item
    rows_written: int = 0

    def ids(self, model: type[models.Model], n: int) -> range:
        key = model._meta.label
        if key not in self.next_id:
            self.next_id[key] = (model.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        start = self.next_id[key]
        self.next_id[key] = start + n
        return range(start, start + n)

    def partner(self, slug: str) -> PartnerRow:
        return next(p for p in self.partners if p.slug == slug)

    @property
    def msps(self) -> list[PartnerRow]:
        """MSPs whose directory holds the 'other' people (not the big one, not the CSV import's target)."""
        return [p for p in self.partners if p.kind == PartnerKind.MSP and p.slug not in (BIG, CSV_TARGET)]

    def grow(self, scale: float) -> dict[str, int]:
        """Add rows up to `scale` of the full size; returns the rows written per table."""
        rng = random.Random(f"bench-web:{self.seed}:{scale}")
        want = counts_at(scale)
        written: dict[str, int] = {}
        now = timezone.now()
        if not self.password_hash:
            # One Argon2 hash for everyone: hashing 3,600 passwords would take minutes.
            self.password_hash = make_password(PASSWORD)
        written |= self._vendor_staff(want, now)
        written |= self._partners(want, rng, now)
        written |= self._people(want, rng)
        written |= self._users(want, now)
        written |= self._items_and_invites(want, rng, now)
        written |= self._audit_and_mail(want, rng, now)
        move_sequences(User, Partner, Agreement, AccountDomain, DirectoryConnection, DirectoryUser, DirectoryAddress,
                       PortalUserRequest, RequestItem, Invite, AuditEvent, OutboundMail, SyncRun)
        self.scale = scale
        self.rows_written += sum(written.values())
        return written

    # --- users and partners ---------------------------------------------------------------------------------

    def _user_row(self, uid: int, email: str, name: str, role: str, partner_id: int | None, now, *,
                  directory_user_id: int | None = None) -> tuple:
        admin = role == Role.ADMIN  # as the demo data: only administrators use the Django admin
        return (uid, self.password_hash, email.lower(), email, name, role, partner_id, directory_user_id, True,
                admin, admin, now)

    USER_COLUMNS = ["id", "password", "email", "display_email", "full_name", "role", "partner_id",
                    "directory_user_id", "is_active", "is_staff", "is_superuser", "date_joined"]

    def _vendor_staff(self, want: dict[str, int], now) -> dict[str, int]:
        rows = []
        if not self.admins:
            for uid, n in zip(self.ids(User, ADMINS), range(ADMINS), strict=True):
                rows.append(self._user_row(uid, f"admin{n}@{VENDOR_DOMAIN}", f"Admin {n}", Role.ADMIN, None, now))
                self.admins.append(uid)
        managers = math.ceil(want["partners"] / PARTNERS_PER_MANAGER)
        new = managers - len(self.managers)
        for uid in self.ids(User, max(0, new)):
            n = len(self.managers)
            rows.append(self._user_row(uid, f"am{n}@{VENDOR_DOMAIN}", f"Account Manager {n}", Role.ACCOUNT_MANAGER,
                                       None, now))
            self.managers.append(uid)
        copy_rows(User, self.USER_COLUMNS, rows)
        if new == managers:  # the first build: second factors of the staff the benchmark signs in as
            TOTPDevice.objects.bulk_create(
                [TOTPDevice(user_id=uid, name="bench", confirmed=True) for uid in (self.admins[0], self.managers[0])]
            )
        self.have["users"] += len(rows)
        return {"users (vendor staff)": len(rows)}

    def _partners(self, want: dict[str, int], rng: random.Random, now) -> dict[str, int]:
        start = len(self.partners)
        n = want["partners"] - start
        if n <= 0:
            return {}
        partners, settings_rows, domains, agreements, connections, runs = [], [], [], [], [], []
        domain_ids = iter(self.ids(AccountDomain, 2 * n))
        agreement_ids = iter(self.ids(Agreement, 2 * n))
        connection_ids = iter(self.ids(DirectoryConnection, n))
        for pid, i in zip(self.ids(Partner, n), range(start, start + n), strict=True):
            slug = {0: BIG, 1: SMALL, 2: CSV_TARGET}.get(i, f"partner-{i:03d}")
            kind = PartnerKind.MSP if i in (0, 2) or (i > 2 and i % 2 == 0) else PartnerKind.RESELLER
            method = AuthMethod.CLOUD_PASSWORD
            if i > 2:
                method = rng.choices([AuthMethod.CLOUD_PASSWORD, AuthMethod.DOMAIN_PASSWORD, AuthMethod.SSO],
                                     [7, 2, 1])[0]
                if kind == PartnerKind.RESELLER and method == AuthMethod.DOMAIN_PASSWORD:
                    method = AuthMethod.CLOUD_PASSWORD  # a domain password needs a directory
            manager = self.managers[i // PARTNERS_PER_MANAGER]
            row = PartnerRow(pid, slug, kind, manager, method)
            self.partners.append(row)
            created = now - datetime.timedelta(days=400 + rng.randrange(400))
            partners.append((pid, f"Partner {slug.replace('-', ' ').title()}", slug, kind, manager, True, created))
            sso = method == AuthMethod.SSO
            settings_rows.append((pid, method, rng.choice([TwoFactorPolicy.OPTIONAL, TwoFactorPolicy.REQUIRED,
                                                           TwoFactorPolicy.OFF]) if i > 2 else TwoFactorPolicy.OPTIONAL,
                                  f"https://idp.{domain_of(slug)}" if sso else "", f"portal-{slug}" if sso else ""))
            domains.append((next(domain_ids), pid, domain_of(slug)))
            if rng.random() < 0.3:
                domains.append((next(domain_ids), pid, f"mail.{domain_of(slug)}"))
            signed = created + datetime.timedelta(days=rng.randrange(30))
            if rng.random() < 0.4:  # an earlier, superseded agreement
                agreements.append((next(agreement_ids), pid, "2024.1", signed, f"Signer of {slug}",
                                   signed.date() + datetime.timedelta(days=365), created))
                signed += datetime.timedelta(days=365)
            agreements.append((next(agreement_ids), pid, "2025.1", signed, f"Signer of {slug}", None, created))
            if kind == PartnerKind.MSP:
                cid = next(connection_ids)
                if slug == CSV_TARGET:
                    connections.append((cid, pid, SourceKind.CSV, "", ""))
                else:
                    connections.append((cid, pid, SourceKind.LDAP, f"ldap://dc1.{domain_of(slug)}",
                                        f"OU=Staff,DC={slug},DC=example"))
                    finished = now - datetime.timedelta(minutes=rng.randrange(1, 15))
                    runs.append((cid, SyncMode.INCREMENTAL, SyncStatus.SUCCEEDED, finished - datetime.timedelta(
                        seconds=20), finished, finished))
        copy_rows(Partner, ["id", "name", "slug", "kind", "account_manager_id", "is_active", "created_at"], partners)
        copy_rows(AccountSettings, ["partner_id", "auth_method", "two_factor_policy", "sso_issuer", "sso_client_id"],
                  settings_rows)
        copy_rows(AccountDomain, ["id", "partner_id", "domain"], domains)
        copy_rows(Agreement, ["id", "partner_id", "version", "signed_at", "signed_by_name", "valid_until",
                              "created_at"], agreements)
        copy_rows(DirectoryConnection, ["id", "partner_id", "kind", "uri", "base_dn"], connections)
        run_rows = [(rid, *r) for rid, r in zip(self.ids(SyncRun, len(runs)), runs, strict=True)]
        copy_rows(SyncRun, ["id", "connection_id", "mode", "status", "started_at", "finished_at", "heartbeat_at"],
                  run_rows)
        self.have["partners"] = len(self.partners)
        return {"partners": len(partners), "agreements": len(agreements), "account domains": len(domains),
                "directory connections": len(connections), "sync runs": len(run_rows)}

    # --- directories ------------------------------------------------------------------------------------------

    def _people(self, want: dict[str, int], rng: random.Random) -> dict[str, int]:
        people, addresses = [], []
        big = self.partner(BIG)
        big_new = max(0, want["big_people"] - self.big_people)
        for k in range(self.big_people, want["big_people"]):
            self._person(big, k, big_primary(k), rng, people, addresses)
        self.big_people = max(self.big_people, want["big_people"])
        msps = self.msps
        for k in range(self.have["other_people"], want["other_people"]):
            p = msps[k % len(msps)]
            first, last = person_name(k)
            self._person(p, k, f"{first}.{last}.{k}@{domain_of(p.slug)}", rng, people, addresses)
        self.have["other_people"] = max(self.have["other_people"], want["other_people"])
        person_ids = self.ids(DirectoryUser, len(people))
        people = [(pid, *row[1:]) for pid, row in zip(person_ids, people, strict=True)]
        # Addresses point at their person by position in `people`: now the ids are known.
        addresses = [(aid, row[0], person_ids[row[1]], *row[2:])
                     for aid, row in zip(self.ids(DirectoryAddress, len(addresses)), addresses, strict=True)]
        copy_rows(DirectoryUser, ["id", "partner_id", "external_id", "dn", "display_name", "status", "content_hash",
                                  "source_hash"], people)
        copy_rows(DirectoryAddress, ["id", "partner_id", "directory_user_id", "address", "display_address", "kind",
                                     "in_conflict"], addresses)
        self.big_person_ids += person_ids[:big_new]  # the big MSP's people come first in `people`
        return {"directory people": len(people), "directory addresses": len(addresses)}

    @staticmethod
    def _person(p: PartnerRow, k: int, primary: str, rng: random.Random, people: list, addresses: list) -> None:
        first, last = person_name(k)
        digest = hashlib.sha256(f"{p.slug}:{k}".encode()).hexdigest()
        status = DirectoryUserStatus.ACTIVE
        roll = rng.random()
        if p.slug == BIG and k < FIXED_LIST:
            pass  # the big MSP's portal users and its fixed list: people who can sign in
        elif roll < 0.01:
            status = DirectoryUserStatus.REMOVED
        elif roll < 0.05:
            status = DirectoryUserStatus.DISABLED
        guid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        position = len(people)
        people.append((None, p.id, guid, f"CN={first} {last} {k},OU=Staff,DC={p.slug},DC=example",
                       f"{first} {last} {k}", status, digest, digest[::-1]))
        domain = domain_of(p.slug)
        addresses.append((p.id, position, primary.lower(), primary, AddressKind.PRIMARY, False))
        # ~1.15 aliases and ~0.3 forwarding addresses a person: 2.45 addresses each, as the data set.
        aliases = rng.choices([0, 1, 2, 3], [0.25, 0.45, 0.20, 0.10])[0]
        for a in range(aliases):
            alias = [f"{first[0]}{last}.{k}", f"{first}.{k}", f"{last}.{first}.{k}"][a]
            addresses.append((p.id, position, f"{alias}@{domain}".lower(), f"{alias}@{domain}", AddressKind.ALIAS,
                              False))
        if rng.random() < 0.3:
            fwd = f"{first}.{last}.{k}@{p.slug}-mail.example"
            addresses.append((p.id, position, fwd.lower(), fwd, AddressKind.FORWARDING, False))

    # --- portal users -------------------------------------------------------------------------------------

    def _users(self, want: dict[str, int], now) -> dict[str, int]:
        partner_users = want["users"] - ADMINS - len(self.managers)
        have = sum(len(p.user_ids) for p in self.partners)
        big = self.partner(BIG)
        big_want = max(4, round(partner_users * BIG_USER_SHARE))  # the benchmark signs in as its users 0, 1 and 3
        others = [p for p in self.partners if p.slug != BIG]
        rows = []
        new = max(0, partner_users - have, big_want - len(big.user_ids))
        uids = iter(self.ids(User, new))
        for _ in range(new):
            uid = next(uids)
            if len(big.user_ids) < big_want:
                p, k = big, len(big.user_ids)
                # The big MSP's people are on its directory: user k is its person k (the link recipient
                # validation would have made).
                email, directory_user = big_primary(k), self.big_person_ids[k]
            else:
                p = min(others, key=lambda q: len(q.user_ids))
                k = len(p.user_ids)
                first, last = person_name(k + 7)
                email, directory_user = f"{first}.{last}.u{k}@{domain_of(p.slug)}", None
            role = Role.PARTNER_ADMIN if k % 5 == 0 else Role.PARTNER_STAFF
            first, last = email.split("@")[0].split(".")[:2]
            rows.append(self._user_row(uid, email, f"{first} {last}", role, p.id, now,
                                       directory_user_id=directory_user))
            p.user_ids.append(uid)
        copy_rows(User, self.USER_COLUMNS, rows)
        self.have["users"] += len(rows)
        return {"users (partner people)": len(rows)}

    # --- requests, items and invites --------------------------------------------------------------------

    def _items_and_invites(self, want: dict[str, int], rng: random.Random, now) -> dict[str, int]:
        big = self.partner(BIG)
        requests, items, invites = [], [], []
        if not self.fixed_request_id:
            (rid,) = self.ids(PortalUserRequest, 1)
            self.fixed_request_id = rid
            submitted = now - datetime.timedelta(days=2)
            requests.append((rid, big.id, big.user_ids[0], RequestSource.CSV, submitted))
            for k in range(FIXED_LIST):
                self._item(items, rid, big, k, ItemState.SUBMITTED, submitted, rng)
            # The named partners: a list each with someone in every state (one with a failed invitation), so that
            # their pages have every section filled at every size and their query counts compare like with like.
            for m, p in enumerate((big, self.partner(SMALL))):
                (rid,) = self.ids(PortalUserRequest, 1)
                self.every_state_lists.add(rid)
                requests.append((rid, p.id, (p.user_ids or big.user_ids)[0], RequestSource.FORM, submitted))
                for n, state in enumerate(ITEM_STATES):
                    if p.kind == PartnerKind.RESELLER:
                        state = RESELLER_STATE.get(state, state)
                    self._item(items, rid, p, EVERY_STATE_K + 100 * m + n, state, submitted, rng)
        pattern = [s for s, n in ITEM_STATES.items() for _ in range(n)]
        target = want["items"] - self.have["items"] - len(items)
        made = 0
        while made < target:
            p = big if rng.random() < BIG_ITEM_SHARE else rng.choice(self.partners)
            if not p.user_ids:
                continue
            size = min(target - made, rng.randint(1, 400 if p is big else 40))
            (rid,) = self.ids(PortalUserRequest, 1)
            submitted = now - datetime.timedelta(minutes=rng.randrange(60, 365 * 24 * 60))
            requests.append((rid, p.id, rng.choice(p.user_ids), rng.choice(list(RequestSource)), submitted))
            for _ in range(size):
                state = rng.choice(pattern)
                if p.kind == PartnerKind.RESELLER:
                    state = RESELLER_STATE.get(state, state)
                k = FIXED_LIST + self.have["items"] + made if p is big else self.have["items"] + made
                self._item(items, rid, p, k, state, submitted, rng)
                made += 1
        item_ids = self.ids(RequestItem, len(items))
        items = [(iid, *row[1:]) for iid, row in zip(item_ids, items, strict=True)]
        self.items += [(row[0], row[2], row[6]) for row in items]
        invite_want = want["invites"] - self.have["invites"]
        for row in items:
            if len(invites) < invite_want and row[6] in INVITE_OF_ITEM:
                fail = row[1] in self.every_state_lists and row[6] == ItemState.ACCOUNT_CREATED
                invites.append(self._invite(row, rng, state=InviteState.FAILED if fail else None))
        # Top up with earlier invites of the same people (expired, then sent again).
        invited = [row for row in items if row[6] in INVITE_OF_ITEM]
        while len(invites) < invite_want and invited:
            invites.append(self._invite(rng.choice(invited), rng, state=InviteState.EXPIRED))
        invites = [(iid, *row[1:]) for iid, row in zip(self.ids(Invite, len(invites)), invites, strict=True)]
        copy_rows(PortalUserRequest, ["id", "partner_id", "submitted_by_id", "source", "submitted_at"], requests)
        copy_rows(RequestItem, ["id", "request_id", "partner_id", "name", "email", "display_email", "state",
                                "check_result", "rejection_reason", "decided_by_id", "decided_at", "awaiting_until",
                                "created_at", "updated_at"], items)
        copy_rows(Invite, ["id", "partner_id", "item_id", "kind", "email", "display_email", "name", "state",
                           "token_hash", "token_nonce", "expires_at", "sent_at", "send_attempts", "accepted_at",
                           "revoked_at", "created_by_id", "created_at", "next_attempt_at"], invites)
        self.have["items"] += len(items)
        self.have["invites"] += len(invites)
        return {"requests": len(requests), "request items": len(items), "invites": len(invites)}

    def _item(self, items: list, rid: int, p: PartnerRow, k: int, state: str, submitted, rng: random.Random) -> None:
        if p.slug == BIG:
            email = big_primary(k)
        else:
            first, last = person_name(k)
            email = f"{first}.{last}.r{k}@{domain_of(p.slug)}"
        first, last = email.split("@")[0].split(".")[:2]
        decided = None if state == ItemState.SUBMITTED else submitted + datetime.timedelta(hours=rng.randint(1, 72))
        check = ""
        if p.kind == PartnerKind.MSP:
            check = rng.choices([CheckResult.PRIMARY, CheckResult.NOT_FOUND, CheckResult.ALIAS], [8, 1, 1])[0]
        items.append((
            None, rid, p.id, f"{first} {last}", email.lower(), email, state, check,
            "Not one of ours" if state == ItemState.REJECTED else "",
            None if decided is None else p.manager_id, decided,
            decided + datetime.timedelta(days=30) if state == ItemState.AWAITING_VALIDATION else None,
            submitted, decided or submitted,
        ))

    def _invite(self, item: tuple, rng: random.Random, state: str | None = None) -> tuple:
        iid, _, partner_id, name, email, display, item_state = item[:7]
        decided = item[10]
        state = state or INVITE_OF_ITEM[item_state]
        if state == InviteState.SENT and rng.random() < 0.05:
            state = rng.choice([InviteState.PENDING, InviteState.FAILED])
        kind = InviteKind.WELCOME if item_state == ItemState.ACCOUNT_CREATED else InviteKind.INVITE
        created = decided + datetime.timedelta(minutes=rng.randint(1, 60))
        has_token = state not in (InviteState.PENDING,)
        nonce = hashlib.sha256(f"{self.seed}:{iid}:{rng.random()}".encode()).hexdigest()
        sent = created + datetime.timedelta(minutes=1) if has_token else None
        return (
            None, partner_id, iid, kind, email, display, name, state,
            hashlib.sha256(nonce.encode()).hexdigest() if has_token else None, nonce if has_token else "",
            created + datetime.timedelta(days=7), sent, 1 if has_token else 0,
            created + datetime.timedelta(days=1) if state == InviteState.ACCEPTED else None,
            created + datetime.timedelta(days=2) if state == InviteState.REVOKED else None,
            item[9], created, created,
        )

    # --- audit trail and outbox ---------------------------------------------------------------------------

    def _audit_and_mail(self, want: dict[str, int], rng: random.Random, now) -> dict[str, int]:
        new = max(0, want["audit"] - self.have["audit"])
        events = [self._event(eid, rng, now) for eid in self.ids(AuditEvent, new)]
        copy_rows(AuditEvent, ["id", "created_at", "actor_id", "actor_label", "action", "partner_id", "target_type",
                               "target_id", "target_label", "data", "ip_address", "user_agent"], events)
        self.have["audit"] += len(events)
        n = want["mail"] - self.have["mail"]
        # The named partners' pages show unsent mail: some of it at every size.
        named = [(p, state) for p in (self.partner(BIG), self.partner(SMALL))
                 for state in (MailState.FAILED, MailState.PENDING)] if not self.have["mail"] else []
        mails = []
        for mid in self.ids(OutboundMail, max(0, n)):
            p, state = named.pop() if named else (rng.choice(self.partners), None)
            state = state or rng.choices([MailState.SENT, MailState.FAILED, MailState.PENDING], [97, 2, 1])[0]
            at = now - datetime.timedelta(seconds=rng.randrange(30 * 24 * 3600))
            mails.append((mid, f"someone.{mid}@{domain_of(p.slug)}", "A decision on your list", "Hello,\n…",
                          "request_item_decided", p.id, state, 1, "SMTP 451" if state == MailState.FAILED else "",
                          at, at, at if state == MailState.SENT else None))
        copy_rows(OutboundMail, ["id", "to", "subject", "body", "template", "partner_id", "state", "attempts",
                                 "last_error", "created_at", "next_attempt_at", "sent_at"], mails)
        self.have["mail"] += len(mails)
        return {"audit events": len(events), "outbound mail": len(mails)}

    def _event(self, eid: int, rng: random.Random, now) -> tuple:
        """Four in five about a request item (with an action of its way to access), the rest sign-ins, syncs and
        agreements of a partner; the actor one of the partner's people or vendor staff."""
        at = now - datetime.timedelta(seconds=rng.randrange(365 * 24 * 3600))
        if self.items and rng.random() < 0.8:
            item_id, partner_id, _ = rng.choice(self.items)
            action = rng.choice(ITEM_ACTIONS)
            target = ("onboarding.requestitem", str(item_id), f"item {item_id}")
        else:
            p = rng.choice(self.partners)
            partner_id, action = p.id, rng.choice(ACTIONS)
            target = ("partners.partner", str(p.id), p.slug)
        actor = rng.choice(self.admins + self.managers) if rng.random() < 0.5 else None
        return (eid, at, actor, f"user{actor}@{VENDOR_DOMAIN}" if actor else "", action, partner_id, *target, {},
                "192.0.2.10", "bench")


def table_counts() -> dict[str, int]:
    """Rows in the tables the issue sizes the data set by."""
    return {
        "partners": Partner.objects.count(),
        "directory people": DirectoryUser.objects.count(),
        "directory addresses": DirectoryAddress.objects.count(),
        "portal users": User.objects.count(),
        "request items": RequestItem.objects.count(),
        "invites": Invite.objects.count(),
        "audit events": AuditEvent.objects.count(),
        "outbound mail": OutboundMail.objects.count(),
    }
