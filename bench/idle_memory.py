#!/usr/bin/env python3
"""Memory and descriptors of a server holding many resources (issue 27, part 3).

  python3 bench/idle_memory.py [--streams 100] [--shards 4] [--apps 20] [--deliveries 20] [--seconds 30]

Starts `eddy serve` on an empty data directory and measures its resident memory (RssAnon: heap and
stacks; RssFile apart: the log's pages mapped by readers) and open descriptors: empty; then holding STREAMS streams of SHARDS shards, APPS running SQL applications
(each reading one stream into another) and DELIVERIES delivery streams (each reading one stream
into a bucket directory), idle; then while a producer puts records into every stream for SECONDS;
then with one more delivery stream whose destination is down (its bucket folder cannot be made)
while BACKLOG_MB (200) go into its source stream: its backlog stays in the stream's log, not in memory.
The peer of each figure is the empty server's, in the same run.

Builds nothing: EDDY_BIN (default build/release/eddy). Needs boto3. Every wait is bounded.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3
from botocore.config import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
EDDY = os.environ.get('EDDY_BIN', os.path.join(ROOT, 'build', 'release', 'eddy'))
SQL = ('CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "revenue" REAL);\n'
       'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM "store_id", SUM("sales") AS "revenue"\n'
       'FROM "SRC_001" GROUP BY STEP("SRC_001".ROWTIME BY INTERVAL \'10\' SECOND), "store_id";\n')
SCHEMA = {'RecordFormat': {'RecordFormatType': 'JSON',
                           'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
          'RecordEncoding': 'UTF-8',
          'RecordColumns': [{'Name': 'store_id', 'SqlType': 'VARCHAR(16)', 'Mapping': '$.store_id'},
                            {'Name': 'sales', 'SqlType': 'REAL', 'Mapping': '$.sales'}]}
ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/'
ROLE = 'arn:aws:iam::000000000000:role/any'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def rss_mb(pid, field='RssAnon:'):
    """Resident MB: RssAnon (the heap and stacks: what a backlog held in memory would grow) by
    default; RssFile counts the log's pages mapped by readers, which the kernel may drop."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--streams', type=int, default=100)
    ap.add_argument('--shards', type=int, default=4)
    ap.add_argument('--apps', type=int, default=20)
    ap.add_argument('--deliveries', type=int, default=20)
    ap.add_argument('--seconds', type=float, default=30)
    ap.add_argument('--backlog-mb', type=int, default=200, help='MB put into the stream of the delivery that fails')
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix='eddy-memory-')
    port = free_port()
    log = open(os.path.join(work, 'eddy.log'), 'wb')
    shards = a.streams * a.shards + 10
    proc = subprocess.Popen([EDDY, 'serve', '--host', '127.0.0.1', '--port', str(port), '--data-dir',
                             os.path.join(work, 'data'), '--bucket-dir', os.path.join(work, 'buckets')] +
                            (['--shard-limit', str(shards)] if shards > 500 else []),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    rows = []

    def measure(what):
        time.sleep(3)
        rows.append((what, rss_mb(proc.pid), rss_mb(proc.pid, 'RssFile:'), fds(proc.pid)))
        print('%-60s %8.1f MB anon %8.1f MB file %6d fds' % rows[-1], flush=True)

    try:
        url = 'http://127.0.0.1:%d' % port
        for _ in range(200):
            if proc.poll() is not None:
                raise RuntimeError('eddy exited with %s: %s' % (proc.returncode, open(log.name, 'rb').read()[-500:]))
            try:
                if urllib.request.urlopen(url + '/ready', timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        kw = dict(endpoint_url=url, region_name='us-east-1', aws_access_key_id='b', aws_secret_access_key='b',
                  config=Config(retries={'total_max_attempts': 5}))
        k, ka, fh = boto3.client('kinesis', **kw), boto3.client('kinesisanalytics', **kw), boto3.client('firehose', **kw)
        measure('empty server')
        names = ['s%03d' % i for i in range(a.streams)]
        for n in names:
            k.create_stream(StreamName=n, ShardCount=a.shards)
            k.get_waiter('stream_exists').wait(StreamName=n, WaiterConfig={'Delay': 0.1, 'MaxAttempts': 300})
        for i in range(a.apps):
            src, out = names[i], names[(i + a.apps) % a.streams]
            ka.create_application(ApplicationName='app%02d' % i, ApplicationCode=SQL, Inputs=[{
                'NamePrefix': 'SRC', 'InputSchema': SCHEMA,
                'KinesisStreamsInput': {'ResourceARN': ARN + src, 'RoleARN': ROLE}}],
                Outputs=[{'Name': 'DEST', 'KinesisStreamsOutput': {'ResourceARN': ARN + out, 'RoleARN': ROLE},
                          'DestinationSchema': {'RecordFormatType': 'JSON'}}])
            ka.start_application(ApplicationName='app%02d' % i, InputConfigurations=[
                {'Id': '1.1', 'InputStartingPositionConfiguration': {'InputStartingPosition': 'NOW'}}])
        for i in range(a.deliveries):
            fh.create_delivery_stream(
                DeliveryStreamName='d%02d' % i, DeliveryStreamType='KinesisStreamAsSource',
                KinesisStreamSourceConfiguration={'KinesisStreamARN': ARN + names[-1 - i], 'RoleARN': ROLE},
                ExtendedS3DestinationConfiguration={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::bench',
                                                    'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 60}})
        measure('%d streams x %d shards, %d apps, %d deliveries, idle' % (a.streams, a.shards, a.apps, a.deliveries))

        # Load: every stream gets records for a.seconds, from a few threads.
        stop = time.monotonic() + a.seconds
        sent = [0]
        peak = [0.0]

        def produce(part):
            kk = boto3.client('kinesis', **kw)
            i = 0
            while time.monotonic() < stop:
                n = names[(part + i) % len(names)]
                recs = [{'Data': json.dumps({'store_id': 'store_%d' % (j % 5), 'sales': j % 100}).encode(),
                         'PartitionKey': str(j)} for j in range(500)]
                kk.put_records(StreamName=n, Records=recs)
                sent[0] += 500
                i += 4

        threads = [threading.Thread(target=produce, args=(p,)) for p in range(4)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak[0] = max(peak[0], rss_mb(proc.pid))
            time.sleep(0.5)
        print('put %d records in %.0f s' % (sent[0], a.seconds))
        rows.append(('peak while %d records/s are put into all streams' % (sent[0] / a.seconds), peak[0],
                     rss_mb(proc.pid, 'RssFile:'), fds(proc.pid)))
        print('%-60s %8.1f MB anon %8.1f MB file %6d fds' % rows[-1], flush=True)
        measure('after the load')

        # A delivery whose destination is down (its bucket's folder cannot be made: a file holds
        # the name): its source's records must wait in the log, not in memory.
        os.makedirs(os.path.join(work, 'buckets'), exist_ok=True)
        open(os.path.join(work, 'buckets', 'nowhere'), 'w').close()
        k.create_stream(StreamName='backlog', ShardCount=1)
        k.get_waiter('stream_exists').wait(StreamName='backlog', WaiterConfig={'Delay': 0.1, 'MaxAttempts': 300})
        fh.create_delivery_stream(
            DeliveryStreamName='down', DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': ARN + 'backlog', 'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::nowhere',
                                                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 60}})
        before = rss_mb(proc.pid)
        blob = b'x' * 100_000
        for _ in range(a.backlog_mb * 10 // 50):
            k.put_records(StreamName='backlog', Records=[{'Data': blob, 'PartitionKey': 'p'}] * 50)
        measure('%d MB into a stream whose delivery cannot deliver (from %.0f MB)' % (a.backlog_mb, before))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print('%-64s %12s %12s %8s' % ('state', 'RssAnon MB', 'RssFile MB', 'fds'))
    for what, anon, file_mb, n in rows:
        print('%-64s %12.1f %12.1f %8d' % (what, anon, file_mb, n))
    return 0


if __name__ == '__main__':
    sys.exit(main())
