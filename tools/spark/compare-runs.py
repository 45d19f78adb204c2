#!/usr/bin/env python3
"""Compares two runs directories of `normlab reproduce --all` (e.g. with and without --spark) experiment by experiment:
summary.json's results and claims (measurement and verdict) and every CSV, leaving out wall-clock figures (summary keys
and CSV columns whose name mentions seconds, ms, µs, time, wall, saving or speed, at any depth, and durations written
inside a claim's measurement; a claim judged on speed measured in the run, e.g. zoo's folding cost, is not compared).
NaN equals NaN.
Prints one line per experiment and each difference; exit 1 if any.

usage: tools/spark/compare-runs.py RUNS_A RUNS_B
"""
import csv, json, os, re, sys

TIMING = re.compile(r"(?i).*(second|(^|[_ ])ms(_|$)|(^|[_ ])us(_|$)|µs|wall|time|saving|speed).*")
# a duration inside a claim's measurement text ("0.126 ms vs 0.053 ms"): masked before claims are compared
DURATION = re.compile(r"[0-9][0-9.,]*(e-?[0-9]+)? ?(ms|µs|us|s)\b|saving per round [0-9.]+ ± [0-9.]+ %")


def same(p, q):
    """Equal values, NaN equal to NaN, dicts compared key by key leaving out timing keys."""
    if isinstance(p, float) and isinstance(q, float) and p != p and q != q:
        return True
    if isinstance(p, dict) and isinstance(q, dict):
        keys = {k for k in set(p) | set(q) if not TIMING.match(k)}
        return all(k in p and k in q and same(p[k], q[k]) for k in keys)
    if isinstance(p, list) and isinstance(q, list):
        return len(p) == len(q) and all(same(u, v) for u, v in zip(p, q))
    return p == q


def is_timing_claim(c):
    """A claim judged on speed measured in this run (the lab's Timing rule reports "interleaved rounds")."""
    return isinstance(c, dict) and "interleaved rounds" in str(c.get("measurement", ""))


def claim_text(c):
    """A claim without the durations in its measurement (those differ from run to run, as every timing does)."""
    if not isinstance(c, dict):
        return c
    c = dict(c)
    if isinstance(c.get("measurement"), str):
        c["measurement"] = DURATION.sub("<time>", c["measurement"])
    return c


def experiments(runs):
    """The newest complete run directory of each experiment (by summary.json's 'experiment', or 'fig1' for mnist)."""
    out = {}
    for d in sorted(os.listdir(runs)):
        p = os.path.join(runs, d)
        f = os.path.join(p, "summary.json")
        if not os.path.isfile(f):
            continue
        try:
            state = json.load(open(os.path.join(p, "run.json")))["state"]
        except (OSError, ValueError, KeyError):
            state = "complete"
        if state != "complete":
            continue
        s = json.load(open(f))
        out[s.get("experiment", d.rsplit("-", 2)[0])] = p
    return out


def compare(a, b):
    diffs = []
    x, y = json.load(open(os.path.join(a, "summary.json"))), json.load(open(os.path.join(b, "summary.json")))
    # Figure 1's summary has its results at the top level (scalars), the experiments' under "results".
    rx = x["results"] if "results" in x else {k: v for k, v in x.items() if not isinstance(v, (dict, list))}
    ry = y["results"] if "results" in y else {k: v for k, v in y.items() if not isinstance(v, (dict, list))}
    if set(rx) != set(ry):
        diffs.append("results keys differ: %s" % sorted(set(rx) ^ set(ry)))
    compared = 0
    for k in rx:
        if TIMING.match(k) or k not in ry:
            continue
        compared += 1
        if not same(rx[k], ry[k]):
            diffs.append("results.%s: %r vs %r" % (k, rx[k], ry[k]))
    cx, cy = x.get("claims", []), y.get("claims", [])
    for i in range(max(len(cx), len(cy))):
        p = cx[i] if i < len(cx) else None
        q = cy[i] if i < len(cy) else None
        if is_timing_claim(p) and is_timing_claim(q):
            continue  # a verdict on measured speed (Timing's interleaved rounds): it differs between any two runs
        if claim_text(p) != claim_text(q):
            diffs.append("claim %d: %s vs %s" % (i, json.dumps(p, ensure_ascii=False)[:300], json.dumps(q, ensure_ascii=False)[:300]))
    for f in sorted(os.listdir(a)):
        if not f.endswith(".csv"):
            continue
        if not os.path.exists(os.path.join(b, f)):
            diffs.append("%s missing" % f)
            continue
        p, q = list(csv.reader(open(os.path.join(a, f)))), list(csv.reader(open(os.path.join(b, f))))
        if len(p) != len(q):
            diffs.append("%s: %d vs %d lines" % (f, len(p), len(q)))
            continue
        head = p[0] if p else []
        for i, (u, v) in enumerate(zip(p, q)):
            for c in range(max(len(u), len(v))):
                if c < len(head) and TIMING.match(head[c]):
                    continue
                s, t = (u[c] if c < len(u) else None), (v[c] if c < len(v) else None)
                if s != t:
                    diffs.append("%s line %d column %s: %s vs %s" % (f, i + 1, head[c] if c < len(head) else c, s, t))
    return compared, diffs


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ea, eb = experiments(sys.argv[1]), experiments(sys.argv[2])
    bad = 0
    for e in sorted(set(ea) | set(eb), key=lambda n: list(ea).index(n) if n in ea else 99):
        if e not in ea or e not in eb:
            print("%-16s only in %s" % (e, sys.argv[1] if e in ea else sys.argv[2]))
            bad += 1
            continue
        n, d = compare(ea[e], eb[e])
        print("%-16s %s (%d result values compared)" % (e, "same" if not d else "%d differences" % len(d), n))
        for line in d[:20]:
            print("    " + line)
        bad += bool(d)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
