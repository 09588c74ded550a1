#!/usr/bin/env python3
"""The sales producer in Python: the same events as `eddy gen sales`, sent with plain boto3.

    python3 examples/producers/sales_producer.py --endpoint http://127.0.0.1:4567 --stream sales \
        --rate 50 --count 500

Works against AWS as well: leave out --endpoint and boto3 uses its usual region and credentials.
Prints the seed's summary line: {"record_count": N, "tot_sales": X}.
"""
import argparse
import json
import random
import time
import uuid
from datetime import datetime, timezone

import boto3

CATEGORIES = ["Books", "Electronics"]


def event(stores):
    return {
        "store_id": f"store_{random.randint(1, stores)}",
        "category": random.choice(CATEGORIES),
        "sales": round(random.randrange(10000) / 100, 2),  # [0, 100) with two decimals
        "evnt_time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="eddy's URL, e.g. http://127.0.0.1:4567 (default: AWS)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--stream", default="sales")
    parser.add_argument("--rate", type=float, default=50, help="records per second")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--stores", type=int, default=5)
    args = parser.parse_args()

    kinesis = boto3.client("kinesis", endpoint_url=args.endpoint, region_name=args.region)
    batch = max(1, min(500, int(args.rate / 10)))  # about ten PutRecords calls a second
    sent, ok, total, start = 0, 0, 0.0, time.monotonic()
    while sent < args.count:
        # Pace: the n-th record is due at n / rate seconds after the start.
        delay = start + sent / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        events = [event(args.stores) for _ in range(min(batch, args.count - sent))]
        result = kinesis.put_records(StreamName=args.stream, Records=[
            {"Data": json.dumps(e).encode(), "PartitionKey": str(uuid.uuid4())} for e in events])
        for e, r in zip(events, result["Records"]):
            if "ErrorCode" not in r:  # refused records (throttling) are counted out, not retried
                ok += 1
                total += e["sales"]
        sent += len(events)
        failed = result["FailedRecordCount"]
        if failed:
            print(f"{failed} records refused ({result['Records'][0].get('ErrorCode', '')})", flush=True)
    print(json.dumps({"record_count": ok, "tot_sales": round(total, 2)}))


if __name__ == "__main__":
    main()
