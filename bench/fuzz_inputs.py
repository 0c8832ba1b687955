"""Fuzz campaign over the shipped configs and rule packs: figures for issue 12.

Each input is one mutation (tests/input_mutations.py) of one shipped file, checked in this
process by `yuqingd check`. Printed: inputs tried, accepted, rejected, and the findings that must
all be zero — tracebacks, hangs (an answer slower than --hang seconds), exit statuses other than
0 and 78, rejections with no error at the mutated line, equivalent rewrites refused.

    .venv/bin/python bench/fuzz_inputs.py --inputs 10000 [--seed 1] [--show 5]
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.input_mutations import KINDS, TARGETS, check, lay_out, mutate, problems  # noqa: E402
from yuqingd import cli  # noqa: E402
from yuqingd.plugins import Plugins, get_plugin_manager  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hang", type=float, default=10.0, help="seconds that count as a hang")
    parser.add_argument("--show", type=int, default=3, help="examples printed per finding")
    parser.add_argument("--smoke", action="store_true", help="a few inputs (make test)")
    parser.add_argument("--progress", type=int, default=0, help="print a line every N inputs")
    args = parser.parse_args()
    inputs = 20 if args.smoke else args.inputs
    plugins = Plugins(get_plugin_manager())
    cli._plugins = lambda: plugins  # one plugin manager for the run; check reads it each time
    rnd = random.Random(args.seed)
    codes: collections.Counter = collections.Counter()
    findings: dict[str, list[str]] = collections.defaultdict(list)
    per_kind: collections.Counter = collections.Counter()
    slowest = 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="yuqingd-fuzz-") as temp:
        folder = lay_out(Path(temp))
        originals = {path: (folder / path).read_bytes() for path, _ in TARGETS}
        for number in range(inputs):
            path, config = rnd.choice(TARGETS)
            kind = rnd.choice(KINDS)
            mutant = mutate(originals[path].decode("utf-8"), path, kind, random.Random(
                rnd.getrandbits(32)))
            (folder / path).write_bytes(mutant.data)
            try:
                verdict = check(folder, config, cli.main)
            finally:
                (folder / path).write_bytes(originals[path])
            per_kind[mutant.kind] += 1
            if args.progress and number % args.progress == 0:
                print(f"progress {number}/{inputs}: exits {dict(codes)}, findings "
                      f"{ {k: len(v) for k, v in findings.items()} }", flush=True)
            codes[verdict.code] += 1
            slowest = max(slowest, verdict.seconds)
            found = problems(mutant, verdict, folder)
            if verdict.seconds > args.hang:
                found.append(f"hang ({verdict.seconds:.1f}s)")
            for problem in found:
                head = problem.split(":", 1)[0] if problem.startswith("traceback") else problem
                head = "hang" if head.startswith("hang") else head
                findings[head].append(
                    f"#{number} {mutant.kind}/{mutant.note} {path} lines {sorted(mutant.lines)[:5]}"
                    f"\n    {problem.strip()[-600:]}\n    stderr: {verdict.stderr.strip()[:400]}")
                if args.progress:
                    print("FINDING " + findings[head][-1], flush=True)
    elapsed = time.perf_counter() - started
    print(f"inputs tried      {inputs}")
    print(f"accepted (exit 0) {codes[0]}")
    print(f"rejected (exit 78) {codes[78]}")
    print(f"other exits       {sum(v for k, v in codes.items() if k not in (0, 78))}")
    for head in ("traceback", "hang", "no error at the mutated line",
                 "an equivalent rewrite was rejected"):
        print(f"{head:<34}{len(findings.get(head, []))}")
    for head, items in findings.items():
        if head not in ("traceback", "hang", "no error at the mutated line",
                        "an equivalent rewrite was rejected"):
            print(f"{head:<34}{len(items)}")
    print(f"slowest check     {slowest:.2f} s; {elapsed:.0f} s in all")
    print("per kind          " + ", ".join(f"{k} {per_kind[k]}" for k in KINDS))
    for head, items in findings.items():
        print(f"\n== {head} ({len(items)}), first {args.show}:")
        for item in items[: args.show]:
            print(item)
    return 0


if __name__ == "__main__":
    sys.exit(main())
