"""Compares two NDJSON files of {"TICKER", "MAX_PRICE", "WINDOW_END"} rows (eddy's HOP output and
DuckDB's): the same (ticker, window end) groups with the same maxima. Exit 1 on a difference."""
import json
import sys


def load(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out[(r['TICKER'], r['WINDOW_END'])] = float(r['MAX_PRICE'])
    return out


a, b = load(sys.argv[1]), load(sys.argv[2])
only_a, only_b = set(a) - set(b), set(b) - set(a)
off = [k for k in set(a) & set(b) if abs(a[k] - b[k]) > 1e-9]
print('%s groups eddy=%d duckdb=%d only-eddy=%d only-duckdb=%d max-differs=%d'
      % ('OK' if not (only_a or only_b or off) else 'MISMATCH', len(a), len(b), len(only_a), len(only_b), len(off)))
sys.exit(1 if only_a or only_b or off else 0)
