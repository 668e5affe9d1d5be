"""Real Celery processes and a Redis of their own, for drills that kill, stop and restart them.

    redis = RedisServer(tmp_path / "redis").start()
    env = celery_env(redis_url=redis.url, email_url=mail_server.email_url, OUTBOX_SWEEP_SECONDS="1")
    worker = CeleryProcess.worker(env, tmp_path, "first").start()   # prefork, concurrency 2, as deployed
    beat = CeleryProcess.beat(env, tmp_path).start()                 # the DatabaseScheduler, as deployed
    worker.kill()                # SIGKILL to the parent and every pool child at once
    worker.kill_child()          # SIGKILL to one pool child; the parent gives its task back and forks another
    redis.stop(); redis.start()  # an outage: the same port, nothing kept

Every process is started in a session of its own, so that its process group is exactly the
processes it forked: killing the group kills the whole worker and nothing else. The test process's
own Celery app publishes to the drill's Redis inside `publishing_to(url)`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from django.db import connections

from tests.conftest import ROOT, free_port
from tests.services import wait_for

REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")  # Debian's
START_TIMEOUT = 60  # a prefork worker imports Django in its parent, then forks: seconds on a busy machine


class RedisServer:
    """A throwaway `redis-server` on loopback, kept in memory only; stop() and start() again for an outage."""

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        """Start (again, on the same port) and wait until it answers."""
        import redis

        if not Path(REDIS_SERVER).exists():
            raise RuntimeError(f"redis-server is not installed at {REDIS_SERVER} (Debian's package redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        try:
            wait_for(client.ping, timeout=10, what=f"redis-server on port {self.port}",
                     alive=lambda: self._process.poll() is None)
        finally:
            client.close()
        return self

    def stop(self) -> None:
        """Stop at once (SIGKILL: nothing saved, nothing handed over), and wait until the port is free."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None


def celery_env(*, redis_url: str, email_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a Celery process on the test database (call inside a django_db test)."""
    db = connections["default"].settings_dict  # NAME is the test database by now
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{port}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": email_url,
        **overrides,
    }


class CeleryProcess:
    """A `celery -A portal …` process with its own process group and log file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, *, ready: str) -> None:
        self.argv = argv
        self.env = env
        self.log = log
        self.ready = ready
        self.process: subprocess.Popen | None = None
        self.killed = False  # by the drill (kill()), as opposed to a crash

    @classmethod
    def worker(cls, env: dict[str, str], directory: Path, name: str, *, concurrency: int = 2) -> CeleryProcess:
        """A worker as docker-compose runs it: the prefork pool with `concurrency` children."""
        argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=prefork",
                f"--concurrency={concurrency}", "--loglevel=INFO", "--without-gossip", "--without-mingle",
                "-n", f"drill-{name}-{os.getpid()}@%h"]
        return cls(argv, env, directory / f"worker-{name}.log", ready=" ready.")

    @classmethod
    def beat(cls, env: dict[str, str], directory: Path) -> CeleryProcess:
        """Beat with the settings' scheduler (django-celery-beat's DatabaseScheduler copies CELERY_BEAT_SCHEDULE
        into the database at start); ready once it sent its first sweep."""
        argv = [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO", "--max-interval=1",
                f"--pidfile={directory / 'beat.pid'}", f"--schedule={directory / 'beat-schedule'}"]
        return cls(argv, env, directory / "beat.log", ready="Sending due task outbox-sweep")

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("start() the process first")
        return self.process.pid

    def start(self) -> Self:
        """Start and wait until the log says it is ready."""
        return self.launch().wait_ready()

    def launch(self) -> Self:
        """Start without waiting (start several, then `wait_ready()` each)."""
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self

    def wait_ready(self) -> Self:
        wait_for(lambda: self.ready in self.log.read_text(errors="replace"), timeout=START_TIMEOUT,
                 what=f"{' '.join(self.argv[3:6])} (log: {self.log})", alive=self.alive, interval=0.1)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for_line(self, text: str, *, timeout: float = 30) -> str:
        """The next line the process logs (from now on) that holds `text`; polled every millisecond."""
        deadline = time.monotonic() + timeout
        with open(self.log, "rb") as log:
            log.seek(0, os.SEEK_END)
            pending = b""
            while time.monotonic() < deadline:
                pending += log.read()
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if text in (decoded := line.decode(errors="replace")):
                        return decoded
                time.sleep(0.001)
        raise TimeoutError(f"no line with {text!r} in {self.log} within {timeout} s")

    def crashed(self) -> bool:
        """Exited by itself (not killed by the drill, not stopped)."""
        return self.process is not None and self.process.poll() is not None and not self.killed

    def last_words(self) -> str:
        """The last CRITICAL (or ERROR) line of its log: why it stopped."""
        lines = self.log.read_text(errors="replace").splitlines()
        found = [line for line in lines if " CRITICAL " in line] or [line for line in lines if " ERROR " in line]
        return found[-1] if found else (lines[-1] if lines else "")

    def children(self) -> list[int]:
        """The pids of the processes the parent forked (the prefork pool), oldest first."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                # Fields after the command (in parentheses, which may hold spaces): state, ppid, …
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.pid and fields[0] != "Z":
                found.append((int(fields[19]), int(entry.name)))  # start time, pid
        return [pid for _, pid in sorted(found)]

    def kill(self) -> list[int]:
        """SIGKILL to the whole worker (parent and pool children at once); returns the pids it had."""
        pids = [self.pid, *self.children()]
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        return pids

    def kill_child(self) -> int:
        """SIGKILL to the oldest pool child (busiest while work queues up; the parent lives on); returns its pid."""
        children = self.children()
        if not children:
            raise RuntimeError(f"the worker {self.pid} has no pool child to kill")
        os.kill(children[0], signal.SIGKILL)
        return children[0]

    def stop(self, timeout: float = 20) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL to whatever of the group is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # pool children a killed parent left behind, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _forget_connections(app, *, close: bool = False) -> None:
    """Drop the app's pools, as Celery does after a fork: the next publish takes from kombu's registry the
    pools of the current broker_url (one per URL, shared by every app in the process).

    `close` closes their connections and producers first, but leaves the pools usable: kombu hands them
    out again to the next user of the same URL (a closed pool would refuse: "Acquire on closed pool")."""
    if close:
        for pool in (app.amqp._producer_pool, app._pool):
            if pool is not None:
                pool.force_close_all(close_pool=False)
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def publishing_to(broker_url: str) -> Iterator[None]:
    """The test process's Celery app publishes to `broker_url` (not eagerly) inside; restored after.

    Only the broker moves: results are not what a drill looks at, and production keeps none."""
    from portal.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager
    _forget_connections(app)
    app.conf.broker_url = broker_url
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        _forget_connections(app, close=True)
        app.conf.broker_url, app.conf.task_always_eager = saved
