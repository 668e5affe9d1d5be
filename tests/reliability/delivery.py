"""What the delivery drills start, do and count: the deployed processes, the people, and what arrived.

A drill runs a prefork Celery worker (concurrency 2, as docker-compose runs it) and Celery beat with its
DatabaseScheduler, on the test database and a Redis of the drill's own, mailing a real SMTP server that
answers at a remote server's pace. Beat runs the sweepers every SWEEP_SECONDS and EMAIL_TIMEOUT is short,
so a claimed send goes stale after STALE_SECONDS (`core.mail.stale_after`). Like docker-compose's
`restart: unless-stopped`, the drill starts again a worker or beat that exits by itself, and says so.
"""

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.messages import get_messages
from django.db import connections
from django.db.models import Q
from django.test import Client
from django.urls import reverse

from core.models import OutboundMail
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import Invite, RequestItem
from onboarding.selectors import invite_by_token
from onboarding.services.requests import request_submit
from partners.models import PartnerKind
from tests.accounts.factories import PartnerAdminFactory
from tests.conftest import login_with_second_factor
from tests.mail import MailServer, _Handler
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.workers import CeleryProcess, RedisServer, celery_env, publishing_to

CONCURRENCY = 2  # docker-compose's worker
SWEEP_SECONDS = 1
EMAIL_TIMEOUT = 2
STALE_SECONDS = EMAIL_TIMEOUT + 5  # core.mail.stale_after(): OUTBOX_STALE_SECONDS (1) is below it
# Production mails within three minutes of a crash, with a sweep a minute and a claim stale after one:
# 1.5 times their sum. The drills allow three times the scaled sum: a new worker's start and Redis'
# reconnection come on top, and take seconds whatever the intervals.
RECOVERY = 3 * (SWEEP_SECONDS + STALE_SECONDS)
SMTP_LATENCY = 0.05  # what a remote SMTP server takes before it takes a message: kills land mid-send
PORTAL_URL = "http://testserver"  # the links' host: the test client opens their paths
ON_THE_WAY = ("pending", "sending")  # of an invite and of a notification: neither is done yet
INVITE_SUBJECTS = ("Your invitation to the Partner Portal (", "Your Partner Portal account is ready (")
LINK_PATH = "/invite/"  # the code is the link's fragment, which no server ever sees


class RemoteSmtp(_Handler):
    """The SMTP server's handler at a remote server's pace, the wait spent before the message is handed
    over (at RCPT): a worker killed meanwhile has claimed a mail that did not go out."""

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options: list[str]) -> str:
        await asyncio.sleep(SMTP_LATENCY)
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass
class Drill:
    """The drill's processes: a Redis of its own, beat, and the workers started so far."""

    directory: Path
    redis: RedisServer
    mailbox: MailServer
    env: dict[str, str]
    beat: CeleryProcess | None = None
    workers: list[CeleryProcess] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)  # processes that exited by themselves, and why

    def start(self) -> CeleryProcess:
        """Beat and a first worker, started side by side; returns the worker."""
        self.beat = CeleryProcess.beat(self.env, self.directory).launch()
        worker = self.worker_launch()
        self.beat.wait_ready()
        return worker.wait_ready()

    def worker_launch(self) -> CeleryProcess:
        worker = CeleryProcess.worker(self.env, self.directory, str(len(self.workers) + 1), concurrency=CONCURRENCY)
        self.workers.append(worker)
        return worker.launch()

    def supervise(self) -> None:
        """Start again what exited by itself, as docker-compose's `restart: unless-stopped` does."""
        for process in [self.beat, self.workers[-1] if self.workers else None]:
            if process is None or not process.crashed():
                continue
            self.crashes.append(process.last_words())
            process.killed = True  # dealt with: replaced here
            if process is self.beat:
                self.beat = CeleryProcess.beat(self.env, self.directory).launch()
            else:
                self.worker_launch()

    def crash_figure(self) -> str:
        return f"crashed and restarted {len(self.crashes)}" + "".join(f" [{why[:160]}]" for why in self.crashes)

    def alive(self) -> str:
        """Which processes run, and the last CRITICAL line of a worker that still runs (a hung one says why)."""
        states = [("up" if w.alive() else "killed" if w.killed else "crashed")
                  + (f" [{w.last_words()[:200]}]" if w.alive() and " CRITICAL " in w.last_words() else "")
                  for w in self.workers]
        return f"beat {'up' if self.beat and self.beat.alive() else 'down'}, workers " + ", ".join(states)

    def redis_unacked(self) -> int:
        """Messages a worker took and has not acknowledged (kombu's Redis transport keeps them in a hash): the
        tasks it runs and the ones it reserved. Redis gives them back only after the visibility timeout."""
        return self.redis_wait(lambda unacked: True)

    def redis_wait(self, until: Callable[[int], bool], *, timeout: float = 10) -> int:
        """Poll the number of unacknowledged messages until `until(number)`; return it."""
        import redis

        client = redis.Redis.from_url(self.redis.url)
        deadline = time.monotonic() + timeout
        try:
            while not until(unacked := client.hlen("unacked")):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{unacked} unacknowledged messages after {timeout} s")
                time.sleep(0.001)
            return unacked
        finally:
            client.close()

    def stop(self) -> None:
        for process in [*self.workers, self.beat]:
            if process is not None:
                process.stop()


@contextlib.contextmanager
def drill_prepared(directory: Path, mail_server: MailServer) -> Iterator[Drill]:
    """A Redis of the drill's own, which the test process publishes to as well; beat and workers on demand."""
    mail_server._controller.handler = RemoteSmtp(mail_server)  # each new SMTP session takes it from here
    redis = RedisServer(directory / "redis").start()
    env = celery_env(
        redis_url=redis.url, email_url=mail_server.email_url, EMAIL_TIMEOUT=str(EMAIL_TIMEOUT),
        OUTBOX_SWEEP_SECONDS=str(SWEEP_SECONDS), OUTBOX_STALE_SECONDS="1", INVITE_SEND_RETRY_BACKOFF="1",
        PORTAL_URL=PORTAL_URL,
        # A worker whose shutdown after an unrecoverable error wedges exits soon, and is restarted (supervise).
        CELERY_WORKER_WEDGED_EXIT_SECONDS="3",
        # No result store, as in production (the test settings keep results in Redis): a worker must not
        # wait on a Redis that is down to store a result nobody reads. Celery reads this before the settings.
        CELERY_RESULT_BACKEND="disabled://",
    )
    drill = Drill(directory=directory, redis=redis, mailbox=mail_server, env=env)
    try:
        with publishing_to(redis.url):
            yield drill
    finally:
        drill.stop()
        redis.stop()


# -- the people and their approval ------------------------------------------------------------------------


def msp_with_directory(manager, people: list[tuple[str, str]]):
    """An MSP with an agreement whose directory holds `people` (name, primary address), all enabled."""
    partner = PartnerFactory(name="Drill MSP", slug="drill-msp", kind=PartnerKind.MSP, account_manager=manager)
    AgreementFactory(partner=partner)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    rows = "".join(f"{name},{email},,,yes\n" for name, email in people)
    directory_csv_import(connection=connection, data=("name,primary,aliases,forwarding,enabled\n" + rows).encode())
    return partner


def batch_submitted(manager, *, msp_people: int, reseller_people: int) -> list[RequestItem]:
    """One list from an MSP (people in its directory) and one from a reseller, both this manager's."""
    msp_rows = [(f"Mia Msp{n}", f"Mia.Msp{n}@Drill-MSP.example") for n in range(msp_people)]
    msp = msp_with_directory(manager, msp_rows)
    reseller = PartnerFactory(name="Drill Reseller", slug="drill-reseller", kind=PartnerKind.RESELLER,
                              account_manager=manager)
    AgreementFactory(partner=reseller)
    reseller_rows = [(f"Rex Reseller{n}", f"Rex.Reseller{n}@Drill-Reseller.example") for n in range(reseller_people)]
    items = []
    for partner, rows in ((msp, msp_rows), (reseller, reseller_rows)):
        portal_request = request_submit(partner=partner, actor=PartnerAdminFactory(partner=partner), rows=rows)
        items += portal_request.items.order_by("id")
    return items


def reviewer_client(reviewer) -> Client:
    """A signed-in reviewer whose server errors come back as answers (500), as a browser gets them.

    Not raised: the test client hears of a view's exception through a global signal, so with two
    requests at once each client would raise the other's exception too."""
    client = Client(raise_request_exception=False)
    login_with_second_factor(client, reviewer)
    return client


def approve_on_review_page(client: Client, items: list[RequestItem]) -> tuple[int, str, list[str]]:
    """POST the review page's approval of `items`: the status, where it redirects, and the messages shown
    (for a server error, the exception instead)."""
    response = client.post(reverse("onboarding:review_decide"),
                           {"item": [item.pk for item in items], "decision": "approve"})
    if response.status_code >= 500:
        return response.status_code, "", [repr(response.exc_info[1]) if response.exc_info else "server error"]
    return response.status_code, response.get("Location", ""), [str(m) for m in get_messages(response.wsgi_request)]


def race(pairs: list[tuple[object, RequestItem]]) -> tuple[list[object], float]:
    """Each reviewer approves their item on the review page at the same moment, in a thread of their own.

    Returns each answer (as `approve_on_review_page`), or what escaped the request, and how long the
    requests overlapped (seconds; negative when one ended before the other began)."""
    barrier = threading.Barrier(len(pairs))
    answers: list[object] = [None] * len(pairs)
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(pairs)

    def approve(index: int, reviewer, item: RequestItem) -> None:
        try:
            client = reviewer_client(reviewer)  # a session of its own: no messages left from the last race
            barrier.wait(timeout=10)
            started = time.monotonic()
            answers[index] = approve_on_review_page(client, [item])
            spans[index] = (started, time.monotonic())
        except Exception as exc:  # what escaped is what the drill reports
            answers[index] = exc
        finally:
            connections.close_all()  # this thread's own database connection

    threads = [threading.Thread(target=approve, args=(n, reviewer, item)) for n, (reviewer, item) in enumerate(pairs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers, min(end for _, end in spans) - max(start for start, _ in spans)


# -- killing while sending --------------------------------------------------------------------------------


class KillWhileSending(threading.Thread):
    """Calls `kill` as soon as `at[0]`, then `at[1]`, … invite mails arrived.

    At that moment the child that mailed the last one may not have marked it sent yet: the kills aim
    at the window where a second copy is allowed, as well as at claims whose mail did not go out."""

    def __init__(self, mailbox: MailServer, *, at: list[int], kill: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.mailbox, self.at, self.kill = mailbox, at, kill
        self.kills: list[tuple[int, object]] = []  # (invite mails out at the kill, what kill returned)
        self.first_at: float | None = None
        self.last_at: float | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 60
        for threshold in self.at:
            while len(invite_mails(self.mailbox.messages)) < threshold:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.002)
            killed = self.kill()
            self.last_at = time.monotonic()
            self.first_at = self.first_at or self.last_at
            self.kills.append((len(invite_mails(self.mailbox.messages)), killed))


def claims_left() -> tuple[int, int]:
    """Invites and notifications claimed (sending) and not marked sent: what a killed worker left mid-send."""
    return Invite.objects.filter(state="sending").count(), OutboundMail.objects.filter(state="sending").count()


# -- what arrived -------------------------------------------------------------------------------------------


def invite_mails(messages) -> list:
    return [m for m in messages if m["Subject"].startswith(INVITE_SUBJECTS)]


def invite_tokens(message) -> list[str]:
    return [parts.fragment for url in MailServer.links(message)
            if (parts := urlsplit(url)).path == LINK_PATH and parts.fragment]


def all_done(mailbox: MailServer, people: list[RequestItem]) -> bool:
    """Nothing on its way any more, and every person's invite and every notification arrived at least once."""
    if Invite.objects.filter(state__in=ON_THE_WAY).exists() or OutboundMail.objects.filter(
        state__in=ON_THE_WAY
    ).exists():
        return False
    messages = mailbox.messages
    arrived = Counter((m["To"], m["Subject"]) for m in messages)
    invited = {m["To"] for m in invite_mails(messages)}
    expected = Counter(OutboundMail.objects.values_list("to", "subject"))
    return all(item.display_email in invited for item in people) and all(
        arrived[key] >= count for key, count in expected.items()
    )


def wait_until_all_done(drill: Drill, people: list[RequestItem], *, since: float, what: str) -> float:
    """Seconds from `since` until everything arrived; fails with what is missing after RECOVERY seconds.

    Meanwhile a process that exits by itself is started again, as the deployment's restart policy does."""
    deadline = since + RECOVERY
    while not all_done(drill.mailbox, people):
        drill.supervise()
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not everything was sent within {RECOVERY} s ({drill.alive()}; "
                        f"{drill.crash_figure()}): {delivery(drill.mailbox, people)}")
        time.sleep(0.2)
    return round(time.monotonic() - since, 1)


@dataclass
class Delivery:
    """What every person and notification got, counted against what the database says was decided."""

    people: int
    mails_expected: int
    mails_received: int
    lost: list[str] = field(default_factory=list)  # a person without an invite mail, a notification not arrived
    stuck: list[str] = field(default_factory=list)  # invites or notifications still pending or sending
    invite_duplicates: int = 0
    notification_duplicates: int = 0
    outside_window: list[str] = field(default_factory=list)  # a second copy though the first try did not die
    link_problems: list[str] = field(default_factory=list)  # not one invite, or not one working link, per person
    claimed_again: tuple[int, int] = (0, 0)  # invites and notifications claimed more than once (a kill hit them)

    @property
    def duplicated(self) -> int:
        return self.invite_duplicates + self.notification_duplicates

    def __str__(self) -> str:
        details = [*self.lost, *self.stuck, *self.outside_window, *self.link_problems][:20]
        return (f"{self.people} people, mails {self.mails_expected} expected / {self.mails_received} received, "
                f"lost {len(self.lost)}, duplicated {self.duplicated} (invites {self.invite_duplicates}, "
                f"notifications {self.notification_duplicates}), stuck {len(self.stuck)}, "
                f"link problems {len(self.link_problems)}, claimed again (invites, notifications) "
                f"{self.claimed_again}" + "".join(f"\n    {line}" for line in details))


def delivery(mailbox: MailServer, people: list[RequestItem]) -> Delivery:
    """Count what arrived: every person's invite mails and links, and every notification's copies."""
    messages = mailbox.messages
    notifications = list(OutboundMail.objects.all())
    result = Delivery(people=len(people), mails_expected=len(people) + len(notifications),
                      mails_received=len(messages))
    result.stuck = [f"invite {i.display_email} {i.state}" for i in Invite.objects.filter(state__in=ON_THE_WAY)]
    result.stuck += [f"mail {m.subject!r} {m.state}" for m in OutboundMail.objects.filter(state__in=ON_THE_WAY)]
    _invites_counted(result, invite_mails(messages), people)
    _notifications_counted(result, Counter((m["To"], m["Subject"]) for m in messages), notifications)
    result.claimed_again = (Invite.objects.filter(send_attempts__gte=2).count(),
                            OutboundMail.objects.filter(attempts__gte=2).count())
    return result


def _invites_counted(result: Delivery, mails: list, people: list[RequestItem]) -> None:
    """Each person: one invite, at least one mail, and every link in their mails the one that works."""
    anonymous = Client()
    for item in people:
        invites = list(Invite.objects.filter(partner_id=item.partner_id, email=item.email))
        theirs = [m for m in mails if m["To"] == item.display_email]
        result.invite_duplicates += max(len(theirs) - 1, 0)
        if not theirs:
            result.lost.append(f"no invite mail to {item.display_email}")
        if len(invites) != 1:
            result.link_problems.append(f"{item.display_email} has {len(invites)} invites")
            continue
        [invite] = invites
        if len(theirs) > 1 and invite.send_attempts < 2:
            result.outside_window.append(f"invite to {item.display_email} arrived {len(theirs)} times, "
                                         "sent at its first try")
        tokens = {token for m in theirs for token in invite_tokens(m)}
        working = {t for t in tokens if (found := invite_by_token(t)) is not None and found.pk == invite.pk
                   and found.can_accept() and anonymous.post(LINK_PATH, {"code": t}, follow=True).status_code == 200}
        if theirs and (len(tokens) != 1 or working != tokens):
            result.link_problems.append(f"{item.display_email}: {len(tokens)} links in {len(theirs)} mails, "
                                        f"{len(working)} working")


def _notifications_counted(result: Delivery, copies: Counter, notifications: list[OutboundMail]) -> None:
    """Each notification arrived, and arrived twice only if a try of it died."""
    alike: dict[tuple[str, str], list[OutboundMail]] = {}  # two lists' notices to one manager read the same
    for mail in notifications:
        alike.setdefault((mail.to, mail.subject), []).append(mail)
    for (to, subject), mails in alike.items():
        count = copies[(to, subject)]
        result.notification_duplicates += max(count - len(mails), 0)
        if count < len(mails):
            result.lost.append(f"notification {subject!r} to {to}: {count} of {len(mails)} arrived")
        elif count > len(mails) and all(mail.attempts < 2 for mail in mails):
            result.outside_window.append(f"notification {subject!r} arrived {count} times, sent at its first try")


def assert_nothing_stuck_lost_or_twice(result: Delivery, *, killed_mid_send: int) -> None:
    assert result.stuck == [], result
    assert result.lost == [], result
    assert result.link_problems == [], result
    assert result.outside_window == [], result
    # Each killed process was sending at most one mail: the documented window, no wider.
    assert result.duplicated <= killed_mid_send, result


def requesters_told(items: list[RequestItem]) -> list[str]:
    """Approved items whose requester's notification is not sent (empty when all were): the mail about the person
    when they were decided alone, or the one about their list when several of it were decided together."""
    missing = []
    for item in RequestItem.objects.filter(pk__in=[i.pk for i in items]).select_related("request__submitted_by"):
        to = item.request.submitted_by.display_email
        # The mail names each person of its batch, with the list's link.
        told = Q(template__in=["request_item_decided", "request_items_decided"],
                 body__contains=f"<{item.display_email}>") & Q(body__contains=f"/requests/{item.request_id}/")
        if not OutboundMail.objects.filter(told, to=to, state="sent").exists():
            missing.append(f"the decision on {item.display_email} (to {to})")
    return missing
