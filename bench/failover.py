#!/usr/bin/env python3
"""Cluster-mode failover benchmark (issue 23): the time from `kill -9` of the node running an
application to the application's next output row, over N kills.

One nats-server, three eddy nodes with the default 10 s lease (or --lease-ttl-ms), and a row-by-
row SQL application (every input record becomes an output row at once, so the next row shows when
the application runs again). A producer puts one record every 100 ms through the live nodes. Each
round: find the node running the application (its /metrics), kill -9 it, measure until a row of a
record put after the kill appears, restart the killed node (same --node-id: it waits for its old
registration to expire, which the measurement does not include).

  python3 bench/failover.py [--kills 10] [--lease-ttl-ms 10000]

Builds nothing: EDDY_BIN (default build/release/eddy). Every wait is bounded; every process it
starts is stopped on exit. Prints the times, p50 and p99 (goal <= 15 s with a 10 s lease).
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
EDDY = os.environ.get('EDDY_BIN', os.path.join(ROOT, 'build', 'release', 'eddy'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e', 'python'))
import nats_cluster  # noqa: E402  (the test fixture: one nats-server on a free port)

SQL = ('CREATE OR REPLACE STREAM "DEST" ("id" INTEGER);\n'
       'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM "id" FROM "SRC_001";\n')
SCHEMA = {'RecordFormat': {'RecordFormatType': 'JSON', 'MappingParameters': {
    'JSONMappingParameters': {'RecordRowPath': '$'}}},
    'RecordEncoding': 'UTF-8',
    'RecordColumns': [{'Name': 'id', 'SqlType': 'INTEGER', 'Mapping': '$.id'}]}
ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/'
ROLE = 'arn:aws:iam::000000000000:role/any'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def client(service, port):
    import boto3
    from botocore.config import Config
    return boto3.client(service, endpoint_url='http://127.0.0.1:%d' % port, region_name='us-east-1',
                        aws_access_key_id='x', aws_secret_access_key='y',
                        config=Config(retries={'total_max_attempts': 1}, connect_timeout=2, read_timeout=10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--kills', type=int, default=10)
    ap.add_argument('--lease-ttl-ms', type=int, default=10000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix='eddy-failover-')
    nats = nats_cluster.NatsCluster(1, root=os.path.join(work, 'nats'))
    nats.start()
    ports = [free_port() for _ in range(3)]
    procs = {}

    def start(i):
        log = open(os.path.join(work, 'node%d.log' % i), 'ab')
        procs[i] = subprocess.Popen([EDDY, 'serve', '--port', str(ports[i]), '--data-dir',
                                     os.path.join(work, 'node%d' % i), '--cluster', nats.url_arg,
                                     '--node-id', 'n%d' % i, '--lease-ttl-ms', str(args.lease_ttl_ms),
                                     '--checkpoint-interval', '1'], stdout=log, stderr=log)

    def up(i):
        try:
            socket.create_connection(('127.0.0.1', ports[i]), timeout=0.2).close()
            return True
        except OSError:
            return False

    def owner():
        for i in procs:
            if procs[i].poll() is not None or not up(i):
                continue
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % ports[i], timeout=2) as r:
                    if 'eddy_cluster_applications_running_here 1' in r.read().decode():
                        return i
            except OSError:
                pass
        return None

    stop = threading.Event()
    put_at = {}  # id -> time put (acknowledged)
    lock = threading.Lock()
    times = []
    try:
        for i in range(3):
            start(i)
        deadline = time.time() + 30
        while not all(up(i) for i in range(3)):
            if time.time() > deadline:
                sys.exit('the eddy nodes did not start; logs in ' + work)
            time.sleep(0.1)
        k = client('kinesis', ports[0])
        k.create_stream(StreamName='src', ShardCount=1)
        k.create_stream(StreamName='dst', ShardCount=1)
        time.sleep(0.5)
        ka = client('kinesisanalytics', ports[1])
        ka.create_application(ApplicationName='rows', ApplicationCode=SQL,
                              Inputs=[{'NamePrefix': 'SRC', 'KinesisStreamsInput': {'ResourceARN': ARN + 'src',
                                                                                    'RoleARN': ROLE},
                                       'InputSchema': SCHEMA}],
                              Outputs=[{'Name': 'DEST', 'KinesisStreamsOutput': {'ResourceARN': ARN + 'dst',
                                                                                 'RoleARN': ROLE},
                                        'DestinationSchema': {'RecordFormatType': 'JSON'}}])
        ka.start_application(ApplicationName='rows', InputConfigurations=[
            {'Id': '1.1', 'InputStartingPositionConfiguration': {'InputStartingPosition': 'NOW'}}])

        def produce():
            n = 0
            while not stop.is_set():
                for i in list(procs):
                    if procs[i].poll() is None and up(i):
                        try:
                            client('kinesis', ports[i]).put_record(StreamName='src', PartitionKey='k',
                                                                   Data=json.dumps({'id': n}).encode())
                            with lock:
                                put_at[n] = time.time()
                            n += 1
                            break
                        except Exception:
                            continue
                time.sleep(0.1)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        # Output reader: the newest id seen, polled through any live node.
        iterator = None
        reader_node = None

        def newest_id():
            nonlocal iterator, reader_node
            for i in procs:
                if procs[i].poll() is not None or not up(i):
                    continue
                try:
                    c = client('kinesis', ports[i])
                    if iterator is None or reader_node != i:
                        iterator = c.get_shard_iterator(StreamName='dst', ShardId='shardId-000000000000',
                                                        ShardIteratorType='TRIM_HORIZON')['ShardIterator']
                        reader_node = i
                    newest = -1
                    for _ in range(100):
                        r = c.get_records(ShardIterator=iterator, Limit=10000)
                        iterator = r['NextShardIterator']
                        for rec in r['Records']:
                            newest = max(newest, json.loads(rec['Data'])['id'])
                        if not r['Records']:
                            break
                    return newest
                except Exception:
                    iterator = None
            return -1

        for round_ in range(args.kills):
            deadline = time.time() + 60
            o = owner()
            while o is None and time.time() < deadline:
                time.sleep(0.2)
                o = owner()
            if o is None:
                sys.exit('no node runs the application; logs in ' + work)
            while newest_id() < 0 and time.time() < deadline:  # it is writing rows
                time.sleep(0.2)
            procs[o].kill()
            procs[o].wait()
            killed = time.time()
            with lock:
                first_after = max(put_at) + 1 if put_at else 0
            while time.time() < killed + 120:
                if newest_id() >= first_after:
                    break
                time.sleep(0.1)
            else:
                sys.exit('no output within 120 s of the kill; logs in ' + work)
            times.append(time.time() - killed)
            print('kill %d: node n%d, next row after %.1f s' % (round_ + 1, o, times[-1]), flush=True)
            start(o)
            deadline = time.time() + 60
            while not up(o) and time.time() < deadline:
                time.sleep(0.2)
    finally:
        stop.set()
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        nats.close()
        shutil.rmtree(work, ignore_errors=True)
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print('\nfailover, kill -9 of the running node -> next output row, %d kills, lease %d ms:'
          % (len(times), args.lease_ttl_ms))
    print('| p50 s | p99 s | min s | max s |\n|---|---|---|---|\n| %.1f | %.1f | %.1f | %.1f |'
          % (p50, p99, times[0], times[-1]))
    print('goal: <= 15 s with a 10 s lease')


if __name__ == '__main__':
    main()
