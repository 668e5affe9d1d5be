"""The web benchmark's load generator: N concurrent users against a running server, for a fixed time.

    python -m bench.web_load --port P --plan plan.json --users 50 --seconds 20 [--warmup 3] [--processes 2]

The plan (JSON) is a list of profiles {"weight": w, "cookie": "name=value" or "", "paths": [...]}: each user
(a thread with its own connection, in one of a few processes so that the generator is not held by one GIL) takes
the next profile in turn (each as often as its weight) and asks for its paths at random, one request after
another without pause.
Only requests that end inside the measured window (after the warm-up) count. Prints one JSON object: requests,
requests per second, errors (a status other than 200, or a failure) with a sample, latency percentiles (and the
median per path), and the generator's own CPU time per second of the window (its overhead: cores it took from
the server).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import sys
import threading
import time


def user_loop(port: int, profile: dict, seed: int, start: float, end: float, out: list) -> None:
    try:
        _user_loop(port, profile, seed, start, end, out)
    except Exception as exc:  # a generator bug must show, not leave a thread silently gone
        out.append(([], 1, [f"generator: {exc.__class__.__name__}: {exc}"]))


def _user_loop(port: int, profile: dict, seed: int, start: float, end: float, out: list) -> None:
    rng = random.Random(seed)
    headers = {"Host": "127.0.0.1", "X-Forwarded-Proto": "https", "User-Agent": "bench-web"}
    if profile["cookie"]:
        headers["Cookie"] = profile["cookie"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors, samples = [], 0, []
    while True:
        path = rng.choice(profile["paths"])
        began = time.perf_counter()
        wall = time.time()
        if wall >= end:
            break
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            status = f"{exc.__class__.__name__}: {exc}"
        took = time.perf_counter() - began
        if start <= wall and wall + took <= end:
            latencies.append((path, took))
            if status != 200:
                errors += 1
                if len(samples) < 3:
                    samples.append(f"{path}: {status}")
    conn.close()
    out.append((latencies, errors, samples))


def worker(port: int, plan: list[dict], users: list[int], seed: int, start: float, end: float, queue) -> None:
    # Users take the profiles in turn, each as often as its weight says: the shares are the plan's, not chance's.
    turns = [p for p in plan for _ in range(p["weight"])]
    out: list = []
    threads = []
    for u in users:
        profile = turns[u % len(turns)]
        threads.append(threading.Thread(target=user_loop, args=(port, profile, seed * 1000 + u, start, end, out)))
    for t in threads:
        t.start()
    while time.time() < start:
        time.sleep(0.01)
    cpu_start = time.process_time()
    while time.time() < end:
        time.sleep(0.01)
    cpu = time.process_time() - cpu_start
    for t in threads:
        t.join()
    latencies = [x for lat, _, _ in out for x in lat]
    queue.put({"latencies": latencies, "errors": sum(e for _, e, _ in out),
               "samples": [s for _, _, ss in out for s in ss][:3], "cpu": cpu})


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run(port: int, plan: list[dict], *, users: int, seconds: float, warmup: float, processes: int,
        seed: int = 1) -> dict:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.time() + 1.0 + warmup  # every thread connected and warm before the window opens
    end = start + seconds
    procs = [ctx.Process(target=worker, args=(port, plan, list(range(i, users, processes)), seed, start, end, queue))
             for i in range(processes)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + warmup + 120) for _ in procs]
    for p in procs:
        p.join()
    by_path: dict[str, list[float]] = {}
    for r in results:
        for path, took in r["latencies"]:
            by_path.setdefault(path, []).append(took)
    latencies = [x for values in by_path.values() for x in values]
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "errors": sum(r["errors"] for r in results),
        "error_samples": [s for r in results for s in r["samples"]][:3],
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "p99_ms": 1000 * percentile(latencies, 99),
        "generator_cpu": sum(r["cpu"] for r in results) / seconds,
        "p50_ms_by_path": {path: 1000 * percentile(values, 50) for path, values in sorted(by_path.items())},
        "users": users,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--plan", required=True, help="a JSON file: the profiles")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    with open(args.plan) as fh:
        plan = json.load(fh)
    result = run(args.port, plan, users=args.users, seconds=args.seconds, warmup=args.warmup,
                 processes=args.processes)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
