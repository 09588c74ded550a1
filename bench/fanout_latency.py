#!/usr/bin/env python3
"""Enhanced fan-out latency: SubscribeToShard against GetRecords polling, measured in one run.

One eddy server (started here, port 0, data in a temp dir), one stream of 1 shard, a producer
putting records at a fixed rate (default 200 records/s for 30 s, one PutRecord per record), and
two phases one after the other on the same stream, each with a fresh producer run:

  1. fan-out: 5 consumers registered with RegisterStreamConsumer, each with its own
     SubscribeToShard subscription (StartingPosition LATEST, re-subscribed from the last
     ContinuationSequenceNumber if a subscription ends) reading the pushed SubscribeToShardEvents;
  2. polling (the peer): 5 GetRecords pollers (iterator LATEST, Limit 10000) that sleep
     --poll-interval-ms (default 200 ms, as asked for KCL's idle time between reads) after every
     call, returning records or not.

Every record's data carries its id and the producer's send time; the producer also notes when
each PutRecord was acknowledged. A consumer notes when the event (or the GetRecords answer) that
carried the record arrived. Latency = consumer received - put acknowledged (the main figures),
and consumer received - put sent (the extra columns), pooled over all consumers, as
p50/p90/p99/max. All times are CLOCK_MONOTONIC (time.monotonic_ns), which is one clock for all
processes of a machine. Received - acknowledged can be slightly negative: the server makes a
record readable and answers its PutRecord at about the same moment, and the consumer may be
scheduled before the producer.

Python's GIL: the producer and every consumer are separate processes (this script started again
with --role), so no consumer waits for another's GIL; each uses boto3 (botocore's own EventStream
reader for SubscribeToShard, over HTTP/1.1 chunked). On a 2-core machine the server, the producer
and the ten consumer processes still share the two cores.

  python3 bench/fanout_latency.py                       # EDDY_BIN defaults to build/release/eddy
  python3 bench/fanout_latency.py --duration 60 --fsync always,interval=100

Builds nothing. Needs boto3 with SubscribeToShard (botocore >= 1.13; the pyenv python3 has 1.43).
Every wait is bounded (server start 20 s, consumers ready 30 s, each phase --duration + 60 s), and
every process it starts is stopped on exit, by its PID.
"""

import argparse
import gc
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
DEFAULT_EDDY = os.environ.get('EDDY_BIN', os.path.join(ROOT, 'build', 'release', 'eddy'))
STREAM = 'fanout-bench'
END_MARK = b'END'


# ============================================================================ child processes

def make_client(endpoint, read_timeout=30, quiet_gc=False):
    import boto3
    from botocore.config import Config
    client = boto3.client(
        'kinesis', endpoint_url=endpoint, region_name='us-east-1',
        aws_access_key_id='bench', aws_secret_access_key='bench',
        config=Config(retries={'max_attempts': 1, 'mode': 'standard'}, connect_timeout=5,
                      read_timeout=read_timeout, tcp_keepalive=True))
    if quiet_gc:
        # botocore's loaded service models are a large heap: a full (generation 2) collection of
        # it stalls a process for 50-150 ms, at the same allocation count in every consumer, so
        # all of them at once. The children of a bounded run need no cycle collector.
        gc.freeze()
        gc.disable()
    return client


def touch(path):
    with open(path, 'w') as f:
        f.write('ready\n')


def record_id(data):
    """The id in a record's data, or None for the end mark."""
    if data.startswith(END_MARK):
        return None
    return json.loads(data)['i']


def run_subscriber(a):
    """One SubscribeToShard subscription after another until the end mark or the deadline."""
    from botocore.exceptions import ClientError
    client = make_client(a.endpoint, quiet_gc=True)
    deadline = time.monotonic() + a.max_seconds
    position = {'Type': 'LATEST'}
    got, subscriptions, errors = [], 0, []
    done = ready = False
    while not done and time.monotonic() < deadline:
        try:
            resp = client.subscribe_to_shard(ConsumerARN=a.consumer_arn, ShardId=a.shard,
                                             StartingPosition=position)
        except ClientError as e:
            # A second subscription within 5 s of the last is refused (ResourceInUseException).
            errors.append(str(e)[:200])
            time.sleep(1)
            continue
        subscriptions += 1
        if not ready:
            touch(a.ready_file)
            ready = True
        stream = resp['EventStream']
        try:
            for event in stream:
                now = time.monotonic_ns()
                e = event.get('SubscribeToShardEvent')
                if e is None:
                    continue
                for r in e['Records']:
                    i = record_id(r['Data'])
                    if i is None:
                        done = True
                    else:
                        got.append((i, now))
                cont = e.get('ContinuationSequenceNumber')
                if cont:
                    position = {'Type': 'AFTER_SEQUENCE_NUMBER', 'SequenceNumber': cont}
                if done or time.monotonic() >= deadline:
                    break
        except Exception as ex:  # noqa: BLE001 - reported, then re-subscribed
            errors.append(repr(ex)[:200])
        finally:
            stream.close()
    with open(a.out, 'w') as f:
        json.dump({'got': got, 'subscriptions': subscriptions, 'errors': errors[:5], 'saw_end': done}, f)


def run_poller(a):
    """GetRecords from LATEST, sleeping --poll-interval-ms after every call."""
    client = make_client(a.endpoint, quiet_gc=True)
    deadline = time.monotonic() + a.max_seconds
    it = client.get_shard_iterator(StreamName=STREAM, ShardId=a.shard,
                                   ShardIteratorType='LATEST')['ShardIterator']
    touch(a.ready_file)
    got, calls, errors = [], 0, []
    done = False
    interval = a.poll_interval_ms / 1000.0
    while not done and time.monotonic() < deadline:
        try:
            r = client.get_records(ShardIterator=it, Limit=10000)
        except Exception as ex:  # noqa: BLE001 - reported; the iterator stays valid for 5 min
            errors.append(repr(ex)[:200])
            time.sleep(interval)
            continue
        now = time.monotonic_ns()
        calls += 1
        for rec in r['Records']:
            i = record_id(rec['Data'])
            if i is None:
                done = True
            else:
                got.append((i, now))
        it = r['NextShardIterator']
        if not done:
            time.sleep(interval)
    with open(a.out, 'w') as f:
        json.dump({'got': got, 'calls': calls, 'errors': errors[:5], 'saw_end': done}, f)


def run_producer(a):
    """PutRecord (or PutRecords of --batch) at --rate records/s for --count records, then the
    end mark. Records are sent on schedule (record k at t0 + k/rate); when a call takes longer
    than the gap, the next goes at once and the achieved rate is reported."""
    client = make_client(a.endpoint, quiet_gc=True)
    pad = 'x' * max(0, a.record_bytes - 48)
    log, errors = [], []  # (id, sent_ns, acked_ns)
    t0 = time.monotonic()
    i = 0
    while i < a.count:
        due = t0 + i / a.rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        ids = range(i, min(a.count, i + a.batch))
        sent = time.monotonic_ns()
        datas = [json.dumps({'i': k, 't': sent, 'p': pad}, separators=(',', ':')).encode() for k in ids]
        try:
            if a.batch == 1:
                client.put_record(StreamName=STREAM, Data=datas[0], PartitionKey=str(i))
                failed = set()
            else:
                r = client.put_records(StreamName=STREAM, Records=[
                    {'Data': d, 'PartitionKey': str(k)} for k, d in zip(ids, datas)])
                failed = {k for k, rr in zip(ids, r['Records']) if 'ErrorCode' in rr}
            acked = time.monotonic_ns()
            log.extend((k, sent, acked) for k in ids if k not in failed)
            if failed:
                errors.append('%d records failed' % len(failed))
        except Exception as ex:  # noqa: BLE001 - counted, the run goes on
            errors.append(repr(ex)[:200])
        i += len(ids)
    elapsed = time.monotonic() - t0
    for _ in range(3):  # the end mark, retried a little if the server hiccups
        try:
            client.put_record(StreamName=STREAM, Data=END_MARK, PartitionKey='end')
            break
        except Exception as ex:  # noqa: BLE001
            errors.append(repr(ex)[:200])
            time.sleep(0.5)
    with open(a.out, 'w') as f:
        json.dump({'log': log, 'elapsed_s': elapsed, 'errors': errors[:5], 'error_count': len(errors)}, f)


# ============================================================================ the driver

CHILDREN = []  # every process started, stopped newest first on exit


def stop(proc, grace=5.0):
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def stop_all():
    while CHILDREN:
        stop(CHILDREN.pop())


def on_signal(signum, _frame):
    print("interrupted", file=sys.stderr)
    raise SystemExit(128 + signum)


def spawn(args, **kw):
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kw)
    CHILDREN.append(p)
    return p


def start_eddy(eddy, fsync, work, tag, timeout=20.0):
    data = os.path.join(work, 'data-' + tag)
    os.makedirs(data, exist_ok=True)
    log_path = os.path.join(work, 'server-%s.log' % tag)
    log = open(log_path, 'w')
    proc = spawn([eddy, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', data, '--fsync', fsync],
                 stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path) as f:
            m = re.search(r'listening on http://127\.0\.0\.1:(\d+)', f.read())
        if m:
            return proc, 'http://127.0.0.1:%s' % m.group(1), data
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    with open(log_path) as f:
        tail = f.read()[-2000:]
    raise SystemExit('eddy did not start (fsync %s):\n%s' % (fsync, tail))


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise SystemExit('timed out after %.0f s waiting for %s' % (timeout, what))


def pct(sorted_v, p):
    if not sorted_v:
        return float('nan')
    return sorted_v[min(len(sorted_v) - 1, int(p * len(sorted_v)))]


def child_cmd(role, **kw):
    cmd = [sys.executable, os.path.abspath(__file__), '--role', role]
    for k, v in kw.items():
        cmd += ['--' + k.replace('_', '-'), str(v)]
    return cmd


def run_phase(mode, a, endpoint, shard, consumer_arns, work, tag):
    """One phase: start the consumers, wait until each is reading, run the producer, collect."""
    n = int(a.rate * a.duration)
    max_s = a.duration + 60  # consumers give up this long after they start
    procs, outs = [], []
    for c in range(a.consumers):
        ready = os.path.join(work, '%s-%s-%d.ready' % (tag, mode, c))
        out = os.path.join(work, '%s-%s-%d.json' % (tag, mode, c))
        if mode == 'fan-out':
            cmd = child_cmd('subscriber', endpoint=endpoint, shard=shard, consumer_arn=consumer_arns[c],
                            ready_file=ready, out=out, max_seconds=max_s)
        else:
            cmd = child_cmd('poller', endpoint=endpoint, shard=shard, ready_file=ready, out=out,
                            max_seconds=max_s, poll_interval_ms=a.poll_interval_ms)
        procs.append(spawn(cmd))
        outs.append((ready, out))
    wait_until(lambda: all(os.path.exists(r) for r, _ in outs) or any(p.poll() not in (None, 0) for p in procs),
               30, '%s consumers to be ready' % mode)
    if not all(os.path.exists(r) for r, _ in outs):
        raise SystemExit('a %s consumer failed before it was ready' % mode)
    time.sleep(0.5)  # the subscriptions' first (empty) events out of the way
    pout = os.path.join(work, '%s-%s-producer.json' % (tag, mode))
    producer = spawn(child_cmd('producer', endpoint=endpoint, out=pout, count=n, rate=a.rate,
                               batch=a.batch, record_bytes=a.record_bytes))
    try:
        producer.wait(a.duration * 3 + 60)
    except subprocess.TimeoutExpired:
        raise SystemExit('the %s producer did not finish in time' % mode)
    for p in procs:
        try:
            p.wait(max_s + 10)
        except subprocess.TimeoutExpired:
            stop(p)
    with open(pout) as f:
        prod = json.load(f)
    acked = {i: (s, k) for i, s, k in prod['log']}
    ack_lat, send_lat, per_consumer, notes, info = [], [], [], [], []
    for c, (_, out) in enumerate(outs):
        if not os.path.exists(out):
            notes.append('consumer %d wrote no result' % c)
            per_consumer.append(0)
            continue
        with open(out) as f:
            res = json.load(f)
        seen = set()
        for i, recv in res['got']:
            if i in seen or i not in acked:
                continue
            seen.add(i)
            s, k = acked[i]
            ack_lat.append((recv - k) / 1e6)
            send_lat.append((recv - s) / 1e6)
        per_consumer.append(len(seen))
        if len(seen) < len(acked):
            notes.append('consumer %d missed %d acknowledged records' % (c, len(acked) - len(seen)))
        if res['errors']:
            notes.append('consumer %d: %s' % (c, '; '.join(res['errors'][:2])))
        if not res['saw_end']:
            notes.append('consumer %d stopped before the end mark' % c)
        if mode == 'fan-out' and res.get('subscriptions', 1) > 1:
            info.append('consumer %d subscribed %d times' % (c, res['subscriptions']))
    if prod['error_count']:
        notes.append('producer: %d errors, e.g. %s' % (prod['error_count'], prod['errors'][:1]))
    put_lat = sorted((k - s) / 1e6 for _, s, k in prod['log'])
    ack_lat.sort()
    send_lat.sort()
    return {
        'mode': mode, 'consumers': a.consumers, 'expected': n, 'acked': len(acked),
        'per_consumer': per_consumer, 'ack': ack_lat, 'send': send_lat,
        'rate': len(acked) / prod['elapsed_s'] if prod['elapsed_s'] > 0 else 0,
        'put_p50': pct(put_lat, 0.5), 'put_p99': pct(put_lat, 0.99), 'notes': notes, 'info': info,
    }


def kinesis_admin(endpoint):
    return make_client(endpoint)


def run_server(a, fsync, work, tag):
    proc, endpoint, data = start_eddy(a.eddy, fsync, work, tag)
    try:
        k = kinesis_admin(endpoint)
        k.create_stream(StreamName=STREAM, ShardCount=1)
        wait_until(lambda: k.describe_stream_summary(StreamName=STREAM)['StreamDescriptionSummary']
                   ['StreamStatus'] == 'ACTIVE', 30, 'the stream to be ACTIVE')
        summary = k.describe_stream_summary(StreamName=STREAM)['StreamDescriptionSummary']
        shard = k.list_shards(StreamName=STREAM)['Shards'][0]['ShardId']
        arns = []
        for c in range(a.consumers):
            arn = k.register_stream_consumer(StreamARN=summary['StreamARN'],
                                             ConsumerName='bench-%d' % c)['Consumer']['ConsumerARN']
            wait_until(lambda: k.describe_stream_consumer(ConsumerARN=arn)['ConsumerDescription']
                       ['ConsumerStatus'] == 'ACTIVE', 30, 'consumer %d to be ACTIVE' % c)
            arns.append(arn)
        rows = []
        for mode in ('fan-out', 'polling'):
            print('  %s, fsync %s: %d consumers, %d records at %g/s ...' % (
                mode, fsync, a.consumers, int(a.rate * a.duration), a.rate), flush=True)
            r = run_phase(mode, a, endpoint, shard, arns, work, tag)
            r['fsync'] = fsync
            rows.append(r)
        return rows
    finally:
        stop(proc)
        if proc in CHILDREN:
            CHILDREN.remove(proc)
        shutil.rmtree(data, ignore_errors=True)


def machine(eddy):
    def cpu():
        try:
            with open('/proc/cpuinfo') as f:
                m = re.search(r'^model name\s*:\s*(.*)$', f.read(), re.M)
            return m.group(1) if m else '?'
        except OSError:
            return '?'

    def mem():
        try:
            with open('/proc/meminfo') as f:
                kb = int(re.search(r'MemTotal:\s*(\d+)', f.read()).group(1))
            return '%.1f GiB' % (kb / 1048576)
        except (OSError, AttributeError):
            return '?'
    try:
        ver = subprocess.run([eddy, '--version'], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        ver = '?'
    import botocore
    print('=== machine')
    print('nproc:      %d' % os.cpu_count())
    print('cpu:        %s' % cpu())
    print('memory:     %s' % mem())
    print('kernel:     %s %s' % (platform.system(), platform.release()))
    print('eddy:       %s (%s)' % (eddy, ver or 'version unknown'))
    print('client:     python %s, botocore %s, one process per consumer and for the producer' % (
        platform.python_version(), botocore.__version__))


def fmt(v):
    return '-' if v != v else '%.1f' % v  # nan -> '-'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--role', default='driver', choices=['driver', 'subscriber', 'poller', 'producer'],
                    help=argparse.SUPPRESS)
    ap.add_argument('--eddy', default=DEFAULT_EDDY, help='eddy binary (default $EDDY_BIN or build/release/eddy)')
    ap.add_argument('--duration', type=float, default=30, help='seconds of production per phase [30]')
    ap.add_argument('--rate', type=float, default=200, help='records/s the producer puts [200]')
    ap.add_argument('--batch', type=int, default=1, help='records per call: 1 = PutRecord, more = PutRecords [1]')
    ap.add_argument('--record-bytes', type=int, default=100, help='approximate record size [100]')
    ap.add_argument('--consumers', type=int, default=5, help='fan-out consumers, and pollers [5]')
    ap.add_argument('--poll-interval-ms', type=float, default=200, help='pollers sleep this long between calls [200]')
    ap.add_argument('--fsync', default='always', help='comma-separated --fsync settings, a server each [always]')
    ap.add_argument('--keep', action='store_true', help='keep the work dir (logs, raw results)')
    # child-only
    for opt in ('--endpoint', '--shard', '--consumer-arn', '--ready-file', '--out'):
        ap.add_argument(opt, help=argparse.SUPPRESS)
    ap.add_argument('--max-seconds', type=float, default=120, help=argparse.SUPPRESS)
    ap.add_argument('--count', type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.role != 'driver':
        # Ctrl-C reaches the whole process group: children leave quietly, the driver reports.
        signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    if a.role == 'subscriber':
        return run_subscriber(a)
    if a.role == 'poller':
        return run_poller(a)
    if a.role == 'producer':
        return run_producer(a)

    if not (os.path.isfile(a.eddy) and os.access(a.eddy, os.X_OK)):
        raise SystemExit('eddy binary not found: %s (set EDDY_BIN or --eddy; this script builds nothing)' % a.eddy)
    if a.duration <= 0 or a.rate <= 0 or a.duration > 280:
        raise SystemExit('--duration must be in (0, 280] s (one subscription lasts 5 minutes) and --rate > 0')
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    work = tempfile.mkdtemp(prefix='eddy-fanout-bench.')
    rows = []
    try:
        machine(a.eddy)
        print('setup:      1 shard, %d consumers, %g records/s for %g s per phase, %s, ~%d B records, '
              'pollers sleep %g ms' % (a.consumers, a.rate, a.duration,
                                       'PutRecord' if a.batch == 1 else 'PutRecords of %d' % a.batch,
                                       a.record_bytes, a.poll_interval_ms))
        print('work dir:   %s' % work)
        print(flush=True)
        for n, fsync in enumerate(x.strip() for x in a.fsync.split(',') if x.strip()):
            rows += run_server(a, fsync, work, 's%d' % n)
    finally:
        stop_all()
        if a.keep:
            print('work dir kept: %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print('=== put acknowledged -> consumer received (ms), pooled over all consumers; '
          'last two columns: put sent -> received')
    hdr = '%-26s %-12s %9s %15s %8s %8s %8s %8s   %9s %9s' % (
        'mode', 'fsync', 'consumers', 'recs/consumer', 'p50', 'p90', 'p99', 'max', 'sent_p50', 'sent_p99')
    print(hdr)
    for r in rows:
        pc = r['per_consumer']
        per = str(min(pc)) if min(pc) == max(pc) else '%d-%d' % (min(pc), max(pc))
        name = 'fan-out SubscribeToShard' if r['mode'] == 'fan-out' else 'polling GetRecords'
        print('%-26s %-12s %9d %15s %8s %8s %8s %8s   %9s %9s' % (
            name, r['fsync'], r['consumers'], '%s/%d' % (per, r['acked']),
            fmt(pct(r['ack'], 0.5)), fmt(pct(r['ack'], 0.9)), fmt(pct(r['ack'], 0.99)),
            fmt(r['ack'][-1] if r['ack'] else float('nan')),
            fmt(pct(r['send'], 0.5)), fmt(pct(r['send'], 0.99))))
    print()
    for r in rows:
        print('producer (%s, fsync %s): %.0f records/s achieved (asked %g), PutRecord%s p50 %.1f ms, p99 %.1f ms' % (
            r['mode'], r['fsync'], r['rate'], a.rate, '' if a.batch == 1 else 's', r['put_p50'], r['put_p99']))
        for note in r['info']:
            print('  note: ' + note)
        for note in r['notes']:
            print('  PROBLEM: ' + note)
    print()
    for fsync in dict.fromkeys(r['fsync'] for r in rows):
        by = {r['mode']: r for r in rows if r['fsync'] == fsync}
        f, p = by.get('fan-out'), by.get('polling')
        if f and p and f['ack'] and p['ack']:
            fp99, pp99 = pct(f['ack'], 0.99), pct(p['ack'], 0.99)
            fs99, ps99 = pct(f['send'], 0.99), pct(p['send'], 0.99)
            ratio = '%.1fx' % (pp99 / fp99) if fp99 > 0 else '-'
            sratio = '%.1fx' % (ps99 / fs99) if fs99 > 0 else '-'
            print('fsync %s: polling p99 / fan-out p99 = %.1f / %.1f ms = %s (acknowledged -> received); '
                  '%.1f / %.1f ms = %s (sent -> received)' % (fsync, pp99, fp99, ratio, ps99, fs99, sratio))
    bad = any(r['notes'] or not r['ack'] for r in rows)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
