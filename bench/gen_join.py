#!/usr/bin/env python3
"""Generates input for bench/join_vs_duckdb.sh and bench/rcf.sh on stdout (standard library only).

  gen_join.py tickers N                         # CSV ticker,company,sector: T00000 .. T<N-1>, no header
  gen_join.py trades N [--tickers T] [--miss F] [--seed S]
  gen_join.py orders N [--rate R] [--seed S]
  gen_join.py rcf N --dims D [--seed S]

tickers: "T%05d,Company %d,<1 of 11 sectors>" for 0 <= i < N.
trades:  {"ticker":"T12345","price":12.34,"qty":3}; the ticker's number is uniform in
         [0, T * (1 + F)) (default T = 100,000, F = 0.1), so about F / (1 + F) of the trades (9 %)
         name a ticker the table does not hold; price 1.00-999.99 with two decimals, qty 1-100.
orders:  {"at":<epoch ms>,"kind":"order"|"shipment","orderid":<int>} in arrival order (at never
         decreases; R records per second of arrival time on average, default 1000). Order ids count
         up from 1. 90 % of the orders get a shipment 1 ms to 60 s (inclusive) after the order, 5 % a
         shipment 61-120 s after it (outside a one-minute window), 5 % none. The first N records in
         time order are printed, so the shipments of the last orders may be left out.
rcf:     {"c1":..,"c2":..,...,"cD":..}: D values around cluster centres that drift slowly; every
         1000th record (line numbers 1000, 2000, ...) is an outlier, 8 to 12 standard deviations away
         in every dimension.

Output is reproducible for a given seed (random.Random). Lines are assembled from precomputed
pieces so that 10 million trades take well under a minute.
"""
import argparse
import heapq
import random
import sys

CHUNK = 50_000
SECTORS = ["Technology", "Energy", "Financials", "Healthcare", "Industrials", "Materials",
           "Utilities", "RealEstate", "Consumer", "Staples", "Telecom"]
BASE_MS = 1612166400000  # 2021-02-01 08:00:00 UTC


def gen_tickers(n, out):
    for lo in range(0, n, CHUNK):
        out.write("".join("T%05d,Company %d,%s\n" % (i, i, SECTORS[i % len(SECTORS)])
                          for i in range(lo, min(n, lo + CHUNK))))


def gen_trades(n, tickers, miss, rng, out):
    universe = int(tickers * (1.0 + miss))
    tick = ['{"ticker":"T%05d","price":' % i for i in range(universe)]
    price = ['%d.%02d,"qty":' % divmod(c, 100) for c in range(100, 100000)]
    qty = ["%d}\n" % q for q in range(1, 101)]
    choices = rng.choices
    done = 0
    while done < n:
        k = min(CHUNK, n - done)
        out.write("".join(a + b + c for a, b, c in zip(choices(tick, k=k), choices(price, k=k), choices(qty, k=k))))
        done += k


def gen_orders(n, rate, rng, out):
    rnd = rng.random
    randint = rng.randint
    # orders arrive at rate / 1.95 per second: each brings 0.95 shipments on average
    step = 2 * 1000.0 * 1.95 / rate  # ms; uniform in [0, step)
    t = 0.0
    orderid = 0
    pending = []  # (time ms, orderid) of shipments not printed yet
    buf = []
    done = 0
    while done < n:
        t += rnd() * step
        ot = int(t)
        while pending and pending[0][0] < ot and done < n:
            st, sid = heapq.heappop(pending)
            buf.append('{"at":%d,"kind":"shipment","orderid":%d}\n' % (BASE_MS + st, sid))
            done += 1
        if done >= n:
            break
        orderid += 1
        buf.append('{"at":%d,"kind":"order","orderid":%d}\n' % (BASE_MS + ot, orderid))
        done += 1
        u = rnd()
        if u < 0.90:
            heapq.heappush(pending, (ot + randint(1, 60000), orderid))
        elif u < 0.95:
            heapq.heappush(pending, (ot + randint(61000, 120000), orderid))
        if len(buf) >= CHUNK:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


def gen_rcf(n, dims, rng, out):
    gauss = rng.gauss
    rnd = rng.random
    centres = [10.0 * (d + 1) for d in range(dims)]
    keys = ['"c%d":' % (d + 1) for d in range(dims)]
    buf = []
    for i in range(1, n + 1):
        if i % 5000 == 0:  # slow drift of the cluster
            centres = [c + gauss(0, 0.2) for c in centres]
        if i % 1000 == 0:
            vals = [c + (8 + 4 * rnd()) * (1 if rnd() < 0.5 else -1) for c in centres]
        else:
            vals = [gauss(c, 1.0) for c in centres]
        buf.append("{" + ",".join("%s%.4f" % (k, v) for k, v in zip(keys, vals)) + "}\n")
        if len(buf) >= CHUNK:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["tickers", "trades", "orders", "rcf"])
    ap.add_argument("n", type=int)
    ap.add_argument("--tickers", type=int, default=100_000)
    ap.add_argument("--miss", type=float, default=0.1)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--dims", type=int, default=2)
    ap.add_argument("--seed", type=int, default=25)
    a = ap.parse_args()
    if a.n < 0:
        ap.error("N must be >= 0")
    rng = random.Random(a.seed)
    out = sys.stdout
    if a.kind == "tickers":
        gen_tickers(a.n, out)
    elif a.kind == "trades":
        gen_trades(a.n, a.tickers, a.miss, rng, out)
    elif a.kind == "orders":
        gen_orders(a.n, a.rate, rng, out)
    else:
        gen_rcf(a.n, a.dims, rng, out)
    out.flush()


if __name__ == "__main__":
    main()
