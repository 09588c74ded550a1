"""Cluster chaos: no acknowledged record is lost (3 nats-servers, --replicas 3, 3 eddy nodes).

A stream with 4 shards. Producer threads (boto3, SDK retries: standard mode, 10 attempts) put
records through random live eddy nodes for a bounded time and log every ACKNOWLEDGED record with
the SequenceNumber and ShardId it was acknowledged with (PutRecords: the entries without ErrorCode;
failed entries are sent again, each time under a new id, in a later call). Meanwhile a chaos
thread, in order:
  1. kill -9 of the nats-server leading the most of the stream's shard streams; restart after 5 s;
  2. kill -9 of one eddy node (producers stop choosing it); restart after 4 s (new port);
  3. SplitShard of one open shard at its middle hash key;
  4. MergeShards of two adjacent open shards (found from ListShards hash ranges);
every admin call through a node that is up, ResourceInUse/LimitExceeded retried briefly.

Then every shard (closed parents and children included, from ListShards) is read from TRIM_HORIZON
through one node, and again through the restarted node, and the test asserts:
  - every acknowledged id is there, at exactly the ShardId and SequenceNumber acknowledged;
  - no id is stored twice, except ids whose PutRecords went over HTTP more than once (the SDK
    retried it: a 503 after eddy's 8 s append deadline or a read timeout may follow an append that
    did land, and Kinesis has no idempotency token; such copies are counted and printed);
  - within each shard sequence numbers strictly increase, each record's data is intact and its
    partition key hashes into the shard's range;
  - records stored though never acknowledged (an attempt whose answer was lost) are allowed, and
    counted;
  - both reads agree; puts were still acknowledged after the merge.
A summary is printed (acknowledged, read, unacknowledged but stored, per-shard counts, timeline);
on failure also the eddy and nats-server log tails.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_cluster_chaos
EDDY_E2E_KEEP=1 keeps the eddy and nats-server directories (data, logs).
"""

import collections
import os
import random
import sys
import threading
import time
import unittest

from botocore.config import Config
from botocore.exceptions import ClientError

import harness
import nats_cluster
from cluster_util import (LogsOnFailure, boto3_client, close_all, cluster_args, error_code, poll,
                          record_data)

SHARDS = 4
PRODUCERS = 3
BATCH = 20
PRODUCE_MIN_S = 40.0       # producers run at least this long ...
POST_CHAOS_S = 8.0         # ... and this long after the last chaos step ...
PRODUCE_MAX_S = 75.0       # ... but never longer than this
GIVE_UP_AFTER_STOP_S = 20  # an SDK call still retrying this long after the stop is abandoned
CHAOS_TIMEOUT_S = 70.0
ADMIN_RETRY_S = 25.0
VISIBLE_TIMEOUT_S = 20.0
SDK_TIMEOUT_S = 15


class NodeDown(Exception):
    """Raised before an HTTP send to an eddy node the test has taken down (not retried)."""


class GiveUp(Exception):
    """Raised before an HTTP send long after the producers were told to stop (not retried)."""


def sdk_config():
    return Config(retries={'max_attempts': 10, 'mode': 'standard'},
                  connect_timeout=SDK_TIMEOUT_S, read_timeout=SDK_TIMEOUT_S)


def make_client(session, endpoint):
    return boto3_client('kinesis', endpoint, sdk_config(), session=session)


class Nodes:
    """Which eddy nodes producers and admin calls may use: index -> current port (None: down)."""

    def __init__(self, servers):
        self.servers = servers
        self.lock = threading.Lock()
        self.ports = {i: s.port for i, s in enumerate(servers)}

    def up(self):
        with self.lock:
            return [(i, p) for i, p in sorted(self.ports.items()) if p is not None]

    def is_current(self, i, port):
        with self.lock:
            return self.ports.get(i) == port

    def mark_down(self, i):
        with self.lock:
            self.ports[i] = None

    def mark_up(self, i, port):
        with self.lock:
            self.ports[i] = port


class Ledger:
    """Every id sent, acknowledged (id -> (shard id, sequence number)), and those whose request
    went over HTTP more than once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = set()           # in a request that went out at least once
        self.unsent = set()         # in a request stopped before any send
        self.acked = {}
        self.ack_times = {}         # id -> monotonic time of its acknowledgement
        self.repeated = set()       # request sent 2+ times (SDK retries)
        self.calls = 0
        self.failed_entries = collections.Counter()   # ErrorCode -> count
        self.failed_calls = collections.Counter()     # exception kind -> count
        self.retried_calls = 0
        self.given_up = 0           # logical records never acknowledged (producers stopped)
        self.samples = []           # a few failure messages, for the summary


class Producer(threading.Thread):

    def __init__(self, index, stream, nodes, ledger, stop, hard_stop):
        super().__init__(name='producer-%d' % index, daemon=True)
        self.index = index
        self.stream = stream
        self.nodes = nodes
        self.ledger = ledger
        self.stop = stop
        self.hard_stop = hard_stop    # [monotonic deadline or None]
        self.rng = random.Random(index * 7919 + int(time.time()))
        self.sends = 0
        self.clients = {}
        self.error = None
        import boto3
        self.session = boto3.session.Session()

    def client(self, i, port):
        key = (i, port)
        c = self.clients.get(key)
        if c is None:
            c = make_client(self.session, 'http://127.0.0.1:%d' % port)

            def before_send(request, **_):
                if not self.nodes.is_current(i, port):
                    raise NodeDown('eddy node %d (port %d) is down' % (i, port))
                hs = self.hard_stop[0]
                if hs is not None and time.monotonic() > hs:
                    raise GiveUp('producers stopped %d s ago' % GIVE_UP_AFTER_STOP_S)
                self.sends += 1
            c.meta.events.register('before-send.kinesis.PutRecords', before_send)
            self.clients[key] = c
        return c

    def run(self):
        try:
            self.produce()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = '%s: %s' % (type(e).__name__, e)

    def produce(self):
        led = self.ledger
        pending = 0     # logical records whose last attempt failed: sent again under new ids
        call = 0
        while not self.stop.is_set():
            up = self.nodes.up()
            if not up:
                time.sleep(0.1)
                continue
            i, port = self.rng.choice(up)
            c = self.client(i, port)
            n = BATCH if pending < BATCH else pending
            ids = ['p%d-c%d-%d' % (self.index, call, k) for k in range(n)]
            call += 1
            self.sends = 0
            resp, exc = None, None
            try:
                resp = c.put_records(StreamName=self.stream,
                                     Records=[{'Data': record_data(r), 'PartitionKey': r}
                                              for r in ids])
            except (NodeDown, GiveUp, ClientError, Exception) as e:  # noqa: BLE001
                exc = e
            now = time.monotonic()
            with led.lock:
                led.calls += 1
                (led.sent if self.sends else led.unsent).update(ids)
                if self.sends > 1:
                    led.repeated.update(ids)
                    led.retried_calls += 1
                if exc is not None:
                    kind = error_code(exc) or type(exc).__name__
                    led.failed_calls[kind] += 1
                    if len(led.samples) < 8:
                        led.samples.append('call via node %d: %s: %s' % (i, kind, exc))
                    pending = n
                else:
                    if len(resp['Records']) != n:
                        raise AssertionError('PutRecords answered %d entries for %d records'
                                             % (len(resp['Records']), n))
                    failed = 0
                    for r, e in zip(ids, resp['Records']):
                        if 'ErrorCode' in e:
                            led.failed_entries[e['ErrorCode']] += 1
                            if len(led.samples) < 8:
                                led.samples.append('entry via node %d: %s: %s' % (
                                    i, e['ErrorCode'], e.get('ErrorMessage')))
                            failed += 1
                        else:
                            led.acked[r] = (e['ShardId'], int(e['SequenceNumber']))
                            led.ack_times[r] = now
                    pending = failed
            if exc is not None or pending:
                time.sleep(0.2)
            else:
                time.sleep(0.03)
        with led.lock:
            led.given_up += pending


class ChaosTest(LogsOnFailure, unittest.TestCase):
    cluster = None
    eddies = ()

    def setUp(self):
        self._admin_lock = threading.Lock()
        self._admin_clients = {}

    @classmethod
    def setUpClass(cls):
        cls.cluster = nats_cluster.NatsCluster(3, label='nats-chaos')
        cls.eddies = ()
        try:
            cls.cluster.start()
            cls.eddies = tuple(
                harness.EddyServer(cluster_args(cls.cluster, nid, replicas=3),
                                   label='chaos-%s' % nid, native_jobs=False)
                for nid in ('a', 'b', 'c'))
            for e in cls.eddies:
                e.start()
        except BaseException:
            sys.stderr.write('\n==== logs after a failed start ====\n%s\n' % cls.logs())
            cls.stop_all()
            raise

    @classmethod
    def stop_all(cls):
        close_all(cls.eddies, cls.cluster)

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    @classmethod
    def logs(cls):
        parts = []
        for e in cls.eddies:
            # Every incarnation's log (a killed node has two).
            for k in range(1, e._starts + 1):
                path = os.path.join(e.root, '%s-%d.log' % (e.label, k))
                if os.path.exists(path):
                    with open(path, 'rb') as f:
                        lines = f.read().decode('utf-8', 'replace').splitlines()
                    parts.append('--- %s (last 60 lines) ---\n%s' % (path, '\n'.join(lines[-60:])))
        if cls.cluster is not None:
            parts.append(cls.cluster.logs(40))
        return '\n'.join(parts)

    # --------------------------------------------------------------------------- helpers
    def admin_client(self, i):
        """A client for node i's current port (cached; called from the test and chaos threads)."""
        import boto3
        endpoint = self.eddies[i].endpoint
        with self._admin_lock:
            c = self._admin_clients.get(endpoint)
            if c is None:
                c = make_client(boto3.session.Session(), endpoint)
                self._admin_clients[endpoint] = c
            return c

    def admin(self, nodes, what, fn):
        """fn(client) through a node that is up; ResourceInUse/LimitExceeded (and a node going
        away) retried for ADMIN_RETRY_S."""
        deadline = time.monotonic() + ADMIN_RETRY_S
        while True:
            up = nodes.up()
            last = None
            try:
                if not up:
                    raise RuntimeError('no eddy node is up')
                return fn(self.admin_client(up[0][0]))
            except ClientError as e:
                if error_code(e) not in ('ResourceInUseException', 'LimitExceededException'):
                    raise
                last = e
            if time.monotonic() >= deadline:
                raise AssertionError('%s: still %s after %.0f s' % (what, last, ADMIN_RETRY_S))
            time.sleep(0.3)

    def wait_active(self, nodes, name):
        def active():
            for i, _ in nodes.up():
                s = self.admin_client(i).describe_stream_summary(StreamName=name)
                if s['StreamDescriptionSummary']['StreamStatus'] != 'ACTIVE':
                    return False
            return True
        poll('%s ACTIVE on every node that is up' % name, active, VISIBLE_TIMEOUT_S)

    def leader_of_most_shards(self, name):
        """(nats-server index, {leader name: shard streams led}) for the stream's shard streams."""
        try:
            streams = self.cluster.streams()
        except nats_cluster.NatsClusterError:
            streams = {}
        led = collections.Counter(
            st['leader'] for js, st in streams.items()
            if js.startswith('EDDY_S_') and st['description'].startswith(name + '/') and st['leader'])
        if led:
            leader, _ = led.most_common(1)[0]
            return self.cluster.index_of(leader), dict(led)
        meta = self.cluster.meta_leader()
        return (self.cluster.index_of(meta) if meta else 0), {}

    # --------------------------------------------------------------------------- the test
    def test_no_acknowledged_record_lost(self):
        name = harness.unique_name('chaos')
        nodes = Nodes(self.eddies)
        c0 = self.admin_client(0)
        c0.create_stream(StreamName=name, ShardCount=SHARDS)
        for i in range(len(self.eddies)):
            harness.wait_exists(self.admin_client(i), name, delay=0.1, attempts=200)

        ledger = Ledger()
        stop = threading.Event()
        hard_stop = [None]
        producers = [Producer(k, name, nodes, ledger, stop, hard_stop) for k in range(PRODUCERS)]
        t0 = self._t0 = time.monotonic()
        timeline = []
        chaos = {'done': None, 'error': None, 'merge_child': None, 'merged_at': None}

        def note(what):
            timeline.append((time.monotonic() - t0, what))
            sys.stderr.write('\n[%5.1f s] %s' % (time.monotonic() - t0, what))

        def chaos_run():
            try:
                time.sleep(4)
                # 1. The nats-server leading the most shard streams.
                victim, led = self.leader_of_most_shards(name)
                vname = self.cluster.servers[victim].name
                note('kill -9 nats-server %s (shard stream leaders: %s)' % (vname, led))
                self.cluster.kill9(victim)
                time.sleep(5)
                self.cluster.restart(victim)
                note('nats-server %s restarted and JetStream ready' % vname)
                time.sleep(3)
                # 2. One eddy node.
                k = 1
                nodes.mark_down(k)
                self.eddies[k].kill9()
                note('kill -9 eddy node %s' % self.eddies[k].label)
                time.sleep(4)
                self.eddies[k].start()
                note('eddy node %s listening again' % self.eddies[k].label)
                ck = self.admin_client(k)
                poll('restarted %s describes %s' % (self.eddies[k].label, name),
                     lambda: ck.describe_stream_summary(StreamName=name), VISIBLE_TIMEOUT_S)
                nodes.mark_up(k, self.eddies[k].port)
                note('eddy node %s restarted (port %d), serving'
                     % (self.eddies[k].label, self.eddies[k].port))
                time.sleep(3)
                # 3. SplitShard of an open shard at its middle.
                shards = self.admin(nodes, 'ListShards',
                                    lambda c: harness.all_shards(c, name))
                open_ = [s for s in shards if 'EndingSequenceNumber' not in s['SequenceNumberRange']]
                target = random.choice(open_)
                lo = int(target['HashKeyRange']['StartingHashKey'])
                hi = int(target['HashKeyRange']['EndingHashKey'])
                mid = lo + (hi - lo + 1) // 2
                self.admin(nodes, 'SplitShard', lambda c: c.split_shard(
                    StreamName=name, ShardToSplit=target['ShardId'], NewStartingHashKey=str(mid)))
                self.wait_active(nodes, name)
                note('SplitShard %s at %d' % (target['ShardId'], mid))
                time.sleep(3)
                # 4. MergeShards of two adjacent open shards.
                shards = self.admin(nodes, 'ListShards', lambda c: harness.all_shards(c, name))
                open_ = sorted((s for s in shards
                                if 'EndingSequenceNumber' not in s['SequenceNumberRange']),
                               key=lambda s: int(s['HashKeyRange']['StartingHashKey']))
                pairs = [(a, b) for a, b in zip(open_, open_[1:])
                         if int(a['HashKeyRange']['EndingHashKey']) + 1
                         == int(b['HashKeyRange']['StartingHashKey'])]
                if not pairs:
                    raise AssertionError('no adjacent open shards in %s' % shards)
                a, b = random.choice(pairs)
                before = {s['ShardId'] for s in shards}
                self.admin(nodes, 'MergeShards', lambda c: c.merge_shards(
                    StreamName=name, ShardToMerge=a['ShardId'],
                    AdjacentShardToMerge=b['ShardId']))
                self.wait_active(nodes, name)
                after = self.admin(nodes, 'ListShards', lambda c: harness.all_shards(c, name))
                new = [s['ShardId'] for s in after if s['ShardId'] not in before]
                chaos['merge_child'] = new[0] if len(new) == 1 else None
                chaos['merged_at'] = time.monotonic()
                note('MergeShards %s + %s -> %s' % (a['ShardId'], b['ShardId'], new))
            except BaseException as e:  # noqa: BLE001 - reported by the test
                chaos['error'] = '%s: %s' % (type(e).__name__, e)
                note('chaos failed: %s' % chaos['error'])
            finally:
                chaos['done'] = time.monotonic()

        chaos_thread = threading.Thread(target=chaos_run, name='chaos', daemon=True)
        note('producers start (%d threads, %d records a call)' % (PRODUCERS, BATCH))
        for p in producers:
            p.start()
        chaos_thread.start()
        try:
            chaos_thread.join(timeout=CHAOS_TIMEOUT_S)
            end = min(max(t0 + PRODUCE_MIN_S, time.monotonic() + POST_CHAOS_S),
                      t0 + PRODUCE_MAX_S)
            while time.monotonic() < end and all(p.is_alive() for p in producers):
                time.sleep(0.2)
        finally:
            stop.set()
            hard_stop[0] = time.monotonic() + GIVE_UP_AFTER_STOP_S
            note('producers told to stop')
            for p in producers:
                p.join(timeout=GIVE_UP_AFTER_STOP_S + 2 * SDK_TIMEOUT_S + 10)
            note('producers stopped')
        self.assertFalse(chaos_thread.is_alive(), 'chaos thread stuck')
        for p in producers:
            self.assertFalse(p.is_alive(), '%s stuck' % p.name)
            self.assertIsNone(p.error, '%s failed' % p.name)

        # Every node up again: read everything through node 0, then through the restarted node 1.
        self.assertEqual([i for i, _ in nodes.up()], [0, 1, 2], 'nodes up after the chaos')
        shards, per_shard = self.read_all(0, name)
        _, per_shard_1 = self.read_all(1, name, expect_shards={s['ShardId'] for s in shards})
        problems, stats = self.verify(ledger, shards, per_shard)

        self.print_summary(name, ledger, shards, per_shard, stats, timeline)
        self.assertIsNone(chaos['error'], 'a chaos step failed')
        self.assertEqual(problems, [], 'read through %s' % self.eddies[0].label)
        diff = sorted(s for s in set(per_shard) | set(per_shard_1)
                      if [(r, q) for r, q, _ in per_shard.get(s, [])]
                      != [(r, q) for r, q, _ in per_shard_1.get(s, [])])
        self.assertEqual(diff, [], 'shards read differently through %s and %s'
                         % (self.eddies[0].label, self.eddies[1].label))
        self.assertGreater(len(ledger.acked), 1000, 'too few records acknowledged')
        merged_at = chaos['merged_at']
        after_merge = [r for r, t in ledger.ack_times.items() if t > merged_at]
        self.assertTrue(after_merge, 'no put acknowledged after the merge')
        in_child = [r for r in after_merge if ledger.acked[r][0] == chaos['merge_child']]
        self.assertTrue(in_child, 'no put acknowledged in the merged shard %s'
                        % chaos['merge_child'])

    # --------------------------------------------------------------------------- read, verify
    def read_all(self, i, name, expect_shards=None):
        """(ListShards, {shard id: [(partition key, sequence number, data)]}) through node i."""
        c = self.admin_client(i)
        if expect_shards is not None:
            poll('%s lists the same shards' % self.eddies[i].label,
                 lambda: {s['ShardId'] for s in harness.all_shards(c, name)} == expect_shards,
                 VISIBLE_TIMEOUT_S)
        shards = harness.all_shards(c, name)
        per_shard = {}
        for s in shards:
            recs, _ = harness.read_shard(c, name, s['ShardId'], limit=10000, max_calls=300)
            per_shard[s['ShardId']] = [(r['PartitionKey'], int(r['SequenceNumber']), r['Data'])
                                       for r in recs]
        return shards, per_shard

    def verify(self, ledger, shards, per_shard):
        problems = []
        ranges = {s['ShardId']: (int(s['HashKeyRange']['StartingHashKey']),
                                 int(s['HashKeyRange']['EndingHashKey'])) for s in shards}
        copies = collections.defaultdict(list)
        for shard, recs in sorted(per_shard.items()):
            seqs = [q for _, q, _ in recs]
            bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if not a < b]
            if bad:
                problems.append('%s: sequence numbers not strictly increasing (%d places), e.g. %s'
                                % (shard, len(bad), bad[:5]))
            lo, hi = ranges[shard]
            for rid, seq, data in recs:
                copies[rid].append((shard, seq))
                if rid not in ledger.sent:
                    problems.append('%s: record %r at %d was never sent%s' % (
                        shard, rid, seq, ' (its request was stopped before any send)'
                        if rid in ledger.unsent else ''))
                elif data != record_data(rid):
                    problems.append('%s: record %r at %d has data %r' % (shard, rid, seq, data[:60]))
                if not lo <= harness.md5_hash_key(rid) <= hi:
                    problems.append('%s: record %r at %d hashes outside the shard' % (shard, rid, seq))
        missing = sorted(r for r in ledger.acked if r not in copies)
        if missing:
            problems.append('%d of %d acknowledged records missing, e.g. %s' % (
                len(missing), len(ledger.acked),
                ['%s acked %s/%d' % ((r,) + ledger.acked[r]) for r in missing[:10]]))
        moved = sorted(r for r in ledger.acked if r in copies and ledger.acked[r] not in copies[r])
        if moved:
            problems.append('%d acknowledged records not at their acknowledged shard/sequence, '
                            'e.g. %s' % (len(moved), ['%s acked %s found %s' % (
                                r, ledger.acked[r], copies[r]) for r in moved[:10]]))
        dups = sorted(r for r, c in copies.items() if len(c) > 1 and r not in ledger.repeated)
        if dups:
            problems.append('%d ids stored more than once though their request went out once, '
                            'e.g. %s' % (len(dups), ['%s at %s%s' % (
                                r, copies[r], ' (acked %s/%d)' % ledger.acked[r]
                                if r in ledger.acked else ' (not acked)') for r in dups[:10]]))
        stats = {
            'read': sum(len(r) for r in per_shard.values()),
            'distinct': len(copies),
            'unacked_stored': sorted(r for r in copies if r not in ledger.acked),
            'retried_dups': sorted(r for r, c in copies.items()
                                   if len(c) > 1 and r in ledger.repeated),
            'copies': copies,
        }
        return problems, stats

    def print_summary(self, name, ledger, shards, per_shard, stats, timeline):
        out = ['', '==== chaos summary: stream %s ====' % name]
        out.append('PutRecords calls: %d (%d sent more than once by the SDK); failed calls: %s; '
                   'failed entries: %s' % (ledger.calls, ledger.retried_calls,
                                           dict(ledger.failed_calls) or 0,
                                           dict(ledger.failed_entries) or 0))
        out.append('ids sent: %d, acknowledged: %d, never sent (stopped before a send): %d, '
                   'logical records given up at the stop: %d'
                   % (len(ledger.sent), len(ledger.acked), len(ledger.unsent), ledger.given_up))
        out.append('records read: %d (%d distinct ids); unacknowledged but stored: %d%s; extra '
                   'copies of SDK-retried ids: %d%s'
                   % (stats['read'], stats['distinct'], len(stats['unacked_stored']),
                      ' e.g. %s' % stats['unacked_stored'][:5] if stats['unacked_stored'] else '',
                      len(stats['retried_dups']),
                      ' e.g. %s' % ['%s at %s' % (r, stats['copies'][r])
                                    for r in stats['retried_dups'][:5]]
                      if stats['retried_dups'] else ''))
        out += ['  %s' % m for m in ledger.samples]
        times = sorted(ledger.ack_times.values())
        if len(times) > 1:
            gap, at = max((b - a, a) for a, b in zip(times, times[1:]))
            out.append('longest time without an acknowledgement: %.2f s (from %.1f s)'
                       % (gap, at - self._t0))
        acked_per = collections.Counter(s for s, _ in ledger.acked.values())
        for s in shards:
            rng = s['SequenceNumberRange']
            out.append('  %s %s parent=%s adjacent=%s: read %d, acknowledged %d' % (
                s['ShardId'], 'closed' if 'EndingSequenceNumber' in rng else 'open  ',
                s.get('ParentShardId', '-'), s.get('AdjacentParentShardId', '-'),
                len(per_shard.get(s['ShardId'], [])), acked_per.get(s['ShardId'], 0)))
        out.append('timeline:')
        out += ['  %5.1f s  %s' % (t, w) for t, w in timeline]
        sys.stderr.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    unittest.main()
