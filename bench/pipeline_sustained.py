#!/usr/bin/env python3
"""The whole seed pipeline under sustained load (issue 27, part 2).

  python3 bench/pipeline_sustained.py [--rates 10000,...,280000] [--step-seconds 60]
                                      [--latency-seconds 300] [--producers 2] [--skip-peer]

Starts `eddy serve` on an empty data directory and applies examples/sales-revenue/pipeline.yaml:
the `sales` stream (2 shards), the revenue application writing into the `sales-revenue` delivery
stream (a bucket folder), and the category application writing into the `sales-by-category`
stream. Producers (`eddy gen sales`, event times from the wall clock, PRODUCERS processes each
taking an equal part of the rate) then feed `sales` at each rate of RATES for STEP_SECONDS, while
/metrics is read every second. A rate is kept up with when

  - the producers got it in (at least 95 % of it was accepted),
  - both applications stayed within 1 s of their source (eddy_kinesisanalytics_behind_latest_seconds,
    the KDA MillisBehindLatest, at every sample of the step's second half), and
  - the delivery stream's backlog stayed flat (what it accepted but has not delivered never exceeds
    what two of its buffering intervals bring).

The steps stop at the first rate not kept up with. Then the pipeline runs at half the highest rate
kept up with for LATENCY_SECONDS, and the latency from a window's close to its row is measured
twice: to the `sales-by-category` stream (the row's arrival time there minus the window's end; the
windows are 60 s tumbling windows on arrival time, and a window's row carries the window's end as
its ROWTIME) and to the bucket (the revenue object's modification time minus the end of the newest
window in it; this includes the delivery stream's 60 s buffering interval, as it would on AWS).
Only windows wholly inside the phase count: the first began before the producers, and the last
closes only when the applications notice the stream has gone quiet.

The peer: kinesalite (node_modules/kinesalite, in memory; what the seed ran against) and eddy with
no applications, each fed by the same producers as fast as they take records for STEP_SECONDS
(ingest alone, the figure the whole pipeline is compared with). There is no fair whole-pipeline
peer: KDA SQL applications have no open-source engine to run beside kinesalite, and DuckDB polling
a stream would be a program this benchmark writes, not a system users run.

Builds nothing: EDDY_BIN (default build/release/eddy). Needs boto3; node and `npm ci` for the peer.
The producers and the server share the machine's cores. Every wait is bounded; every process it
starts is stopped on exit.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import boto3
from botocore.config import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
EDDY = os.environ.get('EDDY_BIN', os.path.join(ROOT, 'build', 'release', 'eddy'))
PIPELINE = os.path.join(ROOT, 'examples', 'sales-revenue', 'pipeline.yaml')
APPS = ('sales-revenue', 'sales-by-category')
DELIVERY = 'sales-revenue'
WINDOW_S = 60
BUFFER_INTERVAL_S = 60  # the pipeline's delivery stream: buffering interval_seconds
PROCS = []


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start(args, log_path, env=None):
    log = open(log_path, 'wb')
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    PROCS.append(p)
    return p


def stop_all():
    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in PROCS:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_ready(url, proc, path='/ready', seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('the server exited with %s' % proc.returncode)
        try:
            urllib.request.urlopen(url + path, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (kinesalite has no /ready)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('%s did not answer within %d s' % (url, seconds))


def kinesis(url):
    return boto3.client('kinesis', endpoint_url=url, region_name='us-east-1', aws_access_key_id='bench',
                        aws_secret_access_key='bench', config=Config(retries={'total_max_attempts': 5}))


METRIC = re.compile(r'^([a-z_]+)\{([^}]*)\} (\S+)$')


def metrics(url):
    """{(name, label value): value} of the families this benchmark reads."""
    text = urllib.request.urlopen(url + '/metrics', timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m or not m.group(1).startswith(('eddy_kinesis_incoming_records_total', 'eddy_kinesisanalytics_',
                                               'eddy_firehose_')):
            continue
        labels = dict(kv.split('=', 1) for kv in m.group(2).split(',') if '=' in kv)
        key = next(iter(labels.values()), '').strip('"')
        out[(m.group(1), key)] = float(m.group(3))
    return out


def producers(url, stream, rate, seconds, count, work, tag):
    """COUNT `eddy gen sales` processes, each at RATE/COUNT (0: as fast as it goes)."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID='bench', AWS_SECRET_ACCESS_KEY='bench')
    per = rate / count
    batch = ['--batch', '500'] if rate == 0 or per >= 10000 else []
    return [start([EDDY, 'gen', 'sales', '--endpoint', url, '--stream', stream, '--rate', '%g' % per,
                   '--duration', '%g' % seconds, '--start-time', 'now'] + batch,
                  os.path.join(work, 'gen-%s-%d.log' % (tag, i)), env) for i in range(count)]


def wait_all(procs, seconds):
    deadline = time.monotonic() + seconds
    for p in procs:
        p.wait(timeout=max(1.0, deadline - time.monotonic()))


def step(url, rate, seconds, count, work):
    """Feeds `sales` at RATE for SECONDS, sampling /metrics every second."""
    before = metrics(url)
    t0 = time.monotonic()
    gens = producers(url, 'sales', rate, seconds, count, work, 'step%d' % rate)
    samples = []
    while any(g.poll() is None for g in gens) and time.monotonic() < t0 + seconds + 30:
        time.sleep(1)
        samples.append((time.monotonic() - t0, metrics(url)))
    wait_all(gens, 30)
    elapsed = time.monotonic() - t0
    after = metrics(url)
    got = after.get(('eddy_kinesis_incoming_records_total', 'sales'), 0) - \
        before.get(('eddy_kinesis_incoming_records_total', 'sales'), 0)
    late = [m for t, m in samples if t >= seconds / 2]
    behind = max((m.get(('eddy_kinesisanalytics_behind_latest_seconds', a), 0.0) for m in late for a in APPS),
                 default=0.0)
    # Rows a delivery stream holds: accepted minus delivered.
    held = [m.get(('eddy_firehose_incoming_records_total', DELIVERY), 0) -
            m.get(('eddy_firehose_delivery_records_total', DELIVERY), 0) for _, m in samples]
    rows_per_interval = after.get(('eddy_firehose_incoming_records_total', DELIVERY), 0) - \
        before.get(('eddy_firehose_incoming_records_total', DELIVERY), 0)
    rows_per_interval = rows_per_interval * BUFFER_INTERVAL_S / max(elapsed, 1.0)
    backlog_max = max(held, default=0)
    flat = backlog_max <= 2 * max(rows_per_interval, 1.0) + 10
    achieved = got / seconds
    kept = achieved >= 0.95 * rate and behind < 1.0 and flat
    return dict(rate=rate, achieved=achieved, behind=behind, backlog=backlog_max, kept=kept)


def caught_up(url, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        m = metrics(url)
        if all(m.get(('eddy_kinesisanalytics_behind_latest_seconds', a), 0.0) == 0.0 for a in APPS):
            return True
        time.sleep(1)
    return False


def read_stream(k, stream, since):
    """Every record of STREAM that arrived after SINCE (a datetime), all shards, bounded."""
    out = []
    for shard in k.list_shards(StreamName=stream)['Shards']:
        it = k.get_shard_iterator(StreamName=stream, ShardId=shard['ShardId'], ShardIteratorType='AT_TIMESTAMP',
                                  Timestamp=since)['ShardIterator']
        for _ in range(10000):
            r = k.get_records(ShardIterator=it, Limit=10000)
            out += r['Records']
            it = r.get('NextShardIterator')
            if not it or r.get('MillisBehindLatest', 0) == 0 and not r['Records']:
                break
    return out


def parse_ts(text):
    return datetime.strptime(text, '%Y-%m-%d %H:%M:%S.%f').replace(tzinfo=timezone.utc).timestamp()


def percentile(values, p):
    if not values:
        return float('nan')
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def latency_phase(url, k, rate, seconds, count, work, bucket_dir):
    since = datetime.now(timezone.utc)
    t_start = time.time()
    gens = producers(url, 'sales', rate, seconds, count, work, 'latency')
    wait_all(gens, seconds + 60)
    t_stop = time.time()
    # Windows close on arrival time: the last one closes once a later record arrives; wait for the
    # windows that ended during the run, plus the delivery's buffering interval.
    time.sleep(BUFFER_INTERVAL_S + 15)
    stream_lat, windows = [], set()
    for rec in read_stream(k, 'sales-by-category', since):
        row = json.loads(rec['Data'])
        end = parse_ts(row['timestamp'])  # a tumbling window's row carries its end as ROWTIME
        if end < t_start + WINDOW_S or end > t_stop:
            continue  # the first window began before the producers; the last closes by idleness
        stream_lat.append(rec['ApproximateArrivalTimestamp'].timestamp() - end)
        windows.add(end)
    bucket_lat = []
    for dirpath, _, files in os.walk(bucket_dir):
        for f in files:
            path = os.path.join(dirpath, f)
            if 'sales_revenue' not in path or os.path.getmtime(path) < t_start:
                continue
            ends = [parse_ts(json.loads(line)['timestamp']) for line in open(path) if line.strip()]
            ends = [e for e in ends if t_start + WINDOW_S <= e <= t_stop]
            if ends:
                bucket_lat.append(os.path.getmtime(path) - max(ends))
    return stream_lat, bucket_lat, len(windows)


def ingest_only(url, k, seconds, count, work, tag, make_stream=True):
    if make_stream:
        k.create_stream(StreamName='sales', ShardCount=2)
        k.get_waiter('stream_exists').wait(StreamName='sales', WaiterConfig={'Delay': 0.2, 'MaxAttempts': 100})
    t0 = time.monotonic()
    gens = producers(url, 'sales', 0, seconds, count, work, tag)
    wait_all(gens, seconds + 60)
    elapsed = time.monotonic() - t0
    total = 0
    for i in range(count):
        text = open(os.path.join(work, 'gen-%s-%d.log' % (tag, i))).read()
        m = re.findall(r'"record_count": (\d+)', text)
        total += int(m[-1]) if m else 0
    return total / elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rates', default='10000,20000,40000,80000,120000,160000,200000,240000,280000')
    ap.add_argument('--step-seconds', type=float, default=60)
    ap.add_argument('--latency-seconds', type=float, default=300)
    ap.add_argument('--producers', type=int, default=2)
    ap.add_argument('--skip-peer', action='store_true')
    a = ap.parse_args()
    rates = [float(r) for r in a.rates.split(',')]
    work = tempfile.mkdtemp(prefix='eddy-pipeline-')
    print('machine: %s, %d cores; eddy %s' % (platform.machine(), os.cpu_count(), EDDY), flush=True)
    try:
        port = free_port()
        url = 'http://127.0.0.1:%d' % port
        bucket_dir = os.path.join(work, 'buckets')
        server = start([EDDY, 'serve', '--host', '127.0.0.1', '--port', str(port), '--data-dir',
                        os.path.join(work, 'data'), '--bucket-dir', bucket_dir], os.path.join(work, 'eddy.log'))
        wait_ready(url, server)
        subprocess.run([EDDY, 'apply', PIPELINE, '--endpoint', url], check=True, stdout=subprocess.DEVNULL,
                       timeout=120)
        k = kinesis(url)
        print('%10s %12s %14s %12s %s' % ('rate/s', 'accepted/s', 'apps behind s', 'held rows', 'kept up'),
              flush=True)
        best = 0.0
        for rate in rates:
            r = step(url, rate, a.step_seconds, a.producers, work)
            print('%10.0f %12.0f %14.3f %12.0f %s' % (r['rate'], r['achieved'], r['behind'], r['backlog'],
                                                      'yes' if r['kept'] else 'no'), flush=True)
            if not r['kept']:
                break
            best = rate
            if not caught_up(url):
                print('the applications did not catch up within 120 s after the step', flush=True)
                break
        if best == 0:
            print('no rate was kept up with', flush=True)
            return 1
        half = best / 2
        stream_lat, bucket_lat, windows = latency_phase(url, k, half, a.latency_seconds, a.producers, work,
                                                        bucket_dir)
        print('\nwindow close -> row at %.0f records/s for %.0f s (%d windows closed inside it)'
              % (half, a.latency_seconds, windows))
        print('%-42s %6s %8s %8s' % ('to', 'rows', 'p50 s', 'p99 s'))
        print('%-42s %6d %8.3f %8.3f' % ('sales-by-category stream (application)', len(stream_lat),
                                         percentile(stream_lat, 50), percentile(stream_lat, 99)))
        print('%-42s %6d %8.3f %8.3f' % ('bucket objects (with 60 s buffering)', len(bucket_lat),
                                         percentile(bucket_lat, 50), percentile(bucket_lat, 99)), flush=True)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

        print('\ningest alone, the same %d producers as fast as they go for %.0f s' % (a.producers, a.step_seconds))
        port = free_port()
        url = 'http://127.0.0.1:%d' % port
        plain = start([EDDY, 'serve', '--host', '127.0.0.1', '--port', str(port), '--data-dir',
                       os.path.join(work, 'data-plain')], os.path.join(work, 'eddy-plain.log'))
        wait_ready(url, plain)
        eddy_alone = ingest_only(url, kinesis(url), a.step_seconds, a.producers, work, 'eddy-alone')
        plain.send_signal(signal.SIGTERM)
        plain.wait(timeout=30)
        print('%-44s %12.0f records/s' % ('eddy, no applications', eddy_alone))
        if not a.skip_peer:
            port = free_port()
            url = 'http://127.0.0.1:%d' % port
            script = ('const k = require(process.argv[1]); const s = k({createStreamMs: 0, deleteStreamMs: 0, '
                      'updateStreamMs: 0, shardLimit: 100}); s.listen(%d, "127.0.0.1"); '
                      'process.on("SIGTERM", () => process.exit(0));' % port)
            peer = start(['node', '-e', script, os.path.join(ROOT, 'node_modules', 'kinesalite')],
                         os.path.join(work, 'kinesalite.log'))
            wait_ready(url, peer, path='/')
            lite = ingest_only(url, kinesis(url), a.step_seconds, a.producers, work, 'kinesalite')
            print('%-44s %12.0f records/s' % ('kinesalite (ingest alone)', lite))
            print('%-44s %12.2fx' % ('eddy whole pipeline / kinesalite ingest', best / lite if lite else 0))
        print('%-44s %12.0f records/s' % ('eddy whole pipeline, highest kept up', best), flush=True)
        return 0
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
