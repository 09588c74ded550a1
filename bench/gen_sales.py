#!/usr/bin/env python3
"""Generates benchmark input for bench/sql_vs_duckdb.sh as NDJSON on stdout (standard library only).

  gen_sales.py sales  N [--rate R] [--seed S]   # the seed application's sales events
  gen_sales.py trades N [--rate R] [--seed S]   # trades for the sliding-window run
  gen_sales.py seed   N [--rate R] [--seed S]   # sales events exactly as the seed's producer shapes them

sales:  {"category": <1 of 16>, "store_id": "store_1".."store_5",
         "evnt_time": "2021-01-31T14:45:58.123456" (ISO-8601, microseconds, 0-3 s before arrival),
         "sales": 0.00-100.00, "at": "2021-01-31 14:46:00.001" (arrival time, yyyy-MM-dd HH:mm:ss.SSS)}
seed:   {"category":"Electronics","store_id":"store_3","evnt_time":"2021-01-31T14:05:47.190114","sales":22.78}
        (the reference scenario's shape: compact, no arrival field; evnt_time never decreases, as
        the producer's clock gives it, so it can be the ROWTIME)
trades: {"EVENT_TIME": "2021-01-31 09:30:00.001" (yyyy-MM-dd HH:mm:ss.SSS, the ROWTIME),
         "TICKER": <1 of 5>, "PRICE": 1.00-500.00}

Arrival times never decrease and advance by R events per second of simulated time on average
(default 1000: 10,000,000 events span 10,000 s, about 167 one-minute windows); consecutive events
may share a millisecond. Output is reproducible for a given seed. Strings are assembled from
precomputed pieces so that 10 million lines take well under a minute.
"""
import argparse
import datetime as dt
import random
import sys

CATEGORIES = ["electronics", "grocery", "garden", "hardware", "toys", "books", "clothing", "shoes",
              "beauty", "sports", "automotive", "music", "office", "pets", "jewelry", "furniture"]
STORES = ["store_%d" % i for i in range(1, 6)]
TICKERS = ["AMZN", "MSFT", "AAPL", "GOOG", "TBV"]
EPOCH = dt.datetime(2021, 1, 31, 0, 0, 0)
CHUNK = 50_000

M3 = ["%03d" % i for i in range(1000)]


class SecondCache:
    """second-since-EPOCH -> formatted prefix ("yyyy-MM-dd HH:mm:ss" or ISO with 'T')."""

    def __init__(self, sep):
        self.sep = sep
        self.d = {}

    def __getitem__(self, s):
        v = self.d.get(s)
        if v is None:
            if len(self.d) > 100_000:
                self.d.clear()
            v = (EPOCH + dt.timedelta(seconds=s)).strftime("%Y-%m-%d" + self.sep + "%H:%M:%S")
            self.d[s] = v
        return v


def gen_sales(n, rate, rng, out):
    rnd = rng.random
    step = 2000.0 / rate  # ms; uniform in [0, step) -> mean 1000/rate ms
    cats = ['{"category": "%s", "store_id": "' % c for c in CATEGORIES]
    stores = ['%s", "evnt_time": "' % s for s in STORES]
    sales = ['", "sales": %d.%02d, "at": "' % divmod(i, 100) for i in range(10001)]
    plain = SecondCache(" ")
    iso = SecondCache("T")
    t = (14 * 3600 + 46 * 60) * 1000.0  # 14:46:00.000
    done = 0
    while done < n:
        k = min(CHUNK, n - done)
        buf = []
        app = buf.append
        for _ in range(k):
            t += rnd() * step
            ms = int(t)
            sec, m = divmod(ms, 1000)
            eus = ms * 1000 - int(rnd() * 3_000_000)
            esec, eu = divmod(eus, 1_000_000)
            em, eu = divmod(eu, 1000)
            app(cats[int(rnd() * 16)] + stores[int(rnd() * 5)] + iso[esec] + "." + M3[em] + M3[eu]
                + sales[int(rnd() * 10001)] + plain[sec] + "." + M3[m] + '"}\n')
        out.write("".join(buf).encode())
        done += k


def gen_seed(n, rate, rng, out):
    rnd = rng.random
    step = 2000.0 / rate * 1000  # microseconds
    cats = ['{"category":"%s","store_id":"' % c for c in CATEGORIES]
    stores = ['%s","evnt_time":"' % s for s in STORES]
    sales = ['","sales":%d.%02d}\n' % divmod(i, 100) for i in range(10001)]
    iso = SecondCache("T")
    t = (14 * 3600 + 46 * 60) * 1_000_000.0  # 14:46:00.000000
    done = 0
    while done < n:
        k = min(CHUNK, n - done)
        buf = []
        app = buf.append
        for _ in range(k):
            t += rnd() * step
            sec, us = divmod(int(t), 1_000_000)
            ms, us = divmod(us, 1000)
            app(cats[int(rnd() * 16)] + stores[int(rnd() * 5)] + iso[sec] + "." + M3[ms] + M3[us]
                + sales[int(rnd() * 10001)])
        out.write("".join(buf).encode())
        done += k


def gen_trades(n, rate, rng, out):
    rnd = rng.random
    step = 2000.0 / rate
    heads = ['", "TICKER": "%s", "PRICE": ' % tk for tk in TICKERS]
    prices = ["%d.%02d}\n" % divmod(i, 100) for i in range(100, 50001)]
    np = len(prices)
    plain = SecondCache(" ")
    t = (9 * 3600 + 30 * 60) * 1000.0  # 09:30:00.000
    done = 0
    while done < n:
        k = min(CHUNK, n - done)
        buf = []
        app = buf.append
        for _ in range(k):
            t += rnd() * step
            ms = int(t)
            sec, m = divmod(ms, 1000)
            app('{"EVENT_TIME": "' + plain[sec] + "." + M3[m] + heads[int(rnd() * 5)] + prices[int(rnd() * np)])
        out.write("".join(buf).encode())
        done += k


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["sales", "seed", "trades"])
    ap.add_argument("n", type=int)
    ap.add_argument("--rate", type=float, default=1000.0, help="events per second of simulated time")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    if a.n < 0 or a.rate <= 0:
        ap.error("n must be >= 0 and rate > 0")
    rng = random.Random(a.seed)
    out = sys.stdout.buffer
    {"sales": gen_sales, "seed": gen_seed, "trades": gen_trades}[a.kind](a.n, a.rate, rng, out)
    out.flush()


if __name__ == "__main__":
    main()
