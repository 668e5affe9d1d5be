"""Bulk writes of synced people and addresses, in set-based SQL.

People are staged in a temporary table (PostgreSQL: COPY; SQLite: executemany) and merged
with INSERT … ON CONFLICT, then the addresses of exactly those people are replaced. A
per-person ORM loop is ~25 times slower or worse (about 15 round trips and several commits per
person, every row rewritten even when unchanged; bench/README.md has the figures), so the hot
path stays in SQL; the same statements run on PostgreSQL and on the embedded default's SQLite.
"""

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db import connection as default_connection
from django.utils import timezone

from directory_sync.mapping import Person
from directory_sync.models import ADDRESS_IN_EITHER_STATE_SQL, DirectoryAddress, DirectoryUser, DirectoryUserStatus

USERS = DirectoryUser._meta.db_table
ADDRESSES = DirectoryAddress._meta.db_table
# Lets a query by (partner, address) use the two partial indexes (models.ADDRESS_IN_EITHER_STATE).
EITHER_STATE = ADDRESS_IN_EITHER_STATE_SQL.format(alias="")
EITHER_STATE_D = ADDRESS_IN_EITHER_STATE_SQL.format(alias="d.")


@dataclass(frozen=True, slots=True)
class Conflict:
    address: str
    claimant_external_id: str
    claimant_dn: str
    holders: tuple[tuple[str, str], ...]  # (external_id, dn) of the others claiming it


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_escape(value: str) -> str:
    """A value in COPY's text format (backslash escapes for the separators).

    Almost no value has one of them; four substring tests are far cheaper than translate().
    """
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


class Writer:
    """Writes batches of people for one account (partner) on one database connection."""

    def __init__(self, *, partner_id: int, connection=default_connection):
        self.partner_id = partner_id
        self.connection = connection
        self.vendor = connection.vendor

    # -- staging ------------------------------------------------------------------------
    def _copy(self, cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *,
              escaped: bool = False) -> None:
        """PostgreSQL's COPY of text rows into `table`; `escaped` rows are already in COPY's text format."""
        buffer = io.StringIO()
        if escaped:
            buffer.writelines("\t".join(row) + "\n" for row in rows)
        else:
            buffer.writelines("\t".join([_copy_escape(v) for v in row]) + "\n" for row in rows)
        buffer.seek(0)
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)

    def _stage(self, cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} ({', '.join(f'{c} text' for c in columns)})")
        if self.vendor == "postgresql":
            self._copy(cursor, table, columns, rows)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows))

    def _delete_addresses_of(self, cursor, staged: str, column: str = "external_id") -> None:
        """Delete the addresses of the people listed in the staging table `staged` (by stable id or user id)."""
        if column == "uid":
            cursor.execute(
                f"DELETE FROM {ADDRESSES} WHERE directory_user_id IN (SELECT CAST(uid AS BIGINT) FROM {staged})"
            )
            return
        cursor.execute(
            f"""
            DELETE FROM {ADDRESSES} WHERE directory_user_id IN (
                SELECT u.id FROM {USERS} u JOIN {staged} s ON s.external_id = u.external_id
                WHERE u.partner_id = %s)
            """,
            [self.partner_id],
        )

    # -- people -------------------------------------------------------------------------
    def write_people(self, people: Sequence[Person], *, new: set[str] | frozenset[str] = frozenset()) -> list[Conflict]:
        """Create or update these people and replace their addresses; return the address conflicts.

        `new` names the stable ids the account did not have: they have no addresses to delete.
        Every statement works on the batch alone (by the ids the upsert returns), never on the
        whole account, so a batch costs the same at the start of a 100,000-person sync as at its end.
        Call inside a transaction: the batch is written whole or not at all.
        """
        if not people:
            return []
        now = timezone.now()
        if self.vendor == "postgresql" and len(new) == len(people):
            return self._insert_new(people, now)
        with self.connection.cursor() as cursor:
            self._stage(
                cursor, "ds_stage_people",
                ("external_id", "dn", "display_name", "status", "content_hash", "source_hash"),
                ((p.external_id, p.dn, p.name[:300], p.status, p.content_hash, p.source_hash) for p in people),
            )
            # `WHERE true` lets SQLite parse ON CONFLICT after INSERT … SELECT.
            cursor.execute(
                f"""
                INSERT INTO {USERS} (partner_id, external_id, dn, display_name, status, content_hash, source_hash,
                                     first_seen_at, changed_at)
                SELECT %s, external_id, dn, display_name, status, content_hash, source_hash, %s, %s
                FROM ds_stage_people WHERE true
                ON CONFLICT (partner_id, external_id) DO UPDATE SET
                    dn = excluded.dn, display_name = excluded.display_name, status = excluded.status,
                    content_hash = excluded.content_hash, source_hash = excluded.source_hash,
                    changed_at = excluded.changed_at
                RETURNING id, external_id
                """,
                [self.partner_id, now, now],
            )
            ids = {external_id: pk for pk, external_id in cursor.fetchall()}
            existing = [(str(ids[p.external_id]),) for p in people if p.external_id not in new]
            if existing:
                self._stage(cursor, "ds_stage_uids", ("uid",), existing)
                self._delete_addresses_of(cursor, "ds_stage_uids", column="uid")
            rows = [(str(ids[p.external_id]), a.address, a.display, a.kind) for p in people for a in p.addresses]
            return self._add_addresses(cursor, rows)

    def _add_addresses(self, cursor, rows: list[tuple[str, str, str, str]]) -> list[Conflict]:
        """Insert (user id, address, display, kind) rows; an address someone else holds becomes a conflict.

        Needs ds_stage_people to list the batch's stable ids (to name the claimants in it).
        """
        self._stage(cursor, "ds_stage_addresses", ("uid", "address", "display_address", "kind"), rows)
        cursor.execute(
            f"""
            INSERT INTO {ADDRESSES} (partner_id, directory_user_id, address, display_address, kind, in_conflict)
            SELECT %s, CAST(uid AS BIGINT), address, display_address, kind, %s FROM ds_stage_addresses WHERE true
            ON CONFLICT (partner_id, address) WHERE NOT in_conflict DO NOTHING
            """,
            [self.partner_id, False],
        )
        return self._claim_conflicts(cursor, left_out=cursor.rowcount < len(rows))

    def _insert_new(self, people: Sequence[Person], now) -> list[Conflict]:
        """A batch of people the account did not have (a first sync): COPY straight into the tables.

        Nothing is there to merge with, so the upsert and its staging are skipped. Only addresses
        someone already holds, or that two people of the batch share, go the conflict-aware way.
        Which ones someone holds is asked only when the COPY says there is one (`_copy_unless_held`).
        """
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT nextval(pg_get_serial_sequence('{USERS}', 'id')) FROM generate_series(1, %s)", [len(people)]
            )
            ids = [row[0] for row in cursor.fetchall()]
            stamp = now.isoformat()
            partner = str(self.partner_id)
            # Only the free-text fields can hold COPY's separators; ids, hashes and states cannot.
            self._copy(cursor, USERS, ("id", "partner_id", "external_id", "dn", "display_name", "status",
                                       "content_hash", "source_hash", "first_seen_at", "changed_at"),
                       ((str(pk), partner, _copy_escape(p.external_id), _copy_escape(p.dn),
                         _copy_escape(p.name[:300]), p.status, p.content_hash, p.source_hash, stamp, stamp)
                        for pk, p in zip(ids, people, strict=True)), escaped=True)
            rows = [(str(pk), a.address, a.display, a.kind) for pk, p in zip(ids, people, strict=True)
                    for a in p.addresses]
            counts = Counter(row[1] for row in rows)
            held = self._held(cursor, counts, in_conflict_only=True)
            if not self._copy_unless_held(cursor, [row for row in rows if counts[row[1]] == 1 and row[1] not in held]):
                held = self._held(cursor, counts)
                self._copy_owned(cursor, [row for row in rows if counts[row[1]] == 1 and row[1] not in held])
            contested = [row for row in rows if counts[row[1]] > 1 or row[1] in held]
            if not contested:
                return []
            self._stage(cursor, "ds_stage_people", ("external_id",), ((p.external_id,) for p in people))
            return self._add_addresses(cursor, contested)

    def _held(self, cursor, addresses: Iterable[str], *, in_conflict_only: bool = False) -> set[str]:
        """Which of these addresses the account holds already (or only: holds in conflict)."""
        if in_conflict_only:
            # Conflicts are rare: one probe of their index answers "none" for most accounts.
            cursor.execute(
                f"SELECT 1 FROM {ADDRESSES} WHERE partner_id = %s AND in_conflict LIMIT 1", [self.partner_id]
            )
            if cursor.fetchone() is None:
                return set()
        cursor.execute(
            f"SELECT DISTINCT address FROM {ADDRESSES} WHERE partner_id = %s AND address = ANY(%s) AND "
            + ("in_conflict" if in_conflict_only else EITHER_STATE),
            [self.partner_id, list(addresses)],
        )
        return {row[0] for row in cursor.fetchall()}

    def _copy_unless_held(self, cursor, rows: list[tuple[str, str, str, str]]) -> bool:
        """COPY (user id, address, display, kind) rows as owned addresses; False, and nothing written, when
        the account already owns one of them.

        The unique index on owned addresses answers that as part of the COPY, and almost always with
        "no": asking first, by looking every address of the batch up, cost a first sync about 5 %.
        """
        try:
            with transaction.atomic(using=self.connection.alias):  # a savepoint: a failed COPY writes nothing
                self._copy_owned(cursor, rows)
        except (IntegrityError, self.connection.Database.IntegrityError):
            return False
        return True

    def _copy_owned(self, cursor, rows: list[tuple[str, str, str, str]]) -> None:
        partner = str(self.partner_id)
        # Valid addresses hold no whitespace or backslash (normalize_email refuses them).
        self._copy(cursor, ADDRESSES, ("partner_id", "directory_user_id", "address", "display_address", "kind",
                                       "in_conflict"),
                   ((partner, uid, address, display, kind, "f") for uid, address, display, kind in rows), escaped=True)

    def _claim_conflicts(self, cursor, *, left_out: bool) -> list[Conflict]:
        """Mark every staged address that several people claim as in conflict, for all of them.

        Two cases: the address was held by someone else (the insert above left it out), or it
        was already in conflict between others (the insert went through, but must not win).
        """
        if left_out:
            cursor.execute(
                f"""
                INSERT INTO {ADDRESSES} (partner_id, directory_user_id, address, display_address, kind, in_conflict)
                SELECT %s, CAST(a.uid AS BIGINT), a.address, a.display_address, a.kind, %s
                FROM ds_stage_addresses a
                LEFT JOIN {ADDRESSES} d ON d.directory_user_id = CAST(a.uid AS BIGINT) AND d.address = a.address
                WHERE d.id IS NULL
                """,
                [self.partner_id, True],
            )
        # Cheap when there is no conflict: the partial index holds only conflicting rows.
        cursor.execute(
            f"""
            SELECT DISTINCT a.address FROM ds_stage_addresses a WHERE EXISTS (
                SELECT 1 FROM {ADDRESSES} c WHERE c.partner_id = %s AND c.address = a.address AND c.in_conflict)
            """,
            [self.partner_id],
        )
        addresses = [row[0] for row in cursor.fetchall()]
        conflicts = []
        for address in addresses:
            cursor.execute(
                f"UPDATE {ADDRESSES} SET in_conflict = %s WHERE partner_id = %s AND address = %s AND NOT in_conflict",
                [True, self.partner_id, address],
            )
            cursor.execute(
                f"""
                SELECT u.external_id, u.dn, EXISTS (SELECT 1 FROM ds_stage_people s WHERE s.external_id = u.external_id)
                FROM {ADDRESSES} d JOIN {USERS} u ON u.id = d.directory_user_id
                WHERE d.partner_id = %s AND d.address = %s AND {EITHER_STATE_D} ORDER BY u.external_id
                """,
                [self.partner_id, address],
            )
            claimants = cursor.fetchall()
            for external_id, dn, staged in claimants:
                if staged:
                    others = tuple((e, d) for e, d, _ in claimants if e != external_id)
                    conflicts.append(Conflict(address, external_id, dn, others))
        return conflicts

    # -- removals and conflict resolution ------------------------------------------------
    def remove_people(self, external_ids: Sequence[str]) -> int:
        """Mark people removed from the directory and free their addresses; return how many."""
        if not external_ids:
            return 0
        with self.connection.cursor() as cursor:
            self._stage(cursor, "ds_stage_removed", ("external_id",), ((e,) for e in external_ids))
            self._delete_addresses_of(cursor, "ds_stage_removed")
            cursor.execute(
                f"""
                UPDATE {USERS} SET status = %s, content_hash = '', source_hash = '', changed_at = %s
                WHERE partner_id = %s AND status <> %s
                  AND external_id IN (SELECT external_id FROM ds_stage_removed)
                """,
                [DirectoryUserStatus.REMOVED, timezone.now(), self.partner_id, DirectoryUserStatus.REMOVED],
            )
            return cursor.rowcount

    def resolve_conflicts(self) -> int:
        """An address left with a single claimant is no longer in conflict: give it back."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {ADDRESSES} SET in_conflict = %s
                WHERE partner_id = %s AND in_conflict AND address IN (
                    SELECT address FROM {ADDRESSES} WHERE partner_id = %s AND in_conflict
                    GROUP BY address HAVING COUNT(*) = 1)
                """,
                [False, self.partner_id, self.partner_id],
            )
            return cursor.rowcount

    def open_conflicts(self) -> int:
        """How many addresses of this account are claimed by several people."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(DISTINCT address) FROM {ADDRESSES} WHERE partner_id = %s AND in_conflict",
                [self.partner_id],
            )
            return cursor.fetchone()[0]
