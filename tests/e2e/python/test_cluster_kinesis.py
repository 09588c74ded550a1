"""Cluster mode end to end: real eddy nodes sharing streams through real nats-servers (JetStream).

Every eddy node runs `eddy serve --cluster <nats URLs> --node-id <id> [--replicas N]` with its own
--data-dir (harness.EddyServer); the nats-servers come from nats_cluster.NatsCluster (Debian's
nats-server 2.9.10; missing → the suite fails with "nats-server is not installed: run make deps").
Metadata reaches the other nodes through a KV watch, so a test that changes a stream on one node
and looks on another polls briefly (bounded).

  OneServerTwoNodes (one nats-server, R1; nodes A and B):
    a  CreateStream on A is visible on B; PutRecords alternate A and B; reading through either
       node returns every acknowledged record exactly once, sequence numbers increasing per shard;
       a shard iterator from one node works on the other.
    b  A and B race CreateStream of one name: one success, one ResourceInUseException (10 names).
    c  SplitShard on A, then at once PutRecords on B (stale shard map): every put succeeds, the
       parent read through B ends with ChildShards, the children hold the later records.
    d  kill -9 of A: B serves puts and gets; A restarted sees the stream and every record.
  ThreeServersTwoNodes (three nats-servers, --replicas 3; nodes A and B):
    e  kill -9 of the nats-server leading the stream's first shard: puts keep succeeding (SDK
       retries); after its restart every acknowledged record reads back once.
    f  kill -9 of two of three nats-servers: a put without retries fails with a 5xx
       ServiceUnavailable and /ready answers 503 (no quorum); after their restart puts succeed
       and /ready answers 200 again; nothing acknowledged is lost.
    g  --replicas 5 with these three servers (metadata bucket already made by A and B with R3):
       eddy serve exits non-zero naming --replicas.
  StartErrors:
    g  --replicas 5 with three fresh servers: the same.
    g  --cluster naming two closed ports: eddy serve exits non-zero, one stderr line naming both.

"Exactly once" is strict for records whose request went out once. A request the SDK retried (a
503 after eddy's append deadline) or an entry the test resent may have landed twice, as in Kinesis;
such extra copies are counted and printed, but the acknowledged copy must be where it was
acknowledged.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_cluster_kinesis
EDDY_E2E_KEEP=1 keeps the eddy and nats-server directories (data, logs).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from botocore.config import Config
from botocore.exceptions import ClientError

import harness
import nats_cluster
from cluster_util import (LogsOnFailure, boto3_client, close_all, cluster_args, error_code,
                          http_status, log_tails, poll, record_data)

HALF = 2 ** 127
VISIBLE_TIMEOUT_S = 10.0      # another node learns a metadata change (KV watch: milliseconds)
START_FAIL_TIMEOUT_S = 45.0   # eddy serve that must fail at start
QUORUM_FAIL_TIMEOUT_S = 30.0  # a put without quorum answers (eddy's append deadline is 8 s)
RECOVER_TIMEOUT_S = 60.0      # puts succeed again after the servers are back


# ------------------------------------------------------------------------------------ helpers
def kclient(server, attempts=1, read_timeout=30, connect_timeout=5):
    """boto3 Kinesis client for `server`; attempts = total attempts (1: no retries)."""
    cfg = Config(retries={'total_max_attempts': attempts, 'mode': 'standard'},
                 read_timeout=read_timeout, connect_timeout=connect_timeout)
    return boto3_client('kinesis', server.endpoint, cfg)


def probe(node, path):
    """GET /health or /ready: (status, JSON)."""
    try:
        with urllib.request.urlopen(node.endpoint + path, timeout=15) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


class Ledger:
    """Records sent, acknowledged (id -> (shard id, sequence number)), and those whose request may
    have gone out more than once (SDK retries, resent entries, ambiguous failures)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = set()
        self.acked = {}
        self.maybe_repeated = set()
        self.resends = 0

    def put(self, client, stream, ids, resend_for_s=0.0):
        """PutRecords of `ids` (partition key = id). Failed entries are resent until
        `resend_for_s` has passed. Returns the entries still failed: [(id, ErrorCode, message)].
        Raises what the client raises (after marking the ids as maybe repeated)."""
        pending = list(ids)
        deadline = time.monotonic() + resend_for_s
        first = True
        while True:
            with self.lock:
                self.sent.update(pending)
                if not first:
                    self.maybe_repeated.update(pending)
                    self.resends += 1
            try:
                resp = client.put_records(
                    StreamName=stream,
                    Records=[{'Data': record_data(i), 'PartitionKey': i} for i in pending])
            except ClientError as e:
                if e.response.get('ResponseMetadata', {}).get('RetryAttempts', 0) > 0:
                    with self.lock:
                        self.maybe_repeated.update(pending)
                raise
            except Exception:
                with self.lock:
                    self.maybe_repeated.update(pending)
                raise
            if len(resp['Records']) != len(pending):
                raise AssertionError('PutRecords answered %d entries for %d records'
                                     % (len(resp['Records']), len(pending)))
            failed = []
            with self.lock:
                if resp['ResponseMetadata'].get('RetryAttempts', 0) > 0:
                    self.maybe_repeated.update(pending)
                for i, r in zip(pending, resp['Records']):
                    if 'SequenceNumber' in r:
                        self.acked[i] = (r['ShardId'], int(r['SequenceNumber']))
                    else:
                        failed.append((i, r.get('ErrorCode'), r.get('ErrorMessage')))
            if not failed or time.monotonic() >= deadline:
                return failed
            pending = [f[0] for f in failed]
            first = False
            time.sleep(0.2)

    def verify(self, per_shard):
        """Problems (list of str) in what a full read returned, and the number of tolerated extra
        copies of records whose request may have gone out twice."""
        problems = []
        copies = {}
        for shard, recs in sorted(per_shard.items()):
            seqs = [seq for _, seq, _ in recs]
            bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if not a < b]
            if bad:
                problems.append('%s: sequence numbers not strictly increasing: %s'
                                % (shard, bad[:5]))
            for rid, seq, data in recs:
                copies.setdefault(rid, []).append((shard, seq))
                if rid not in self.sent:
                    problems.append('%s: record %r at %d was never sent' % (shard, rid, seq))
                elif data != record_data(rid):
                    problems.append('%s: record %r at %d has data %r' % (shard, rid, seq, data[:60]))
        missing = sorted(r for r in self.acked if r not in copies)
        if missing:
            problems.append('%d of %d acknowledged records missing, e.g. %s'
                            % (len(missing), len(self.acked),
                               ['%s@%s/%d' % ((r,) + self.acked[r]) for r in missing[:8]]))
        moved = sorted(r for r in self.acked if r in copies and self.acked[r] not in copies[r])
        if moved:
            problems.append('%d acknowledged records not at their acknowledged shard/sequence, '
                            'e.g. %s' % (len(moved), ['%s acked %s found %s' % (
                                r, self.acked[r], copies[r]) for r in moved[:5]]))
        dups = sorted(r for r, c in copies.items() if len(c) > 1 and r not in self.maybe_repeated)
        if dups:
            problems.append('%d records stored more than once though sent once, e.g. %s'
                            % (len(dups), ['%s at %s' % (r, copies[r]) for r in dups[:5]]))
        tolerated = sum(len(c) - 1 for r, c in copies.items()
                        if len(c) > 1 and r in self.maybe_repeated)
        return problems, tolerated


def read_all(client, stream):
    """{shard id: [(partition key, sequence number, data)]} for every shard, read from
    TRIM_HORIZON until caught up or closed; and {shard id: last GetRecords response}."""
    per_shard, last = {}, {}
    for s in harness.all_shards(client, stream):
        recs, resp = harness.read_shard(client, stream, s['ShardId'], limit=10000, max_calls=300)
        per_shard[s['ShardId']] = [(r['PartitionKey'], int(r['SequenceNumber']), r['Data'])
                                   for r in recs]
        last[s['ShardId']] = resp
    return per_shard, last


def eddy_node(cluster, node_id, replicas=None):
    return harness.EddyServer(cluster_args(cluster, node_id, replicas=replicas),
                              label='node-%s' % node_id, native_jobs=False)


def run_failing_serve(args, timeout=START_FAIL_TIMEOUT_S):
    """Runs `eddy serve ... <args>` expected to fail at start. Returns (rc, stderr text); rc None
    if it printed "listening on" or was still running after `timeout` s (then it is killed)."""
    root = tempfile.mkdtemp(prefix='eddy-e2e-startfail-')
    cmd = [harness.eddy_bin(), 'serve', '--host', '127.0.0.1', '--port', '0',
           '--data-dir', os.path.join(root, 'data')] + list(args)
    lines = []
    listening = threading.Event()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

        def drain():
            for line in iter(proc.stderr.readline, b''):
                lines.append(line)
                if harness.LISTEN_RE.search(line):
                    listening.set()
        t = threading.Thread(target=drain, daemon=True)
        t.start()
        deadline = time.monotonic() + timeout
        rc = None
        while rc is None and not listening.is_set() and time.monotonic() < deadline:
            try:
                rc = proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        if rc is None:
            proc.kill()
            proc.wait()
        t.join(timeout=5)
        proc.stderr.close()
        return rc, b''.join(lines).decode('utf-8', 'replace')
    finally:
        shutil.rmtree(root, ignore_errors=True)


class ClusterCase(LogsOnFailure, unittest.TestCase):
    """Prints the eddy and nats-server log tails when a test of the class fails."""
    cluster = None
    nodes = ()

    @classmethod
    def logs(cls):
        return log_tails(cls.nodes, cls.cluster, 60, 30)

    @classmethod
    def start_all(cls, n_servers, replicas=None):
        cls.cluster = nats_cluster.NatsCluster(n_servers, label='nats-e2e')
        cls.nodes = ()
        try:
            cls.cluster.start()
            cls.a = eddy_node(cls.cluster, 'a', replicas)
            cls.b = eddy_node(cls.cluster, 'b', replicas)
            cls.nodes = (cls.a, cls.b)
            cls.a.start()
            cls.b.start()
        except BaseException:
            sys.stderr.write('\n==== logs after a failed start ====\n%s\n' % cls.logs())
            cls.stop_all()
            raise

    @classmethod
    def stop_all(cls):
        close_all(cls.nodes, cls.cluster)

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    # --------------------------------------------------------------------------- checks
    def create_everywhere(self, name, shards):
        """CreateStream on A; waits until both nodes describe it ACTIVE. The create is tried
        again while it answers ServiceUnavailable: right after an earlier test restarted
        nats-servers, JetStream may still be electing leaders (a create that went through
        answers ResourceInUse when tried again)."""
        def create():
            try:
                kclient(self.a).create_stream(StreamName=name, ShardCount=shards)
            except ClientError as e:
                if error_code(e) != 'ResourceInUseException':
                    raise
            return True
        poll('CreateStream %s' % name, create, timeout=60, delay=0.5)
        for node in (self.a, self.b):
            harness.wait_exists(kclient(node), name, delay=0.05, attempts=200)

    def assert_reads_back(self, ledger, node, stream, label):
        per_shard, last = read_all(kclient(node), stream)
        problems, tolerated = ledger.verify(per_shard)
        self.assertEqual(problems, [], 'read through %s (%s)' % (node.label, label))
        return per_shard, last, tolerated


# ------------------------------------------------------------------------------------ a-d
class OneServerTwoNodes(ClusterCase):

    @classmethod
    def setUpClass(cls):
        cls.start_all(1)

    def test_a_create_on_a_visible_on_b_and_records_through_both(self):
        name = harness.unique_name('cl-a')
        ca, cb = kclient(self.a), kclient(self.b)
        ca.create_stream(StreamName=name, ShardCount=3)
        harness.wait_exists(ca, name, delay=0.05, attempts=200)
        # B learns it from the KV watch: DescribeStreamSummary and ListStreams, bounded.
        summary = poll('DescribeStreamSummary of %s on B' % name,
                       lambda: cb.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'],
                       VISIBLE_TIMEOUT_S, delay=0.05)
        self.assertEqual(summary['StreamName'], name)
        self.assertEqual(summary['OpenShardCount'], 3)
        poll('ListStreams on B shows %s' % name,
             lambda: name in cb.list_streams(Limit=10000)['StreamNames'],
             VISIBLE_TIMEOUT_S, delay=0.05)
        harness.wait_exists(cb, name, delay=0.05, attempts=200)
        self.assertEqual(
            cb.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN'],
            ca.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN'])

        ledger = Ledger()
        for b in range(12):
            client = ca if b % 2 == 0 else cb
            ids = ['a-b%d-%d' % (b, i) for i in range(40)]
            failed = ledger.put(client, name, ids)
            self.assertEqual(failed, [], 'batch %d via %s' % (b, 'A' if b % 2 == 0 else 'B'))
        self.assertEqual(len(ledger.acked), 12 * 40)
        shard_ids = {s for s, _ in ledger.acked.values()}
        self.assertEqual(len(shard_ids), 3, 'records of 480 keys should reach all 3 shards')
        for node in (self.b, self.a):
            per_shard, _, tolerated = self.assert_reads_back(ledger, node, name, 'all shards')
            self.assertEqual(tolerated, 0)
            self.assertEqual(sum(len(v) for v in per_shard.values()), 12 * 40,
                             'read through %s' % node.label)

    def test_a_iterator_from_one_node_works_on_the_other(self):
        name = harness.unique_name('cl-it')
        self.create_everywhere(name, 1)
        ca, cb = kclient(self.a), kclient(self.b)
        ledger = Ledger()
        self.assertEqual(ledger.put(ca, name, ['it-%d' % i for i in range(10)]), [])
        it = ca.get_shard_iterator(StreamName=name, ShardId=harness.shard_id(0),
                                   ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        resp = cb.get_records(ShardIterator=it, Limit=100)
        self.assertEqual([r['PartitionKey'] for r in resp['Records']],
                         ['it-%d' % i for i in range(10)])
        self.assertIn('NextShardIterator', resp)
        self.assertEqual(ledger.put(cb, name, ['it-%d' % i for i in range(10, 15)]), [])
        resp2 = ca.get_records(ShardIterator=resp['NextShardIterator'], Limit=100)
        self.assertEqual([r['PartitionKey'] for r in resp2['Records']],
                         ['it-%d' % i for i in range(10, 15)])

    def test_a_metrics_and_cluster_status(self):
        import urllib.request
        name = harness.unique_name('cl-metrics')
        self.create_everywhere(name, 2)
        self.assertEqual(Ledger().put(kclient(self.a), name, ['m-%d' % i for i in range(20)]), [])
        with urllib.request.urlopen(self.a.endpoint + '/metrics', timeout=10) as r:
            metrics = r.read().decode()
        self.assertRegex(metrics, r'eddy_cluster_node_info\{node="a",nats_server_version="[0-9.]+"\} 1')
        self.assertIn('eddy_cluster_append_conflicts_total ', metrics)
        with urllib.request.urlopen(self.b.endpoint + '/eddy/v1/cluster', timeout=10) as r:
            status = json.loads(r.read())
        self.assertEqual(status['node'], 'b')
        self.assertEqual(sorted(status['nodes']), ['a', 'b'])
        shards = [st['shards'] for st in status['streams'] if st['name'] == name][0]
        self.assertEqual(len(shards), 2)
        self.assertTrue(all(sh['jetstream_stream'].startswith('EDDY_S_') for sh in shards))
        self.assertEqual(sum(sh['messages'] for sh in shards) > 0, True)
        # The command line prints the same.
        out = subprocess.run([harness.eddy_bin(), 'cluster', 'status', '--endpoint', self.a.endpoint],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('stream ' + name, out.stdout)
        self.assertIn('nodes: ', out.stdout)

    def test_b_racing_create_stream(self):
        ca, cb = kclient(self.a), kclient(self.b)
        names = [harness.unique_name('cl-race') for _ in range(10)]
        report = []
        for name in names:
            barrier = threading.Barrier(2, timeout=10)
            outcome = {}

            def create(label, client, shards):
                try:
                    barrier.wait()
                    client.create_stream(StreamName=name, ShardCount=shards)
                    outcome[label] = 'ok'
                except ClientError as e:
                    outcome[label] = error_code(e)
                except Exception as e:  # noqa: BLE001 - reported by the assertion
                    outcome[label] = '%s: %s' % (type(e).__name__, e)

            threads = [threading.Thread(target=create, args=('A', ca, 1), daemon=True),
                       threading.Thread(target=create, args=('B', cb, 2), daemon=True)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=40)
                self.assertFalse(t.is_alive(), 'CreateStream %s hung' % name)
            report.append((name, outcome))
            self.assertEqual(sorted(outcome.values()), ['ResourceInUseException', 'ok'],
                             'racing CreateStream %s: %s' % (name, outcome))
        # Both nodes then describe the winner's stream (A asked 1 shard, B 2), ACTIVE.
        problems = []
        for name, outcome in report:
            want = 1 if outcome['A'] == 'ok' else 2
            for node, c in (('A', ca), ('B', cb)):
                try:
                    got = poll('%s ACTIVE on %s' % (name, node), lambda: (lambda d: d if
                               d['StreamStatus'] == 'ACTIVE' else None)(
                               c.describe_stream_summary(StreamName=name)
                               ['StreamDescriptionSummary']), VISIBLE_TIMEOUT_S, delay=0.05)
                except AssertionError as e:
                    listed = name in c.list_streams(Limit=10000)['StreamNames']
                    problems.append('after the race %s: %s; ListStreams on %s %s it'
                                    % (outcome, e, node, 'lists' if listed else 'does not list'))
                    continue
                if got['OpenShardCount'] != want:
                    problems.append('%s on %s after the race %s: OpenShardCount %d, want %d'
                                    % (name, node, outcome, got['OpenShardCount'], want))
        self.assertEqual(problems, [])
        wins = sum(1 for _, o in report if o['A'] == 'ok')
        print('\nracing CreateStream: A won %d of %d' % (wins, len(report)))

    def test_c_split_on_a_then_put_on_b(self):
        name = harness.unique_name('cl-split')
        self.create_everywhere(name, 1)
        ca, cb = kclient(self.a), kclient(self.b)
        ledger = Ledger()
        parent = harness.shard_id(0)
        before = []
        for b in range(4):
            ids = ['pre-b%d-%d' % (b, i) for i in range(25)]
            self.assertEqual(ledger.put(ca if b % 2 == 0 else cb, name, ids), [])
            before.extend(ids)
        for i in before:
            self.assertEqual(ledger.acked[i][0], parent)

        ca.split_shard(StreamName=name, ShardToSplit=parent, NewStartingHashKey=str(HALF))
        # At once on B, which may still have the one-shard map.
        after = []
        for b in range(6):
            ids = ['post-b%d-%d' % (b, i) for i in range(25)]
            failed = ledger.put(cb, name, ids)
            self.assertEqual(failed, [], 'PutRecords batch %d on B right after SplitShard on A' % b)
            after.extend(ids)
        children = {harness.shard_id(1): (0, HALF - 1), harness.shard_id(2): (HALF, 2 ** 128 - 1)}
        for i in after:
            sh = ledger.acked[i][0]
            self.assertIn(sh, children, 'record %s put after the split was acknowledged in %s'
                          % (i, sh))
            lo, hi = children[sh]
            self.assertTrue(lo <= harness.md5_hash_key(i) <= hi,
                            'record %s in %s outside its hash range' % (i, sh))

        # B learns the split (bounded), then reads: the parent ends, the children hold the rest.
        def b_sees_split():
            shards = {s['ShardId']: s for s in harness.all_shards(cb, name)}
            return (set(shards) == {parent} | set(children)
                    and 'EndingSequenceNumber' in shards[parent]['SequenceNumberRange'])
        poll('B lists the parent closed and both children', b_sees_split, VISIBLE_TIMEOUT_S,
             delay=0.05)
        per_shard, last, tolerated = self.assert_reads_back(ledger, self.b, name, 'after split')
        self.assertEqual(tolerated, 0)
        self.assertNotIn('NextShardIterator', last[parent],
                         'reading the closed parent through B did not end')
        self.assertEqual(sorted(c['ShardId'] for c in last[parent].get('ChildShards', [])),
                         sorted(children), 'ChildShards at the end of the parent')
        self.assertEqual(sorted(r for r, _, _ in per_shard[parent]), sorted(before))
        self.assertEqual(sorted(r for s in children for r, _, _ in per_shard[s]), sorted(after))
        # A reads the same.
        self.assert_reads_back(ledger, self.a, name, 'after split')

    def test_d_kill9_node_a(self):
        name = harness.unique_name('cl-kill')
        self.create_everywhere(name, 2)
        ledger = Ledger()
        self.assertEqual(ledger.put(kclient(self.a), name, ['ka-%d' % i for i in range(50)]), [])
        self.assertEqual(ledger.put(kclient(self.b), name, ['kb-%d' % i for i in range(50)]), [])
        self.a.kill9()
        cb = kclient(self.b)
        for b in range(4):
            self.assertEqual(ledger.put(cb, name, ['down-b%d-%d' % (b, i) for i in range(25)]), [],
                             'PutRecords on B with A killed')
        self.assert_reads_back(ledger, self.b, name, 'A killed')
        self.a.start()  # same data dir, new port
        ca = kclient(self.a)
        harness.wait_exists(ca, name, delay=0.05, attempts=200)
        _, _, tolerated = self.assert_reads_back(ledger, self.a, name, 'A restarted')
        self.assertEqual(tolerated, 0)
        self.assertEqual(ledger.put(ca, name, ['back-%d' % i for i in range(25)]), [],
                         'PutRecords on the restarted A')
        self.assert_reads_back(ledger, self.b, name, 'A restarted, then written')


# ------------------------------------------------------------------------------------ e-g
class ThreeServersTwoNodes(ClusterCase):

    @classmethod
    def setUpClass(cls):
        cls.start_all(3, replicas=3)

    def tearDown(self):
        # Every nats-server running again for the next test (bounded).
        dead = [i for i in range(self.cluster.n) if not self.cluster.alive(i)]
        for i in dead:
            self.cluster.restart(i, wait=False)
        for i in range(self.cluster.n):
            if self.cluster.servers[i].paused:
                self.cluster.resume(i)
        if dead:
            self.cluster.wait_ready()

    def shard_leader(self, stream):
        """(index of the nats-server leading the JetStream stream of the stream's first shard, its
        name), found by its description "<stream>/0" (or "<stream>/shardId-000000000000");
        (None, None) if not found."""
        want = {'%s/0' % stream, '%s/%s' % (stream, harness.shard_id(0))}
        try:
            for js_name, st in self.cluster.streams().items():
                if st['description'] in want and st['leader']:
                    return self.cluster.index_of(st['leader']), js_name
        except nats_cluster.NatsClusterError:
            pass
        return None, None

    def test_e_kill9_one_nats_server_keeps_quorum(self):
        name = harness.unique_name('cl-q')
        self.create_everywhere(name, 2)
        ledger = Ledger()
        clients = [kclient(self.a, attempts=10), kclient(self.b, attempts=10)]
        for b in range(4):
            self.assertEqual(ledger.put(clients[b % 2], name,
                                        ['e0-b%d-%d' % (b, i) for i in range(25)]), [])

        victim, js_name = self.shard_leader(name)
        if victim is None:
            leader = self.cluster.meta_leader()
            victim = self.cluster.index_of(leader) if leader else 0
            js_name = '(shard stream not found; meta leader)'
        sys.stderr.write('\nkilling nats-server %s, leader of %s\n'
                         % (self.cluster.servers[victim].name, js_name))

        # A writer keeps putting, alternating nodes, through the kill and the restart.
        stop = threading.Event()
        progress = {'batches': 0}
        errors = []

        def writer():
            wclients = [kclient(self.a, attempts=10, read_timeout=20),
                        kclient(self.b, attempts=10, read_timeout=20)]
            b = 0
            while not stop.is_set():
                ids = ['e1-b%d-%d' % (b, i) for i in range(20)]
                try:
                    failed = ledger.put(wclients[b % 2], name, ids, resend_for_s=30)
                except Exception as e:  # noqa: BLE001 - reported by the test
                    errors.append('batch %d via %s: %s: %s'
                                  % (b, 'AB'[b % 2], type(e).__name__, e))
                    return
                if failed:
                    errors.append('batch %d via %s: entries still failing after 30 s: %s'
                                  % (b, 'AB'[b % 2], failed[:3]))
                    return
                b += 1
                progress['batches'] = b
                time.sleep(0.02)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            poll('writer under way', lambda: progress['batches'] >= 3 or errors, timeout=30,
                 delay=0.05)
            self.assertEqual(errors, [], 'puts before any nats-server was killed')
            self.cluster.kill9(victim)
            at_kill = progress['batches']
            killed_at = time.monotonic()
            poll('10 batches acknowledged after the kill',
                 lambda: progress['batches'] >= at_kill + 10 or errors or not t.is_alive(),
                 timeout=90, delay=0.05)
            self.assertEqual(errors, [], 'puts with one of three nats-servers killed')
            took = time.monotonic() - killed_at
            self.cluster.restart(victim)
            at_restart = progress['batches']
            poll('10 batches acknowledged after the restart',
                 lambda: progress['batches'] >= at_restart + 10 or errors or not t.is_alive(),
                 timeout=60, delay=0.05)
            self.assertEqual(errors, [], 'puts after the nats-server restarted')
        finally:
            stop.set()
            t.join(timeout=60)
        self.assertFalse(t.is_alive(), 'writer stuck')
        self.assertEqual(errors, [])
        sys.stderr.write('10 batches in %.1f s after the kill\n' % took)

        for b in range(4):
            self.assertEqual(ledger.put(clients[b % 2], name,
                                        ['e2-b%d-%d' % (b, i) for i in range(25)]), [])
        tolerated = 0
        for node in (self.a, self.b):
            _, _, tol = self.assert_reads_back(ledger, node, name, 'after one server was killed')
            tolerated = max(tolerated, tol)
        sys.stderr.write('%d records acknowledged, %d entry resends, %d extra copies of retried '
                         'records\n' % (len(ledger.acked), ledger.resends, tolerated))

    def test_f_two_of_three_nats_servers_down(self):
        name = harness.unique_name('cl-noq')
        self.create_everywhere(name, 1)
        ledger = Ledger()
        for b in range(4):
            self.assertEqual(ledger.put(kclient(self.a if b % 2 == 0 else self.b), name,
                                        ['f0-b%d-%d' % (b, i) for i in range(25)]), [])

        self.cluster.kill9(1)
        self.cluster.kill9(2)
        outcomes = {}

        def put_single(label, node):
            started = time.monotonic()
            c = kclient(node, attempts=1, read_timeout=QUORUM_FAIL_TIMEOUT_S)
            try:
                r = c.put_record(StreamName=name, Data=b'no-quorum-' + label.encode(),
                                 PartitionKey='noq-' + label)
                outcomes[label] = ('acknowledged', r, time.monotonic() - started)
            except ClientError as e:
                outcomes[label] = ('error', (http_status(e), error_code(e),
                                             e.response.get('Error', {}).get('Message')),
                                   time.monotonic() - started)
            except Exception as e:  # noqa: BLE001 - reported by the assertion
                outcomes[label] = ('exception', '%s: %s' % (type(e).__name__, e),
                                   time.monotonic() - started)

        threads = [threading.Thread(target=put_single, args=(label, node), daemon=True)
                   for label, node in (('A', self.a), ('B', self.b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=QUORUM_FAIL_TIMEOUT_S + 10)
            self.assertFalse(t.is_alive(), 'PutRecord without quorum hung')
        for label, (kind, detail, took) in sorted(outcomes.items()):
            msg = 'PutRecord via %s with 2 of 3 nats-servers down: %s %r after %.1f s' % (
                label, kind, detail, took)
            sys.stderr.write('\n' + msg)
            self.assertEqual(kind, 'error', msg)
            status, code, _ = detail
            self.assertTrue(500 <= status < 600, msg)
            self.assertEqual(code, 'ServiceUnavailable', msg)
        sys.stderr.write('\n')
        # A load balancer's readiness probe sees it too (issue 26): /ready answers 503, the
        # cluster's state says why, and /health still answers.
        for node in (self.a, self.b):
            poll('/ready is 503 without quorum', lambda: probe(node, '/ready')[0] == 503, timeout=30, delay=0.5)
            status, state = probe(node, '/ready')
            self.assertIn(state['services']['cluster'], ('no_quorum', 'disconnected'), state)
            self.assertFalse(state['ready'], state)
            self.assertEqual(probe(node, '/health')[0], 200)
            # ... and so does Prometheus (eddy_cluster_jetstream_available, which an alert watches).
            with urllib.request.urlopen(node.endpoint + '/metrics', timeout=15) as r:
                metrics = r.read().decode()
            self.assertIn('\neddy_cluster_jetstream_available 0\n', metrics)

        self.cluster.restart(1, wait=False)
        self.cluster.restart(2, wait=False)
        self.cluster.wait_ready()
        ca = kclient(self.a, attempts=1)

        def one_put():
            try:
                r = ca.put_record(StreamName=name, Data=record_data('f-recovered'),
                                  PartitionKey='f-recovered')
            except ClientError as e:
                raise AssertionError('%s %s' % (http_status(e), error_code(e)))
            with ledger.lock:
                ledger.sent.add('f-recovered')
                ledger.acked['f-recovered'] = (r['ShardId'], int(r['SequenceNumber']))
            return True
        with ledger.lock:
            ledger.sent.add('f-recovered')
            ledger.maybe_repeated.add('f-recovered')  # tried until it succeeds
        started = time.monotonic()
        poll('a put succeeds after the two nats-servers restarted', one_put,
             timeout=RECOVER_TIMEOUT_S, delay=0.5)
        sys.stderr.write('puts succeed %.1f s after the restart\n' % (time.monotonic() - started))
        for node in (self.a, self.b):
            poll('/ready is 200 again', lambda: probe(node, '/ready')[0] == 200, timeout=30, delay=0.5)
        for b in range(4):
            self.assertEqual(ledger.put(kclient(self.a if b % 2 == 0 else self.b), name,
                                        ['f1-b%d-%d' % (b, i) for i in range(25)]), [])
        # The failed puts ('noq-A', 'noq-B') were not acknowledged: they may or may not be there.
        with ledger.lock:
            ledger.sent.update({'noq-A', 'noq-B'})
        for node in (self.a, self.b):
            self.reads_back_with_noq(ledger, node, name)

    def reads_back_with_noq(self, ledger, node, name):
        """As assert_reads_back, with the unacknowledged no-quorum records (whose data differs
        from record_data) allowed at most once."""
        per_shard, last = read_all(kclient(node, attempts=5), name)
        stray = {}
        cleaned = {}
        for sh, recs in per_shard.items():
            cleaned[sh] = []
            for rid, seq, data in recs:
                if rid in ('noq-A', 'noq-B'):
                    stray.setdefault(rid, []).append((sh, seq))
                    self.assertEqual(data, b'no-quorum-' + rid[-1].encode())
                else:
                    cleaned[sh].append((rid, seq, data))
        problems, tolerated = ledger.verify(cleaned)
        self.assertEqual(problems, [], 'read through %s after two nats-servers were down'
                         % node.label)
        for rid, where in stray.items():
            self.assertEqual(len(where), 1, 'unacknowledged %s stored %d times: %s'
                             % (rid, len(where), where))
        return per_shard, last, tolerated

    def test_g_replicas_more_than_servers(self):
        # Here the cluster is in use: nodes A and B (--replicas 3) created the metadata bucket.
        assert_replicas_refused(self, self.cluster, 'in use by nodes with --replicas 3')


# ------------------------------------------------------------------------------------ g
def assert_replicas_refused(case, cluster, what):
    rc, err = run_failing_serve(['--cluster', cluster.url_arg, '--node-id', 'g',
                                 '--replicas', '5'])
    ctx = 'eddy serve --replicas 5 with 3 nats-servers (%s)' % what
    case.assertIsNotNone(rc, '%s started (or did not exit within %.0f s); stderr:\n%s'
                         % (ctx, START_FAIL_TIMEOUT_S, err))
    case.assertNotEqual(rc, 0, '%s; stderr:\n%s' % (ctx, err))
    case.assertNotIn('not expected', err, 'eddy serve does not know the cluster flags')
    case.assertIn('--replicas', err, ctx)
    case.assertNotIn('listening on', err, ctx)


class StartErrors(unittest.TestCase):

    def test_g_replicas_more_than_servers_fresh_cluster(self):
        cluster = nats_cluster.NatsCluster(3, label='nats-e2e-r5')
        try:
            cluster.start()
            assert_replicas_refused(self, cluster, 'a fresh cluster')
        except BaseException:
            sys.stderr.write('\n%s\n' % cluster.logs(20))
            raise
        finally:
            cluster.close()

    def test_g_unreachable_cluster(self):
        p1, p2 = nats_cluster.free_ports(2)  # nothing listens on them
        urls = 'nats://127.0.0.1:%d,nats://127.0.0.1:%d' % (p1, p2)
        started = time.monotonic()
        rc, err = run_failing_serve(['--cluster', urls, '--node-id', 'a'])
        took = time.monotonic() - started
        self.assertIsNotNone(rc, 'eddy serve started (or did not exit within %.0f s); stderr:\n%s'
                             % (START_FAIL_TIMEOUT_S, err))
        self.assertNotEqual(rc, 0, 'stderr:\n%s' % err)
        self.assertNotIn('not expected', err, 'eddy serve does not know the cluster flags')
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, 'stderr should be one line:\n%s' % err)
        self.assertIn('nats://127.0.0.1:%d' % p1, lines[0])
        self.assertIn('nats://127.0.0.1:%d' % p2, lines[0])
        self.assertIn('cannot reach the NATS cluster', lines[0])
        self.assertLess(took, 30, 'took %.1f s to give up' % took)


class ShutdownWithoutServers(unittest.TestCase):
    def test_sigterm_with_the_nats_servers_gone_stops_promptly(self):
        # A node whose servers are unreachable must still stop at once on SIGTERM: its last calls
        # (lease handover, the watch's unsubscribe) fail fast instead of waiting out timeouts.
        cluster = nats_cluster.NatsCluster(1, label='nats-e2e-stop')
        node = None
        try:
            cluster.start()
            node = eddy_node(cluster, 'stop')
            node.start()
            harness.create_stream(kclient(node), 'stop-me', 1)
            cluster.kill9(0)
            started = time.monotonic()
            rc = node.stop()
            took = time.monotonic() - started
            self.assertEqual(rc, 0)
            self.assertLess(took, 8, 'took %.1f s to stop' % took)
        finally:
            if node is not None:
                node.cleanup()
            cluster.close()


if __name__ == '__main__':
    unittest.main()
