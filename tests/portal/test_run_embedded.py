"""`make run` (scripts/run-embedded.sh) stops every process it started on Ctrl-C, SIGTERM and SIGHUP, whether the
signal reaches the script alone or its whole process group, and kills what does not stop in time.

The script runs from a copy in a temporary directory (its var/ is made there) with stand-ins for the three
programs: starting Django three times per test would cost seconds of CPU for nothing the test looks at. The
stand-in worker has a pool process of its own, like Celery's prefork pool: it must end too.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from tests.services import wait_for

STANDIN = textwrap.dedent("""\
    import os, signal, sys, time
    from pathlib import Path

    def note(what):
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(f"{what} {os.getpid()}\\n")

    role = "web" if "runserver" in sys.argv else "worker" if "worker" in sys.argv else "beat"
    stubborn = os.environ.get("STANDIN_STUBBORN") == role
    if role == "worker":
        pool = os.fork()
        if pool == 0:  # the pool process: ended by its worker
            signal.signal(signal.SIGTERM, lambda *_: (note("pool-got-sigterm"), os._exit(1)))
            if stubborn:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            note("pool")
            while True:
                time.sleep(1)
        note("worker")
        Path(os.environ["STANDIN_LOG"] + ".url").write_text(os.environ.get("PORTAL_URL", ""))

        def warm_shutdown(*_):
            os.kill(pool, signal.SIGKILL)
            os.waitpid(pool, 0)
            sys.exit(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN if stubborn else warm_shutdown)
        while True:
            time.sleep(1)
    note(role)
    if role == "web":
        from http.server import BaseHTTPRequestHandler, HTTPServer

        class Health(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass
        host, port = sys.argv[sys.argv.index("runserver") + 1].rsplit(":", 1)
        HTTPServer((host, int(port)), Health).serve_forever()
    if stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
""")


@pytest.fixture
def embedded(tmp_path):
    """A copy of the script with stand-in `celery` and `python` in its VENV; returns a starter."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (tmp_path / "standin.py").write_text(STANDIN)
    for name, body in {
        "celery": f'exec "{sys.executable}" "{tmp_path}/standin.py" "$@"',
        # The script's health check runs `python -` with a program on stdin: the real Python does that.
        "python": f'if [ "$1" = "-" ]; then exec "{sys.executable}" "$@"; fi\n'
                  f'exec "{sys.executable}" "{tmp_path}/standin.py" "$@"',
    }.items():
        program = bin_dir / name
        program.write_text(f"#!/bin/sh\n{body}\n")
        program.chmod(0o755)
    log = tmp_path / "processes.log"
    started: list[subprocess.Popen] = []

    def start(port: int | None = None, **env) -> tuple[subprocess.Popen, dict[str, list[int]]]:
        port = port or free_port()
        script = subprocess.Popen(
            ["bash", str(tmp_path / "scripts" / "run-embedded.sh")], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,  # a group of its own
            env={**{k: v for k, v in os.environ.items() if k != "PORTAL_URL"}, "VENV": str(tmp_path / "venv"),
                 "PORTAL_ADDRESS": f"127.0.0.1:{port}", "STANDIN_LOG": str(log), **env},
        )
        started.append(script)
        wait_for(lambda: _answers(port) and len(_processes(log)) == 4, timeout=30, what="the stand-ins",
                 alive=lambda: script.poll() is None)
        return script, _processes(log)

    yield start
    for script in started:  # a failed test leaves nothing running
        for pids in _processes(log).values():
            for pid in pids:
                _kill(pid)
        _kill(script.pid)
        script.wait(timeout=10)


def _answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
        connection.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        return connection.recv(100).startswith(b"HTTP/1.0 200")


def _processes(log: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        what, pid = line.split()
        found.setdefault(what, []).append(int(pid))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for a parent that is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _every_process(processes: dict[str, list[int]]) -> list[int]:
    return [pid for role in ("web", "worker", "beat", "pool") for pid in processes[role]]


@pytest.mark.parametrize(("signal_number", "to_group"), [
    (signal.SIGTERM, False),  # `kill <pid>`, or make forwarding its own SIGTERM
    (signal.SIGTERM, True),  # `kill -- -<pgid>`, a service manager stopping the lot
    (signal.SIGINT, True),  # Ctrl-C in a terminal: the whole foreground group
    (signal.SIGHUP, True),  # the terminal closed
])
def test_a_stop_signal_ends_every_process_it_started(embedded, signal_number, to_group):
    script, processes = embedded()
    if to_group:
        os.killpg(script.pid, signal_number)
    else:
        script.send_signal(signal_number)
    assert script.wait(timeout=15) == 0
    wait_for(lambda: not any(map(_running, _every_process(processes))), timeout=5, what="every process ended")
    # The worker stops its own pool: a pool process signalled from outside left Celery's worker hanging.
    assert "pool-got-sigterm" not in _processes(Path(script.args[1]).parents[1] / "processes.log")


def test_what_does_not_stop_in_time_is_killed_with_what_it_started(embedded):
    script, processes = embedded(STANDIN_STUBBORN="worker", PORTAL_STOP_SECONDS="1")
    began = time.monotonic()
    script.send_signal(signal.SIGTERM)
    assert script.wait(timeout=15) == 0
    assert time.monotonic() - began < 10
    wait_for(lambda: not any(map(_running, _every_process(processes))), timeout=5, what="every process ended")
    assert b"Still running after 1s: killed." in script.stdout.read()


def test_a_second_ctrl_c_stops_at_once(embedded):
    script, processes = embedded(STANDIN_STUBBORN="worker", PORTAL_STOP_SECONDS="60")
    os.killpg(script.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(script.pid, signal.SIGINT)
    assert script.wait(timeout=10) == 0
    wait_for(lambda: not any(map(_running, _every_process(processes))), timeout=5, what="every process ended")


@pytest.mark.parametrize("portal_url", [None, "https://portal.example.com"])
def test_the_links_in_mail_lead_to_the_address_it_runs_at_unless_told_otherwise(embedded, tmp_path, portal_url):
    port = free_port()
    script, _ = embedded(port=port, **({"PORTAL_URL": portal_url} if portal_url else {}))
    assert (tmp_path / "processes.log.url").read_text() == (portal_url or f"http://127.0.0.1:{port}")
    script.send_signal(signal.SIGTERM)
    assert script.wait(timeout=15) == 0
