#!/usr/bin/env python3
"""Compares two benchmark runs (the JSON of scripts/bench.sh) and names each figure that got
worse by more than the noise threshold. Exits 1 on a regression, 2 on unreadable input.

    scripts/bench_compare.py BEFORE.json AFTER.json [--threshold 0.15]

Figures with a same-run baseline are compared by their ratio (value / baseline), which a busy
machine moves much less than the raw value; the others by value. "better" says which way is
good; the printed change is the gain (negative = worse). Figures in only one run are listed,
not counted as regressions.
"""

import argparse
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("schema") != 1 or not isinstance(doc.get("figures"), list):
        raise ValueError(f"{path}: not a bench-results document (schema 1)")
    return {fig["name"]: fig for fig in doc["figures"]}


def comparable(fig):
    """The number compared across runs and what it is called."""
    if fig.get("ratio") is not None:
        return fig["ratio"], "ratio"
    return fig.get("value"), "value"


def worsening(before, after, better):
    """Relative change in the bad direction (positive = worse); None when undefined."""
    if before is None or after is None:
        return None
    if before == 0:
        return None if after == 0 else (float("inf") if better == "lower" else None)
    change = (after - before) / abs(before)
    return change if better == "lower" else -change


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--threshold", type=float, default=0.15,
                        help="relative worsening counted as a regression (default 0.15)")
    args = parser.parse_args()
    try:
        before, after = load(args.before), load(args.after)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"bench_compare: {error}", file=sys.stderr)
        return 2

    regressions = []
    for name in sorted(before.keys() & after.keys()):
        old, new = before[name], after[name]
        old_x, kind = comparable(old)
        new_x, new_kind = comparable(new)
        if kind != new_kind:
            kind, old_x, new_x = "value", old.get("value"), new.get("value")
        worse = worsening(old_x, new_x, new.get("better", "lower"))
        mark = ""
        if worse is not None and worse > args.threshold:
            mark = "  WORSE"
            regressions.append(name)
        elif worse is not None and worse < -args.threshold:
            mark = "  better"
        change = "n/a" if worse is None else f"{-worse:+.1%}"
        print(f"{name:48s} {kind:5s} {old_x!s:>12.10} -> {new_x!s:>12.10}  {change:>8s}{mark}")
    for name in sorted(before.keys() - after.keys()):
        print(f"{name:48s} only in {args.before}")
    for name in sorted(after.keys() - before.keys()):
        print(f"{name:48s} only in {args.after}")
    if regressions:
        print(f"{len(regressions)} figure(s) worse by more than {args.threshold:.0%}: "
              + ", ".join(regressions))
        return 1
    print(f"no figure worse by more than {args.threshold:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
