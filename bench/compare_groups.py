#!/usr/bin/env python3
"""Compares the seed application's groups from eddy and from DuckDB (bench/sql_vs_duckdb.sh).

  compare_groups.py EDDY.ndjson DUCKDB.ndjson [--rel-tol 1e-4]

Each file holds one JSON object per line with "store_id", "revenue" and "timestamp". Groups are keyed
by (store_id, timestamp) and may also carry "orders" (a count, compared exactly where both have it); both files must have the same keys, each once, and every revenue must agree
within the relative tolerance: |a - b| <= tol * max(|a|, |b|, 1). eddy sums REAL in a 32-bit float
and DuckDB SUM(REAL) in a double, so the last digits differ. Prints `OK ...` and exits 0, or
`MISMATCH ...` with up to 10 examples and exits 1. Standard library only.
"""
import argparse
import json
import sys


def load(path):
    groups, dups, orders = {}, 0, {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            key = (r["store_id"], r["timestamp"])
            if key in groups:
                dups += 1
            groups[key] = r["revenue"]
            if "orders" in r:
                orders[key] = r["orders"]
    return groups, dups, orders


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("eddy")
    ap.add_argument("duckdb")
    ap.add_argument("--rel-tol", type=float, default=1e-4)
    a = ap.parse_args()
    e, edup, eorders = load(a.eddy)
    d, ddup, dorders = load(a.duckdb)
    problems = []
    if edup or ddup:
        problems.append("duplicate groups: eddy %d, duckdb %d" % (edup, ddup))
    only_e = sorted(set(e) - set(d))
    only_d = sorted(set(d) - set(e))
    for k in only_e[:5]:
        problems.append("only in eddy: %s %s revenue=%s" % (k[0], k[1], e[k]))
    for k in only_d[:5]:
        problems.append("only in duckdb: %s %s revenue=%s" % (k[0], k[1], d[k]))
    worst, bad = 0.0, 0
    for k in sorted(set(e) & set(d)):
        x, y = e[k], d[k]
        if x is None or y is None:
            ok = x is None and y is None
            rel = 0.0 if ok else float("inf")
        else:
            rel = abs(x - y) / max(abs(x), abs(y), 1.0)
            ok = rel <= a.rel_tol
        worst = max(worst, rel)
        if not ok:
            bad += 1
            if bad <= 10:
                problems.append("revenue differs: %s %s eddy=%s duckdb=%s (rel %.3g)" % (k[0], k[1], x, y, rel))
    counted = set(eorders) & set(dorders)
    off_orders = [k for k in sorted(counted) if eorders[k] != dorders[k]]
    for k in off_orders[:10]:
        problems.append("orders differ: %s %s eddy=%s duckdb=%s" % (k[0], k[1], eorders[k], dorders[k]))
    bad += len(off_orders)
    summary = "groups eddy=%d duckdb=%d, only-eddy=%d only-duckdb=%d, revenue or orders off=%d, max rel diff=%.3g (tol %g)" % (
        len(e), len(d), len(only_e), len(only_d), bad, worst, a.rel_tol)
    if problems or not e:
        print("MISMATCH " + summary + ("" if e else ", no groups"))
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print("OK " + summary)


if __name__ == "__main__":
    main()
