#!/usr/bin/env python3
"""Generates tests/sql/seed.test: the seed application (revenue per store per minute) with exact expectations.

Run: python3 tests/sql/tools/gen_seed.py > tests/sql/seed.test

Assumption stated in the cases: SUM over a REAL column accumulates in a 32-bit float, adding rows in arrival
order and rounding after every addition (decisions.md (g): REAL is float32). Each input value is first rounded
to the nearest float32. Results print as the shortest decimal that round-trips the float32. Standard library
only; the data come from a fixed-seed random.Random, so the output is reproducible.
"""
import datetime as dt
import json
import random
import struct
from decimal import Decimal
from fractions import Fraction


def f32(x):
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def f32_from_text(s):
    """Nearest float32 to the exact decimal s; checks that parsing via double gives the same float."""
    v = f32(float(s))
    exact = Fraction(Decimal(s))
    bits = struct.unpack("<I", struct.pack("<f", v))[0]
    for nb in (bits - 1, bits + 1):
        n = struct.unpack("<f", struct.pack("<I", nb))[0]
        assert abs(Fraction(v) - exact) <= abs(Fraction(n) - exact), s
    return v


def f32_shortest(v):
    for p in range(1, 10):
        s = "%.*g" % (p, v)
        if f32(float(s)) == v:
            r = repr(float(s))
            return r[:-2] if r.endswith(".0") else r
    raise AssertionError(v)


def fmt(t):
    return t.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (t.microsecond // 1000)


SQL = '''CREATE OR REPLACE STREAM "DEST_SQL_STREAM_BY_STORE_ID" ("store_id" VARCHAR(16), "revenue" REAL, "timestamp" TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DEST_SQL_STREAM_BY_STORE_ID"
SELECT STREAM "store_id", SUM("sales") AS "revenue", ROWTIME AS "timestamp"
FROM "STORE_REVENUE_PER_MIN_001"
GROUP BY STEP("STORE_REVENUE_PER_MIN_001".ROWTIME BY INTERVAL '60' SECOND), "store_id";'''

SCHEMA = '''{"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
 "RecordEncoding": "UTF-8",
 "RecordColumns": [{"Name": "store_id", "Mapping": "$.store_id", "SqlType": "VARCHAR(16)"},
                   {"Name": "category", "Mapping": "$.category", "SqlType": "VARCHAR(16)"},
                   {"Name": "evnt_time", "Mapping": "$.evnt_time", "SqlType": "TIMESTAMP"},
                   {"Name": "sales", "Mapping": "$.sales", "SqlType": "REAL"}]}'''


def make_input():
    rnd = random.Random(2021)
    start = dt.datetime(2021, 1, 31, 14, 46, 0)
    rows = []
    t = start
    while t < start + dt.timedelta(minutes=5):
        t += dt.timedelta(milliseconds=rnd.choice([0, 250, 1500, 2750, 4000, 6125, 9000]))
        if t >= start + dt.timedelta(minutes=5):
            break
        store = "store_%d" % rnd.randint(1, 5)
        minute = (t - start).seconds // 60
        if store == "store_5" and minute == 2:
            store = "store_4"  # store_5 is silent in the third minute
        sales = "%d.%02d" % (rnd.randint(0, 499), rnd.randint(0, 99))
        rows.append({"at": fmt(t), "store_id": store, "category": rnd.choice(["grocery", "toys", "garden", "hardware"]),
                     "evnt_time": fmt(t - dt.timedelta(milliseconds=rnd.randint(0, 3000))), "sales": sales})
    return rows


def expected(rows, flush):
    groups, order = {}, []
    for r in rows:
        t = dt.datetime.strptime(r["at"], "%Y-%m-%d %H:%M:%S.%f")
        w = t.replace(second=0, microsecond=0)
        k = (w, r["store_id"])
        if k not in groups:
            groups[k] = [f32(0.0), f32(0.0)]  # float32 accumulator, binary64 accumulator (for the report)
            order.append(k)
        v = f32_from_text(r["sales"])
        groups[k][0] = f32(groups[k][0] + v)
        groups[k][1] = groups[k][1] + v
    last_w = max(w for w, _ in order)
    out, differ = [], 0
    for w, store in order:
        if not flush and w == last_w:
            continue
        acc32, acc64 = groups[(w, store)]
        differ += acc32 != f32(acc64)
        out.append('{"store_id": %s, "revenue": %s, "timestamp": "%s"}'
                   % (json.dumps(store), f32_shortest(acc32), fmt(w + dt.timedelta(minutes=1))))
    return out, differ


def case(name, comment, rows, flush):
    out, differ = expected(rows, flush)
    lines = ["# " + l for l in comment.split("\n")]
    lines.append("# %d of %d groups differ from a binary64 sum rounded once to float32." % (differ, len(out)))
    lines += ["=== " + name, "--- sql", SQL, "--- schema prefix=STORE_REVENUE_PER_MIN", SCHEMA,
              "--- input arrival-field=at" + ("" if flush else " no-flush")]
    for r in rows:
        lines.append('{"at": "%s", "store_id": "%s", "category": "%s", "evnt_time": "%s", "sales": %s}'
                     % (r["at"], r["store_id"], r["category"], r["evnt_time"], r["sales"]))
    lines += ["--- output DEST_SQL_STREAM_BY_STORE_ID rowsort"] + out + ["--- errors", ""]
    return "\n".join(lines)


def main():
    rows = make_input()
    print("# The seed application: revenue per store per minute (generated by tests/sql/tools/gen_seed.py; do not edit).")
    print("# Input NamePrefix STORE_REVENUE_PER_MIN, so the input stream is STORE_REVENUE_PER_MIN_001. ROWTIME is the")
    print("# arrival time (field \"at\", decisions.md (a)); evnt_time is mapped but unused.")
    print("#")
    print("# Assumption: SUM of REAL accumulates in a float32 in arrival order, rounding after each addition")
    print("# (decisions.md (g)); every input value is first rounded to the nearest float32. Expected revenues are the")
    print("# shortest decimals that round-trip those float32 sums. The \"timestamp\" column is ROWTIME, the window end")
    print("# (decisions.md 1); five stores over five minutes, store_5 silent in the third minute.")
    print()
    print(case("seed: revenue per store per minute",
               "All five windows, the last one by the end-of-input flush (decisions.md (b)).", rows, True))
    print(case("seed: revenue per store per minute, no-flush",
               "Strict KDA (--no-flush): the last minute never closes (decisions.md (b)).", rows, False), end="")


if __name__ == "__main__":
    main()
