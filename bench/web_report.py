"""The web benchmark's table: every measurement with its target and PASS/MISS, as text and as Markdown."""

from __future__ import annotations

from dataclasses import dataclass

from bench.web_pages import ANONYMOUS, PAGE_QUERIES

SIGNIN_QUERIES = 10
LOAD_SHARE, LOAD_P95_MS = 0.25, 500


@dataclass
class Row:
    what: str
    role: str
    queries: str
    ms: str
    target: str
    ok: bool | None

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else "PASS" if self.ok else "MISS"


def page_rows(measured) -> list[Row]:
    rows = []
    for page in measured.pages:
        for role in page.roles:
            small, full = measured.pages_small.get((page.label, role)), measured.pages_full.get((page.label, role))
            if small is None or full is None:
                continue
            grows = full.queries > small.queries
            ok = full.status == 200 and full.queries <= PAGE_QUERIES and full.ms < page.limit_ms and not grows
            rows.append(Row(page.label, role, f"{small.queries} → {full.queries}" + (" (grows)" if grows else ""),
                            f"{small.ms:.1f} → {full.ms:.1f}", f"≤ {PAGE_QUERIES} q, < {page.limit_ms} ms, q flat",
                            ok))
    return rows


def action_rows(measured) -> list[Row]:
    rows = [Row(a.label, a.role,
                "" if a.queries is None else f"{a.queries:,}", f"{a.ms:,.1f}", a.target, a.ok)
            for a in measured.actions]
    if measured.signin is not None:
        s = measured.signin
        rows.append(Row("sign-in: password step (POST, cloud password)", ANONYMOUS, str(s.queries), f"{s.ms:.1f}",
                        f"≤ {SIGNIN_QUERIES} q", s.queries <= SIGNIN_QUERIES and s.status == 302))
        rows.append(Row("  of which the Argon2 check alone", ANONYMOUS, "", f"{measured.hash_ms:.1f}", "", None))
    return rows


def load_rows(loads: dict) -> tuple[list[Row], list[str]]:
    trivial, mix = loads["trivial"], loads["mix"]
    problems = [f"load ({name}): {data['errors']} errors, e.g. {'; '.join(data['error_samples'])}"
                for name, data in (("trivial", trivial), ("browsing mix", mix)) if data["errors"]]
    share = mix["rps"] / trivial["rps"] if trivial["rps"] else 0.0

    def percentiles(d: dict) -> str:
        return f"{d['p50_ms']:.0f} / {d['p95_ms']:.0f} / {d['p99_ms']:.0f}"

    rows = [
        Row(f"load: trivial view, req/s · p50/p95/p99 ms ({trivial['errors']} errors; "
            f"generator {trivial['generator_cpu']:.2f} CPU)",
            ANONYMOUS, f"{trivial['rps']:,.0f} req/s", percentiles(trivial), "", None),
        Row(f"load: browsing mix, req/s (share) · p50/p95/p99 ms ({mix['errors']} errors; "
            f"generator {mix['generator_cpu']:.2f} CPU)",
            "mixed", f"{mix['rps']:,.0f} req/s ({share:.0%})", percentiles(mix),
            f"≥ {LOAD_SHARE:.0%} of trivial, p95 < {LOAD_P95_MS} ms",
            share >= LOAD_SHARE and mix["p95_ms"] < LOAD_P95_MS and not mix["errors"]),
    ]
    return rows, problems


HEADER = ("what", "as", "queries (1/10 → full)", "server ms (1/10 → full)", "target", "")


def text_table(rows: list[Row]) -> str:
    cells = [HEADER] + [(r.what, r.role, r.queries, r.ms, r.target, r.verdict) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    right = {2, 3}
    lines = []
    for k, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i in right else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(rows: list[Row], context: str) -> str:
    lines = [context, "", "| " + " | ".join(HEADER) + " |", "|---|---|---:|---:|---|---|"]
    lines += [f"| {r.what} | {r.role} | {r.queries} | {r.ms} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def report(measured, loads: dict, *, context: str, scale: float) -> list[str]:
    """Print the table (text, then Markdown); returns what went wrong in the load test."""
    lrows, problems = load_rows(loads)
    rows = page_rows(measured) + action_rows(measured) + lrows
    counts = ", ".join(f"{measured.counts_full[k]:,} {k}" for k in measured.counts_full)
    print()
    print(context)
    print(f"data set at full size: {counts}; built in {measured.build_seconds[0]:.1f} s (1/10) + "
          f"{measured.build_seconds[1]:.1f} s (grown to full), VACUUM ANALYZE included")
    print()
    print(text_table(rows))
    misses = sum(1 for r in rows if r.ok is False)
    print(f"\n{sum(1 for r in rows if r.ok)} PASS, {misses} MISS")
    for a in measured.actions:
        if a.detail:
            print(f"{a.label}: {a.detail}")
    if scale < 1:
        print("(the targets are set for the full size: at a smaller scale the verdicts are only indicative)")
    print("\nFor the README:\n")
    print(markdown(rows, context))
    return problems
