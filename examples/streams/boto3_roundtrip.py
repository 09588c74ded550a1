#!/usr/bin/env python3
"""Put sales events into an eddy stream with boto3 and read them back, exactly as against AWS.

    python3 examples/streams/boto3_roundtrip.py --endpoint http://127.0.0.1:4567

The only eddy-specific line is endpoint_url.
"""
import argparse
import json
import random
from datetime import datetime, timezone

import boto3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", default="http://127.0.0.1:4567")
    parser.add_argument("--stream", default="sales-example")
    parser.add_argument("--count", type=int, default=25)
    args = parser.parse_args()

    kinesis = boto3.client("kinesis", endpoint_url=args.endpoint, region_name="us-east-1",
                           aws_access_key_id="any", aws_secret_access_key="any")
    if args.stream not in kinesis.list_streams()["StreamNames"]:
        kinesis.create_stream(StreamName=args.stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=args.stream)

    events = [{
        "category": random.choice(["Books", "Electronics"]),
        "store_id": f"store_{random.randint(1, 5)}",
        "evnt_time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "sales": round(random.uniform(0, 100), 2),
    } for _ in range(args.count)]
    result = kinesis.put_records(StreamName=args.stream, Records=[
        {"Data": json.dumps(e).encode(), "PartitionKey": e["store_id"]} for e in events])
    print(f"put {len(events)} records, {result['FailedRecordCount']} failed")

    read = []
    for shard in kinesis.list_shards(StreamName=args.stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=args.stream, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=1000)
            read += [json.loads(r["Data"]) for r in page["Records"]]
            if not page["Records"] and page["MillisBehindLatest"] == 0:
                break
            it = page.get("NextShardIterator")
    total = round(sum(e["sales"] for e in read), 2)
    print(json.dumps({"record_count": len(read), "tot_sales": total}))


if __name__ == "__main__":
    main()
