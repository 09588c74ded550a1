#!/usr/bin/env python3
"""The sales pipeline of the demo, driven with boto3 as a Kinesis user would drive AWS:
stream `sales` -> application `sales-revenue` (revenue per store per 60 s tumbling window, the
seed SQL) -> delivery stream `sales-revenue` -> JSON lines in the bucket directory
<data-dir>/bucket/sales-results/. Produces sales events until the first window closes and its rows
land in the bucket, printing progress; bounded by DEMO_MAX_SECONDS (default 150).

Idempotent: what already exists (from an earlier run, kept in ./eddy-data) is reused."""
import json
import os
import pathlib
import random
import sys
import time
from datetime import datetime, timezone

import boto3
from botocore.config import Config

ENDPOINT = os.environ.get('EDDY_ENDPOINT', 'http://127.0.0.1:4567')
DATA_DIR = pathlib.Path(os.environ.get('EDDY_DATA_DIR', 'eddy-data'))
MAX_SECONDS = float(os.environ.get('DEMO_MAX_SECONDS', '150'))
REGION = 'us-east-1'
ROLE = 'arn:aws:iam::000000000000:role/eddy-demo'  # eddy accepts any role
STREAM, APP, DELIVERY, BUCKET = 'sales', 'sales-revenue', 'sales-revenue', 'sales-results'
STORES = ['store_%d' % i for i in range(1, 6)]
CATEGORIES = ['Electronics', 'Books', 'Garden', 'Toys', 'Grocery']

SEED_SQL = '''CREATE OR REPLACE STREAM "DEST_SQL_STREAM_BY_STORE_ID" ("store_id" VARCHAR(16), "revenue" REAL, "timestamp" TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DEST_SQL_STREAM_BY_STORE_ID"
SELECT STREAM "store_id", SUM("sales") AS "revenue", ROWTIME AS "timestamp"
FROM "STORE_REVENUE_PER_MIN_001"
GROUP BY STEP("STORE_REVENUE_PER_MIN_001".ROWTIME BY INTERVAL '60' SECOND), "store_id";
'''
SCHEMA = {
    'RecordFormat': {'RecordFormatType': 'JSON',
                     'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
    'RecordEncoding': 'UTF-8',
    'RecordColumns': [{'Name': n, 'Mapping': '$.%s' % n, 'SqlType': t} for n, t in [
        ('store_id', 'VARCHAR(16)'), ('category', 'VARCHAR(16)'), ('evnt_time', 'TIMESTAMP'),
        ('sales', 'REAL')]],
}


def client(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION,
                        aws_access_key_id='eddy', aws_secret_access_key='eddy',
                        config=Config(retries={'total_max_attempts': 3}))


def say(msg):
    print('== ' + msg, flush=True)


def ensure_delivery(fh):
    if DELIVERY in fh.list_delivery_streams()['DeliveryStreamNames']:
        return
    fh.create_delivery_stream(
        DeliveryStreamName=DELIVERY, DeliveryStreamType='DirectPut',
        ExtendedS3DestinationConfiguration={
            'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + BUCKET, 'Prefix': 'sales_revenue/',
            'ErrorOutputPrefix': 'errors/',
            # One row per line (JSON lines); without it Firehose concatenates the records.
            'ProcessingConfiguration': {'Enabled': True,
                                        'Processors': [{'Type': 'AppendDelimiterToRecord'}]},
            'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 5}})


def ensure_application(ka, stream_arn, delivery_arn):
    names = [a['ApplicationName'] for a in ka.list_applications()['ApplicationSummaries']]
    if APP in names:
        # An application left by an earlier demo is reused unless it reads elsewhere.
        detail = ka.describe_application(ApplicationName=APP)['ApplicationDetail']
        inputs = detail.get('InputDescriptions', [])
        if not inputs or inputs[0].get('KinesisStreamsInputDescription', {}).get(
                'ResourceARN') != stream_arn:
            ka.delete_application(ApplicationName=APP,
                                  CreateTimestamp=detail['CreateTimestamp'])
            names.remove(APP)
    if APP not in names:
        ka.create_application(
            ApplicationName=APP, ApplicationCode=SEED_SQL,
            Inputs=[{'NamePrefix': 'STORE_REVENUE_PER_MIN',
                     'KinesisStreamsInput': {
                         'ResourceARN': stream_arn,
                         'RoleARN': ROLE},
                     'InputSchema': SCHEMA}],
            Outputs=[{'Name': 'DEST_SQL_STREAM_BY_STORE_ID',
                      'KinesisFirehoseOutput': {
                          'ResourceARN': delivery_arn,
                          'RoleARN': ROLE},
                      'DestinationSchema': {'RecordFormatType': 'JSON'}}])
    detail = ka.describe_application(ApplicationName=APP)['ApplicationDetail']
    if detail['ApplicationStatus'] == 'READY':
        input_id = detail['InputDescriptions'][0]['InputId']
        ka.start_application(ApplicationName=APP, InputConfigurations=[
            {'Id': input_id, 'InputStartingPositionConfiguration': {'InputStartingPosition': 'NOW'}}])
    for _ in range(100):
        status = ka.describe_application(ApplicationName=APP)['ApplicationDetail']['ApplicationStatus']
        if status == 'RUNNING':
            return
        time.sleep(0.1)
    sys.exit('demo: application %s is %s, not RUNNING; see `eddy apps logs %s`' % (APP, status, APP))


def objects_since(root, since):
    if not root.exists():
        return []
    out = []
    for p in root.rglob('*'):
        try:
            if (p.is_file() and p.suffix != '.tmp' and p.stat().st_mtime >= since
                    and p.relative_to(root).parts[0] != 'errors'):
                out.append(p)
        except FileNotFoundError:  # a .tmp renamed while we looked
            pass
    return sorted(out)


def main():
    k, fh, ka = client('kinesis'), client('firehose'), client('kinesisanalytics')
    ensure_delivery(fh)
    stream_arn = k.describe_stream_summary(StreamName=STREAM)['StreamDescriptionSummary']['StreamARN']
    delivery_arn = fh.describe_delivery_stream(DeliveryStreamName=DELIVERY)[
        'DeliveryStreamDescription']['DeliveryStreamARN']
    ensure_application(ka, stream_arn, delivery_arn)
    say('application %s RUNNING: %s -> revenue per store per minute -> delivery stream %s'
        % (APP, STREAM, DELIVERY))
    bucket_dir = DATA_DIR / 'bucket' / BUCKET
    started = time.time()
    rng = random.Random()
    sent = 0
    objs = []
    say('producing sales events until the first minute closes and its rows reach %s/' % bucket_dir)
    while time.time() - started < MAX_SECONDS:
        now = datetime.now(timezone.utc)
        batch = [{'category': rng.choice(CATEGORIES), 'store_id': rng.choice(STORES),
                  'evnt_time': now.strftime('%Y-%m-%dT%H:%M:%S.%f'),
                  'sales': round(rng.uniform(1, 100), 2)} for _ in range(50)]
        resp = k.put_records(StreamName=STREAM, Records=[
            {'Data': json.dumps(e).encode(), 'PartitionKey': e['store_id']} for e in batch])
        sent += len(batch) - resp['FailedRecordCount']
        elapsed = time.time() - started
        print('\r   %d events sent, %.0f events/s, %.0f s (window closes at the next full minute)'
              % (sent, sent / max(elapsed, 1e-3), elapsed), end='', flush=True)
        objs = objects_since(bucket_dir, started)
        if objs:
            break
        time.sleep(0.5)
    print()
    if not objs:
        sys.exit('demo: no revenue rows reached %s within %.0f s; check `eddy apps logs %s` and the '
                 'server log above' % (bucket_dir, MAX_SECONDS, APP))
    time.sleep(1)  # let the object that was being written complete
    for p in objects_since(bucket_dir, started):
        say('object %s' % p.relative_to(DATA_DIR))
        print(p.read_text(), end='', flush=True)


if __name__ == '__main__':
    main()
