"""Drills: nothing stuck, nothing lost, nothing twice — when the worker is killed, Redis stops, or approvals race.

Each drill runs the deployed shape for real (see `tests.reliability.delivery`): a prefork Celery worker and
Celery beat running the sweepers, on the test database and a Redis of the drill's own, mailing a real SMTP
server. A person's mail may arrive twice only in the window the outbox documents (a worker killed after the
SMTP server took the message, before the *sent* mark committed): never more often than processes were
killed mid-send, only for a mail whose earlier try died, and every copy carries the same working link.

The figures of each drill are printed (`pytest -s` or `-rP`), and once more together after the last one.
"""

import logging
import time

import pytest
from django.urls import reverse

from core.models import OutboundMail
from onboarding.models import Invite, ItemState, RequestItem
from onboarding.services.requests import request_submit
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory
from tests.reliability.delivery import (
    CONCURRENCY,
    RECOVERY,
    SWEEP_SECONDS,
    KillWhileSending,
    approve_on_review_page,
    assert_nothing_stuck_lost_or_twice,
    batch_submitted,
    claims_left,
    delivery,
    drill_prepared,
    invite_mails,
    msp_with_directory,
    race,
    requesters_told,
    reviewer_client,
    wait_until_all_done,
)
from tests.services import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPORT: list[str] = []
QUEUE = reverse("onboarding:review_queue")  # where the review page's POST answers with its messages


@pytest.fixture(scope="module", autouse=True)
def _figures():
    """Every drill's figures once more, together, after the last one."""
    yield
    if REPORT:
        print("\n\nReliability drills:\n" + "\n".join(f"  {line}" for line in REPORT))


@pytest.fixture
def drill(transactional_db, tmp_path, mail_server, caplog):
    """The drill's Redis, beat and workers; after `transactional_db` so they stop before the tables are emptied."""
    caplog.set_level(logging.WARNING, logger="mail.log")  # aiosmtpd logs every SMTP command at INFO
    with drill_prepared(tmp_path, mail_server) as prepared:
        yield prepared


def report(line: str) -> None:
    REPORT.append(line)
    print(line)


def test_killing_the_whole_worker_mid_batch_leaves_every_person_one_working_link(drill):
    manager = AccountManagerFactory()
    items = batch_submitted(manager, msp_people=14, reseller_people=10)
    answer = approve_on_review_page(reviewer_client(manager), items)
    assert answer == (302, QUEUE, [f"{len(items)} people approved."])

    # The batch waits in Redis; the worker drains it, both children busy, and dies a third of the way.
    killer = KillWhileSending(drill.mailbox, at=[len(items) // 3], kill=lambda: drill.workers[0].kill())
    killer.start()
    drill.start()
    killer.join(timeout=60)
    assert killer.kills, f"the worker was not killed: {len(invite_mails(drill.mailbox.messages))} invites out"
    [(out_at_kill, pids)] = killer.kills
    assert out_at_kill < len(items), "the kill came after the batch was sent: it proves nothing"
    claims, unacked = claims_left(), drill.redis_unacked()
    restarted = time.monotonic()
    drill.worker_launch().wait_ready()
    seconds = wait_until_all_done(drill, items, since=restarted, what="after the restart")
    time.sleep(2 * SWEEP_SECONDS)  # a few more sweeps: nothing more may arrive
    result = delivery(drill.mailbox, items)

    report(f"whole worker killed: {len(items)} people (14 MSP, 10 reseller), 1 kill of {len(pids)} processes "
           f"after {out_at_kill} invites, claims left (invites, notifications) {claims}, messages held {unacked}; "
           f"{result}; all sent {seconds} s after the new worker was launched "
           f"({round(restarted - killer.first_at + seconds, 1)} s after the kill; bound {RECOVERY} s); "
           f"{drill.crash_figure()}")
    assert_nothing_stuck_lost_or_twice(result, killed_mid_send=CONCURRENCY)
    assert requesters_told(items) == []


def test_killing_pool_children_mid_batch_leaves_nothing_stuck(drill):
    manager = AccountManagerFactory()
    items = batch_submitted(manager, msp_people=14, reseller_people=10)
    answer = approve_on_review_page(reviewer_client(manager), items)
    assert answer == (302, QUEUE, [f"{len(items)} people approved."])

    # The batch waits in Redis; while the worker drains it, a pool child dies a quarter and half of the way.
    killer = KillWhileSending(drill.mailbox, at=[len(items) // 4, len(items) // 2],
                              kill=lambda: drill.workers[0].kill_child())
    killer.start()
    worker = drill.start()
    killer.join(timeout=60)
    assert len(killer.kills) == 2, f"killed {killer.kills}: {len(invite_mails(drill.mailbox.messages))} invites out"
    assert killer.kills[-1][0] < len(items), "the kills came after the batch was sent: they prove nothing"
    seconds = wait_until_all_done(drill, items, since=killer.last_at, what="after the last kill")
    time.sleep(2 * SWEEP_SECONDS)
    result = delivery(drill.mailbox, items)

    report(f"pool children killed: {len(items)} people (14 MSP, 10 reseller), {len(killer.kills)} kills after "
           f"{[out for out, _ in killer.kills]} invites; {result}; all sent {seconds} s after the last kill "
           f"(bound {RECOVERY} s); {drill.crash_figure()}")
    wait_for(lambda: len(worker.children()) == CONCURRENCY, timeout=10, what="the parent's new pool children",
             alive=worker.alive)
    assert_nothing_stuck_lost_or_twice(result, killed_mid_send=len(killer.kills))
    assert requesters_told(items) == []


def test_approvals_while_redis_is_down_are_recorded_and_mailed_once_it_is_back(drill):
    manager = AccountManagerFactory()
    items = batch_submitted(manager, msp_people=5, reseller_people=5)
    drill.start()
    wait_until_all_done(drill, [], since=time.monotonic(), what="the lists' notifications")
    before = len(drill.mailbox.messages)

    drill.redis_wait(lambda unacked: unacked == 0)  # the worker holds no task (the next drill: it does)
    drill.redis.stop()
    stopped = time.monotonic()
    answer = approve_on_review_page(reviewer_client(manager), items)
    answered = round(time.monotonic() - stopped, 1)

    assert answer == (302, QUEUE, [f"{len(items)} people approved."])
    assert not RequestItem.objects.filter(pk__in=[i.pk for i in items], state=ItemState.SUBMITTED).exists()
    assert Invite.objects.filter(state="pending").count() == len(items)
    # The requesters' notifications: one per list decided.
    assert OutboundMail.objects.filter(state="pending").count() == len({item.request_id for item in items})
    during = len(drill.mailbox.messages) - before
    drill.redis.start()
    restarted = time.monotonic()
    seconds = wait_until_all_done(drill, items, since=restarted, what="after Redis came back")
    time.sleep(2 * SWEEP_SECONDS)
    result = delivery(drill.mailbox, items)

    report(f"Redis down during approval: {len(items)} people (5 MSP, 5 reseller) approved on the review page in "
           f"{answered} s (answer {answer[0]}), mails during the outage {during}; {result}; all sent {seconds} s "
           f"after Redis came back (bound {RECOVERY} s); {drill.crash_figure()}")
    assert_nothing_stuck_lost_or_twice(result, killed_mid_send=0)
    assert requesters_told(items) == []


def test_a_redis_outage_the_moment_the_worker_takes_a_task_delays_mail_but_loses_none(drill):
    manager = AccountManagerFactory()
    items = batch_submitted(manager, msp_people=5, reseller_people=5)
    worker = drill.start()
    wait_until_all_done(drill, [], since=time.monotonic(), what="the lists' notifications")

    # Redis dies as the worker takes a sweep (a task of milliseconds): it ends, and its ack fails, before
    # the worker notices the lost connection. Then approvals commit, and Redis comes back empty.
    taken = worker.wait_for_line("Task core.outbox_sweep[")
    drill.redis.stop()
    answer = approve_on_review_page(reviewer_client(manager), items)
    drill.redis.start()
    restarted = time.monotonic()

    assert answer == (302, QUEUE, [f"{len(items)} people approved."])
    seconds = wait_until_all_done(drill, items, since=restarted, what="after Redis came back")
    time.sleep(2 * SWEEP_SECONDS)
    result = delivery(drill.mailbox, items)

    report(f"Redis down as the worker took a task ({taken.split(' ', 4)[-1][:60]}): {len(items)} people "
           f"(5 MSP, 5 reseller) approved during the outage; {result}; all sent {seconds} s after Redis came "
           f"back (bound {RECOVERY} s); {drill.crash_figure()}")
    assert_nothing_stuck_lost_or_twice(result, killed_mid_send=0)
    assert requesters_told(items) == []


def race_outcome(answers: list[object], email: str) -> str:
    """'both attached', 'one refused', or what went wrong (an error escaped, an unexpected answer)."""
    if any(not isinstance(a, tuple) or a[0] >= 500 for a in answers):
        return f"escaped: {answers!r}"
    if any(a[:2] != (302, QUEUE) for a in answers):
        return f"unexpected answers: {answers!r}"
    approved = [messages == ["1 person approved."] for _, _, messages in answers]
    refused = [len(messages) == 1 and messages[0].startswith(f"{email}: ") for _, _, messages in answers]
    if all(approved):
        return "both attached"
    if sorted(approved) == [False, True] and any(refused):
        return "one refused"
    return f"unexpected messages: {[messages for _, _, messages in answers]!r}"


def test_two_approvals_of_one_person_at_the_same_moment_make_one_invite_and_one_mail(drill):
    manager = AccountManagerFactory()
    people = [(f"Rita Race{n}", f"Rita.Race{n}@Drill-MSP.example") for n in range(10)]
    partner = msp_with_directory(manager, people)
    first, second = (request_submit(partner=partner, actor=PartnerAdminFactory(partner=partner), rows=people)
                     for _ in range(2))
    drill.start()
    # The partner's account manager and a vendor admin: the two kinds of reviewer who see this partner's lists.
    reviewers = manager, AdminFactory()

    outcomes, overlapping = {}, 0
    for one, other in zip(first.items.order_by("id"), second.items.order_by("id"), strict=True):
        answers, overlap = race([(reviewers[0], one), (reviewers[1], other)])
        overlapping += overlap > 0
        outcomes[one.display_email] = race_outcome(answers, one.display_email)
    wrong = {email: outcome for email, outcome in outcomes.items() if outcome not in ("both attached", "one refused")}
    decided = RequestItem.objects.filter(partner=partner).exclude(state=ItemState.SUBMITTED)
    invited = list({item.email: item for item in decided}.values())  # one item per person
    seconds = wait_until_all_done(drill, invited, since=time.monotonic(), what="the racing approvals' mail")
    time.sleep(2 * SWEEP_SECONDS)
    result = delivery(drill.mailbox, invited)
    items = list(decided.all())  # read again: their state changed when the invite went out

    tally = {kind: list(outcomes.values()).count(kind) for kind in ("both attached", "one refused")}
    report(f"racing approvals: {len(people)} people on two lists, approved by two reviewers at once "
           f"(answers overlapping in {overlapping} races): {tally}, went wrong {len(wrong)}; {result}; "
           f"all sent {seconds} s after the races; {drill.crash_figure()}")
    assert wrong == {}
    assert len(invited) == len(people), "a race left a person with no approval at all"
    assert_nothing_stuck_lost_or_twice(result, killed_mid_send=0)
    # Every approved item leads to the person's one invite: invited once it went out.
    assert {item.state for item in items} == {ItemState.INVITED}, [(i.display_email, i.state) for i in items]
    assert requesters_told(items) == []
