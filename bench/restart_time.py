#!/usr/bin/env python3
"""Restart benchmark (issue 27, part 4): the time from starting `eddy serve` to /ready answering
200, on a data directory holding SIZE GB of stream log and 20 running SQL applications, after a
clean stop (SIGTERM) and after `kill -9`.

  python3 bench/restart_time.py [--sizes 1 10] [--apps 20] [--runs 3]

For each size: a fresh server, a 4-shard stream filled with SIZE GB of 10 KB records by
`eddy bench ingest`, 20 applications reading it (started at LATEST, so that each has a checkpoint
to restore), then RUNS restarts of each kind; each is timed from the process's start until /ready
says 200 (the log recovered, applications restored; web/health). The peer of this figure is the
same server's start on an empty data directory, measured in the same run.

Builds nothing: EDDY_BIN (default build/release/eddy). Needs boto3 and about SIZE GB of disk in
TMPDIR per size. Every wait is bounded; every process it starts is stopped on exit.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
EDDY = os.environ.get('EDDY_BIN', os.path.join(ROOT, 'build', 'release', 'eddy'))
SQL = ('CREATE OR REPLACE STREAM "DEST" ("n" INTEGER);\n'
       'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM "n" FROM "SRC_001";\n')
SCHEMA = {'RecordFormat': {'RecordFormatType': 'JSON',
                           'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
          'RecordEncoding': 'UTF-8', 'RecordColumns': [{'Name': 'n', 'SqlType': 'INTEGER', 'Mapping': '$.n'}]}
ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/'
ROLE = 'arn:aws:iam::000000000000:role/any'
RECORD_BYTES = 10_000


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir, log_path):
        self.data_dir, self.log_path, self.proc, self.port = data_dir, log_path, None, None

    def start(self, timeout=600):
        """Starts the server; returns the seconds until /ready answered 200."""
        self.port = free_port()
        log = open(self.log_path, 'ab')
        t0 = time.monotonic()
        self.proc = subprocess.Popen([EDDY, 'serve', '--host', '127.0.0.1', '--port', str(self.port),
                                      '--data-dir', self.data_dir, '--fsync', 'interval=200'],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError('eddy exited with %s; see %s' % (self.proc.returncode, self.log_path))
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/ready' % self.port, timeout=5) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.005)
        raise RuntimeError('not ready within %d s' % timeout)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        self.proc = None

    def client(self, service):
        return boto3.client(service, endpoint_url='http://127.0.0.1:%d' % self.port, region_name='us-east-1',
                            aws_access_key_id='bench', aws_secret_access_key='bench',
                            config=Config(retries={'total_max_attempts': 3}))


def fill(server, gigabytes, apps):
    records = int(gigabytes * 1e9 / RECORD_BYTES)
    t0 = time.monotonic()
    subprocess.run([EDDY, 'bench', 'ingest', '--endpoint', 'http://127.0.0.1:%d' % server.port, '--stream', 'big',
                    '--shards', '4', '--records', str(records), '--record-bytes', str(RECORD_BYTES), '--skip-drain'],
                   check=True, stdout=subprocess.DEVNULL, timeout=3600)
    print('filled: %d records of %d bytes in %.1f s' % (records, RECORD_BYTES, time.monotonic() - t0), flush=True)
    ka = server.client('kinesisanalytics')
    k = server.client('kinesis')
    for i in range(apps):
        out = 'out-%02d' % i
        k.create_stream(StreamName=out, ShardCount=1)
        k.get_waiter('stream_exists').wait(StreamName=out, WaiterConfig={'Delay': 0.2, 'MaxAttempts': 300})
        name = 'app-%02d' % i
        ka.create_application(ApplicationName=name, ApplicationCode=SQL, Inputs=[{
            'NamePrefix': 'SRC', 'InputSchema': SCHEMA,
            'KinesisStreamsInput': {'ResourceARN': ARN + 'big', 'RoleARN': ROLE}}],
            Outputs=[{'Name': 'DEST', 'KinesisStreamsOutput': {'ResourceARN': ARN + out, 'RoleARN': ROLE},
                      'DestinationSchema': {'RecordFormatType': 'JSON'}}])
        ka.start_application(ApplicationName=name, InputConfigurations=[
            {'Id': '1.1', 'InputStartingPositionConfiguration': {'InputStartingPosition': 'NOW'}}])
    time.sleep(3)  # a checkpoint each


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', type=float, nargs='+', default=[1.0], help='GB of log per case')
    ap.add_argument('--apps', type=int, default=20)
    ap.add_argument('--runs', type=int, default=3)
    a = ap.parse_args()
    rows = []
    work = tempfile.mkdtemp(prefix='eddy-restart-')
    server = None
    try:
        empty = Server(os.path.join(work, 'empty'), os.path.join(work, 'empty.log'))
        times = []
        for _ in range(a.runs):
            times.append(empty.start())
            empty.stop()
        rows.append(('empty data directory, clean stop', 0, 0, times))
        for gb in a.sizes:
            data = os.path.join(work, 'data-%g' % gb)
            server = Server(data, os.path.join(work, 'eddy-%g.log' % gb))
            server.start()
            fill(server, gb, a.apps)
            for kind, sig in (('clean stop (SIGTERM)', signal.SIGTERM), ('kill -9', signal.SIGKILL)):
                times = []
                for _ in range(a.runs):
                    server.stop(sig)
                    times.append(server.start())
                rows.append(('%g GB, %d apps, after %s' % (gb, a.apps, kind), du(data), a.apps, times))
                print('%s: %s' % (rows[-1][0], ' '.join('%.3f' % t for t in times)), flush=True)
            server.stop()
            server = None
            shutil.rmtree(data, ignore_errors=True)
    finally:
        if server:
            server.stop(signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    print()
    print('%-44s %10s %10s %10s %10s' % ('start to ready', 'data MB', 'best s', 'median s', 'worst s'))
    for name, size, _, times in rows:
        t = sorted(times)
        print('%-44s %10.0f %10.3f %10.3f %10.3f' % (name, size / 1e6, t[0], t[len(t) // 2], t[-1]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
