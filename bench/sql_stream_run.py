"""The seed aggregation run by a SQL application on a running eddy server, reading a stream that
already holds the events from TRIM_HORIZON: the server-side counterpart of `eddy sql run`.

    python3 bench/sql_stream_run.py --endpoint URL --stream S --groups N [--timeout S] [--app NAME]
    python3 bench/sql_stream_run.py --shape seed --write-app DIR   # the application's SQL and schema, for `eddy sql run`

The stream must hold the sales events (with their "at" field) followed by one sentinel event whose
"at" is far in the future: windows are on the events' own "at" time (an event-time GROUP BY), so
the groups are the same as `eddy sql run --arrival-time-field at` gives, and the sentinel closes the
last real window. With --shape seed the stream holds the seed producer's events instead (no "at"):
windows are on evnt_time, and the rows carry COUNT(*) too, as bench/seed_shape.sh's query does. Measures from StartApplication until N rows are in the output stream; prints
`STREAM seconds=.. rows=.. revenue=..`. Exits 1 on a timeout. Uses boto3 (the machine's Python)."""
import argparse
import json
import sys
import time

import boto3
from botocore.config import Config

SQL = '''CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "revenue" REAL, "window_start" TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
SELECT STREAM "store_id", SUM("sales") AS "revenue", STEP("SALES_001"."at" BY INTERVAL '60' SECOND) AS "window_start"
FROM "SALES_001"
GROUP BY STEP("SALES_001"."at" BY INTERVAL '60' SECOND), "store_id";
'''
SCHEMA = {'RecordFormat': {'RecordFormatType': 'JSON',
                           'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
          'RecordEncoding': 'UTF-8',
          'RecordColumns': [{'Name': 'store_id', 'Mapping': '$.store_id', 'SqlType': 'VARCHAR(16)'},
                            {'Name': 'category', 'Mapping': '$.category', 'SqlType': 'VARCHAR(16)'},
                            {'Name': 'evnt_time', 'Mapping': '$.evnt_time', 'SqlType': 'TIMESTAMP'},
                            {'Name': 'sales', 'Mapping': '$.sales', 'SqlType': 'REAL'},
                            {'Name': 'at', 'Mapping': '$.at', 'SqlType': 'TIMESTAMP'}]}
SEED_SQL = '''CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "revenue" REAL, "orders" INTEGER, "window_start" TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
SELECT STREAM "store_id", SUM("sales") AS "revenue", COUNT(*) AS "orders",
       STEP("SALES_001"."evnt_time" BY INTERVAL '60' SECOND) AS "window_start"
FROM "SALES_001"
GROUP BY STEP("SALES_001"."evnt_time" BY INTERVAL '60' SECOND), "store_id";
'''
SEED_SCHEMA = {**SCHEMA, 'RecordColumns': SCHEMA['RecordColumns'][:4]}
ROLE = 'arn:aws:iam::000000000000:role/bench'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--endpoint')
    ap.add_argument('--stream')
    ap.add_argument('--groups', type=int)
    ap.add_argument('--app', default='bench-seed', help='application name; its output stream is <stream>-<app>')
    ap.add_argument('--write-app', metavar='DIR',
                    help='write app.sql and schema.json (input prefix SALES, output DEST) to DIR and exit')
    ap.add_argument('--timeout', type=float, default=600)
    ap.add_argument('--shape', choices=['arrival', 'seed'], default='arrival')
    a = ap.parse_args()
    sql, schema = (SEED_SQL, SEED_SCHEMA) if a.shape == 'seed' else (SQL, SCHEMA)
    if a.write_app:
        with open(a.write_app + '/app.sql', 'w') as f:
            f.write(sql)
        with open(a.write_app + '/schema.json', 'w') as f:
            json.dump(schema, f)
        return 0
    if not (a.endpoint and a.stream and a.groups):
        ap.error('--endpoint, --stream and --groups are needed to run the application')
    kw = dict(endpoint_url=a.endpoint, region_name='us-east-1', aws_access_key_id='bench',
              aws_secret_access_key='bench', config=Config(retries={'total_max_attempts': 1}, read_timeout=120))
    k = boto3.client('kinesis', **kw)
    ka = boto3.client('kinesisanalytics', **kw)
    out = a.stream + '-' + a.app
    k.create_stream(StreamName=out, ShardCount=1)
    for _ in range(300):
        if k.describe_stream_summary(StreamName=out)['StreamDescriptionSummary']['StreamStatus'] == 'ACTIVE':
            break
        time.sleep(0.1)
    arn = lambda s: 'arn:aws:kinesis:us-east-1:000000000000:stream/' + s
    ka.create_application(ApplicationName=a.app, ApplicationCode=sql,
                          Inputs=[{'NamePrefix': 'SALES', 'InputSchema': schema,
                                   'KinesisStreamsInput': {'ResourceARN': arn(a.stream), 'RoleARN': ROLE}}],
                          Outputs=[{'Name': 'DEST', 'KinesisStreamsOutput': {'ResourceARN': arn(out), 'RoleARN': ROLE},
                                    'DestinationSchema': {'RecordFormatType': 'JSON'}}])
    it = k.get_shard_iterator(StreamName=out, ShardId='shardId-000000000000',
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    t0 = time.monotonic()
    ka.start_application(ApplicationName=a.app, InputConfigurations=[
        {'Id': '1.1', 'InputStartingPositionConfiguration': {'InputStartingPosition': 'TRIM_HORIZON'}}])
    rows, revenue, orders, last_progress = 0, 0.0, 0, t0
    while rows < a.groups:
        if time.monotonic() - t0 > a.timeout:
            print('STREAM timeout after %.0f s with %d of %d rows' % (a.timeout, rows, a.groups), file=sys.stderr)
            return 1
        page = k.get_records(ShardIterator=it, Limit=10000)
        it = page['NextShardIterator']
        for r in page['Records']:
            rows += 1
            row = json.loads(r['Data'])
            revenue += row['revenue']
            orders += row.get('orders', 0)
        if not page['Records']:
            time.sleep(0.02)
        if time.monotonic() - last_progress > 1:
            last_progress = time.monotonic()
            print('\rstream run: %d of %d rows, %.0f s' % (rows, a.groups, last_progress - t0), end='', file=sys.stderr)
    seconds = time.monotonic() - t0
    print(file=sys.stderr)
    ka.stop_application(ApplicationName=a.app)
    print('STREAM seconds=%.3f rows=%d revenue=%.2f orders=%d' % (seconds, rows, revenue, orders))
    return 0


if __name__ == '__main__':
    sys.exit(main())
