"""The knowledge base under load: 10,000 issues and 10,000 fragments, queried through the WebSocket API.

A fresh instance (temporary MURMURATION_HOME and data folder) is seeded directly through KnowledgeBase, then a
real `python -m murmuration serve --data-dir` is started and measured with murmuration.client.InstanceClient,
one call at a time, as an agent or the dashboard calls it:

- `list_issues` filtered by status + tag + text (the text filter scans titles and contents): goal p50 < 20 ms;
- `search_fragments` (FTS5, ranked, with snippets): goal p50 < 30 ms;
- baseline, in the same run and interleaved with the others: `ping`, the cost of one round trip.

    .venv/bin/python bench/knowledge.py [--calls 200] [--issues 10000] [--fragments 10000] [--range-start 29600]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from served import served

LIST_GOAL_MS = 20.0
SEARCH_GOAL_MS = 30.0
SEED = 4
STATUSES = ("open", "in-progress", "completed", "archived")
STATUS_WEIGHTS = (4, 2, 3, 1)
FRAGMENT_TYPES = ("question", "answer", "note", "documentation", "issue", "solution", "reference")
TAGS = [f"area-{n}" for n in range(12)] + ["bug", "feature", "docs", "perf", "ui", "cli", "mcp", "queue"]


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """Made-up words from syllables, so that text filters and searches hit a realistic spread of rows."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "qu", "pra", "sti", "gon", "del", "fur", "wex"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Text:
    """Made-up prose: words drawn by Zipf's law (the k-th commonest word has weight 1/k), as in real text."""

    def __init__(self, rng: random.Random, words: list[str]) -> None:
        self.rng = rng
        self.words = words
        self.cumulative = list(itertools.accumulate(1 / k for k in range(1, len(words) + 1)))

    def __call__(self, count: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=count))


def seed(path: Path, issues: int, fragments: int) -> tuple[float, float]:
    """Fill a new state.db at `path`; the seconds spent on issues and on fragments."""
    from murmuration.core import clock
    from murmuration.core.events import EventBus
    from murmuration.core.knowledge import KnowledgeBase

    rng = random.Random(SEED)
    text = Text(rng, vocabulary(rng))
    kb = KnowledgeBase.open(path, EventBus())
    try:
        start = time.perf_counter()
        stamp = clock.now()
        with kb.store.transaction() as db:  # one transaction: the seeding is not what is measured
            for _ in range(issues):
                values = kb.issues.checked(
                    {
                        "title": text(rng.randint(3, 9)).capitalize(),
                        "content": text(rng.randint(20, 120)),
                        "status": rng.choices(STATUSES, STATUS_WEIGHTS)[0],
                        "priority": rng.choice(("low", "medium", "high")),
                        "tags": rng.sample(TAGS, rng.randint(0, 4)),
                    }
                )
                kb.issues.insert(db, values, stamp, stamp)
        issue_seconds = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(fragments):
            kb.fragments.record(
                {
                    "title": text(rng.randint(3, 9)).capitalize(),
                    "body": text(rng.randint(30, 300)),
                    "type": rng.choice(FRAGMENT_TYPES),
                    "tags": rng.sample(TAGS, rng.randint(0, 3)),
                }
            )
        fragment_seconds = time.perf_counter() - start
    finally:
        kb.close()
    return issue_seconds, fragment_seconds


Measured = dict[str, tuple[list[float], float]]  # kind → (round-trip seconds, mean rows returned)


async def measure(url: str, token: str, calls: int) -> Measured:
    """Round-trip times of each kind of call, interleaved round by round so all see the same machine."""
    from murmuration.client import InstanceClient

    rng = random.Random(SEED + 1)
    commonest = vocabulary(random.Random(SEED))[0]  # Text gives the first word weight 1: it is in nearly every row
    async with await InstanceClient.connect(url, token) as client:
        # Query words as a person or an agent picks them: any word that occurs, each distinct word as likely.
        issues = (await client.call("list_issues", {"limit": 1000}))["issues"]
        issue_words = sorted({w for i in issues for w in i["title"].lower().split()})
        fragments = (await client.call("list_fragments", {"limit": 200}))["fragments"]
        fragment_words = sorted({w for f in fragments for w in f["title"].lower().split()})

        def list_issues() -> dict[str, Any]:
            status = rng.choice(("open", "in-progress", "completed"))
            return {"status": status, "tags": [rng.choice(TAGS)], "text": rng.choice(issue_words), "limit": 50}

        def search_fragments() -> dict[str, Any]:
            words = rng.sample(fragment_words, rng.choice((1, 1, 2)))
            if rng.random() < 0.25:
                words = [rng.choice(fragment_words)[:4]]  # a prefix, as when typing
            return {"query": " ".join(words), "limit": 10}

        kinds: dict[str, tuple[str, Callable[[], dict[str, Any]], int]] = {
            "ping": ("ping", dict, calls),
            "list_issues": ("list_issues", list_issues, calls),
            "search_fragments": ("search_fragments", search_fragments, calls),
            "list_issues_worst": (
                "list_issues",
                lambda: {"status": "open", "tags": [rng.choice(TAGS)], "text": commonest, "limit": 50},
                calls // 4,
            ),
            "search_fragments_worst": ("search_fragments", lambda: {"query": commonest, "limit": 10}, calls // 4),
        }
        times: dict[str, list[float]] = {k: [] for k in kinds}
        rows: dict[str, list[int]] = {k: [] for k in kinds}
        warm_up = 20
        for round_ in range(calls + warm_up):
            for kind, (method, make, count) in kinds.items():
                if round_ >= count + warm_up:
                    continue
                params = make()
                start = time.perf_counter()
                result = await client.call(method, params)
                elapsed = time.perf_counter() - start
                if round_ >= warm_up:  # the first rounds warm the caches and are not counted
                    times[kind].append(elapsed)
                    rows[kind].append(result.get("total", len(result.get("results", []))))
    return {k: (times[k], statistics.fmean(rows[k])) for k in kinds}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="measured calls of each kind (default 200)")
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--fragments", type=int, default=10_000)
    parser.add_argument("--range-start", type=int, default=29600, help="first port of a 10-port range (default 29600)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="murmuration-bench-") as scratch:
        home, data = Path(scratch, "home"), Path(scratch, "data")
        env = {k: v for k, v in os.environ.items() if k != "WS_PORT"}
        env["MURMURATION_HOME"] = str(home)
        env["MURMURATION_PORT_RANGE"] = f"{args.range_start}-{args.range_start + 9}"
        os.environ["MURMURATION_HOME"] = str(home)  # nothing here may touch a real home
        data.mkdir()
        issue_seconds, fragment_seconds = seed(data / "state.db", args.issues, args.fragments)
        size = sum(p.stat().st_size for p in data.glob("state.db*")) / 1e6
        with served(data, env=env) as server:
            measured = asyncio.run(measure(server.url, server.token, args.calls))

    print(
        f"Knowledge base: {args.issues:,} issues + {args.fragments:,} fragments; calls one at a time over one "
        f"WebSocket, kinds interleaved ({os.cpu_count()} CPUs, Python {sys.version.split()[0]})"
    )
    print(
        f"  seeded through KnowledgeBase: issues {issue_seconds:.1f} s (one transaction), "
        f"fragments {fragment_seconds:.1f} s (one transaction each); state.db {size:.1f} MB"
    )
    print(f"  {'call':60} {'n':>4} {'p50':>9} {'p95':>9} {'max':>9} {'rows':>7}   goal")
    labels = {
        "ping": "ping (baseline: one round trip)",
        "list_issues": "list_issues status + tag + text, limit 50",
        "search_fragments": "search_fragments 1-2 words or a prefix, limit 10",
        "list_issues_worst": "  worst case: text = the commonest word",
        "search_fragments_worst": "  worst case: query = the commonest word",
    }
    goals = {"list_issues": LIST_GOAL_MS, "search_fragments": SEARCH_GOAL_MS}
    ping_p50 = statistics.median(measured["ping"][0]) * 1000
    met = True
    for kind, (values, mean_rows) in measured.items():
        ms = [v * 1000 for v in values]
        p50, p95 = statistics.median(ms), percentile(ms, 0.95)
        line = f"  {labels[kind]:60} {len(ms):4} {p50:6.2f} ms {p95:6.2f} ms {max(ms):6.2f} ms"
        line += f" {mean_rows:7.1f}" if kind != "ping" else " " * 8
        if kind in goals:
            ok = p50 < goals[kind]
            met &= ok
            line += f"   p50 < {goals[kind]:g} ms: {'met' if ok else 'NOT met'} ({p50 - ping_p50:+.2f} ms over ping)"
        print(line)
    print("  rows: mean 'total' of list_issues (all matches, before the limit); mean results of search_fragments")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
