"""Cluster mode end to end: Firehose delivery streams on several eddy nodes sharing real
nats-servers (JetStream) and one bucket directory.

Three nats-servers and three eddy nodes a, b, c, each `eddy serve --cluster <nats URLs> --node-id
<id> --replicas 3 --lease-ttl-ms 3000 --bucket-dir <one directory for all>` with its own
--data-dir (harness.EddyServer; the nats-servers come from nats_cluster.NatsCluster). A delivery
stream's document is shared by every node, any node accepts its direct puts (journaled in
JetStream), and exactly one node, the holder of its lease (kind delivery_stream, listed by
GET /eddy/v1/cluster), runs the worker that writes its objects: the files
<bucket-dir>/<bucket>/<key> (they appear by rename; dot-folders at the top of <bucket-dir> are
staging and are ignored).

Records are JSON lines ({"id": ...} plus padding, newline-terminated; no delimiter processor), so an
object is a run of whole lines. Two producer threads put batches through random running nodes (their
view of which nodes run is up to 0.5 s old, so some requests meet a node just killed); every id
goes out in exactly one request: a batch that fails as a whole (connection error from a killed
node, 5xx / ServiceUnavailable) or an entry with an ErrorCode is not acknowledged, and its records
are "sent again" as new ids through another node. So the checks are strict: every acknowledged id
is in exactly one object, an unacknowledged id (its answer was lost) in at most one, no id twice,
no id that was never sent, every object whole lines.

  ThreeServersThreeNodes (three nats-servers, --replicas 3; nodes a, b, c):
    a  A DirectPut delivery stream (ExtendedS3, interval 1 s, 1 MiB, no compression) created on
       one node is ACTIVE on every node. Producers put PutRecordBatch batches through random
       nodes all along; twice the node running the delivery stream is killed with kill -9 (the
       first time as soon as a file shows up in the staging folder: an object is being written
       after its intent was recorded, so the next owner must rewrite it under the same key; the
       second time as soon as a new object appears: before its positions are recorded); each
       time the test waits until another node holds the lease and then restarts the killed
       node. Every acknowledged id is then in exactly one object (bounded wait, 60 s).
    b  A KinesisStreamAsSource delivery stream reading a 2-shard Kinesis stream through one owner
       change (kill -9 of its node while producers put to the stream through random nodes):
       every record acknowledged after the delivery stream was ACTIVE is in exactly one object;
       records put before it was created are in none.
    c  DeleteDeliveryStream on a node that does not run it: DescribeDeliveryStream answers
       ResourceNotFoundException on every node and ListDeliveryStreams omits it (bounded wait),
       its lease goes away, no object appears or changes afterwards (nothing more is put), and
       every node is still running with no crash in its log.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_cluster_delivery
EDDY_E2E_KEEP=1 keeps the eddy and nats-server directories and the bucket directory.
"""

import collections
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

import harness
import nats_cluster
from cluster_util import (LogsOnFailure, answers_not_found, boto3_client, close_all, cluster_args,
                          error_code, http_status, log_tails, poll)
from test_firehose import ROLE, s3_dest, stream_arn

LEASE_TTL_MS = 3000
VISIBLE_TIMEOUT_S = 10.0    # another node learns a metadata change (KV watch: milliseconds)
STATUS_TIMEOUT_S = 20.0     # every node describes the new status
TAKEOVER_TIMEOUT_S = 25.0   # TTL (3 s) + a lease tick + the new worker's start, with slack
DELIVERY_TIMEOUT_S = 60.0   # every acknowledged record is in an object
WATCH_S = 4.0               # how long the kill waits for its trigger (a staged file, an object)
SETTLE_S = 3.0              # after everything arrived: nothing late (a duplicate) may follow
QUIET_S = 5.0               # "no new objects": longer than the TTL and several intervals
VIEW_S = 0.5                # a producer's view of the running nodes is this old at most
PRODUCER_JOIN_S = 40.0      # a producer's last request ends by then (read timeout 15 s)
CRASH_MARKERS = ('terminate called', 'Segmentation fault', 'AddressSanitizer', 'Assertion `',
                 'core dumped', 'std::terminate')


# ------------------------------------------------------------------------------------ helpers
def node_args(cluster, node_id, bucket_dir):
    return cluster_args(cluster, node_id, '--replicas', '3', '--lease-ttl-ms', str(LEASE_TTL_MS),
                        '--bucket-dir', bucket_dir)


def retryable(exc):
    """A failure after which the request may or may not have been stored, and another node is
    worth trying: connection errors and timeouts (a killed node), 5xx, throttling."""
    if isinstance(exc, BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        status = http_status(exc)
        return (status is not None and status >= 500) or error_code(exc) in (
            'ServiceUnavailableException', 'ServiceUnavailable', 'ThrottlingException',
            'InternalFailure', 'LimitExceededException')
    return False


def record_line(rid):
    """A record: one JSON line (newline-terminated) with its id and some padding."""
    return (json.dumps({'id': rid, 'pad': 'x' * (len(rid) * 3 % 41)}) + '\n').encode()


def client_config(read_timeout=15, connect_timeout=3, validate=True):
    return Config(retries={'total_max_attempts': 1}, read_timeout=read_timeout,
                  connect_timeout=connect_timeout, parameter_validation=validate)


def make_client(service, port, session=None, read_timeout=15):
    """A boto3 client of `service` at 127.0.0.1:port without SDK retries. For Firehose, botocore's
    parameter validation is off when its model still has the old 60 s minimum of IntervalInSeconds
    (Debian's botocore; see test_firehose.firehose_client)."""
    import boto3
    session = session or boto3.session.Session()

    def make(validate):
        return boto3_client(service, 'http://127.0.0.1:%d' % port,
                            client_config(read_timeout=read_timeout, validate=validate),
                            session=session)
    c = make(True)
    if service == 'firehose':
        interval = c.meta.service_model.shape_for('IntervalInSeconds')
        if interval.metadata.get('min', 0) > 0:
            c = make(False)
    return c


class Ledger:
    """Ids sent (each in exactly one request), acknowledged, and not acknowledged (the request
    failed as a whole or the entry had an ErrorCode), and what went wrong along the way."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = set()
        self.acked = set()
        self.unacked = set()
        self.failures = collections.Counter()   # why a request or entry was not acknowledged
        self.acked_via = collections.Counter()  # node label -> acknowledged records
        self.anomalies = []                     # answers no retry explains


class Producer(threading.Thread):
    """Puts batches of new ids through random running nodes until stopped: PutRecordBatch to a
    delivery stream (kind 'firehose') or PutRecords to a Kinesis stream (kind 'kinesis'). After a
    failed request the next batch goes to another node."""

    def __init__(self, nodes, kind, target, prefix, ledger, batch=20, pause=0.05, seed=0):
        super().__init__(name='producer-%s' % prefix, daemon=True)
        self.nodes = nodes
        self.kind = kind
        self.target = target
        self.prefix = prefix
        self.ledger = ledger
        self.batch = batch
        self.pause = pause
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.next_id = 0
        self.batches = 0

    def new_ids(self, n):
        ids = ['%s-%06d' % (self.prefix, self.next_id + i) for i in range(n)]
        self.next_id += n
        return ids

    def run(self):
        import boto3
        session = boto3.session.Session()
        clients = {}
        avoid = None
        up, refreshed = [], 0.0
        try:
            while not self.stop.is_set():
                # The view of the running nodes is refreshed every VIEW_S only, as a client's
                # would be: after a kill -9 some requests still go to the dead node.
                if time.monotonic() - refreshed > VIEW_S:
                    up = [(n.label, n.port) for n in self.nodes if n.alive()]
                    up = [(label, port) for label, port in up if port]
                    refreshed = time.monotonic()
                choices = [u for u in up if u[0] != avoid] or up
                if not choices:
                    time.sleep(0.1)
                    continue
                label, port = self.rng.choice(choices)
                if port not in clients:
                    clients[port] = make_client(self.kind, port, session)
                ids = self.new_ids(self.batch)
                with self.ledger.lock:
                    self.ledger.sent.update(ids)
                avoid = None
                try:
                    failed = self.put(clients[port], ids)
                except Exception as e:  # noqa: BLE001 - sorted out below
                    with self.ledger.lock:
                        self.ledger.unacked.update(ids)
                        if retryable(e):
                            self.ledger.failures['%s via %s' % (error_code(e) or type(e).__name__,
                                                                label)] += 1
                        else:
                            self.ledger.anomalies.append('%s via %s: %s' % (type(e).__name__, label, e))
                    avoid = label
                    time.sleep(0.05)
                    continue
                with self.ledger.lock:
                    for rid, code in failed.items():
                        self.ledger.failures['entry %s via %s' % (code, label)] += 1
                    self.ledger.unacked.update(failed)
                    ok = [i for i in ids if i not in failed]
                    self.ledger.acked.update(ok)
                    self.ledger.acked_via[label] += len(ok)
                if failed:
                    avoid = label
                self.batches += 1
                time.sleep(self.pause)
        except Exception as e:  # noqa: BLE001 - reported by the test
            with self.ledger.lock:
                self.ledger.anomalies.append('producer crashed: %s: %s' % (type(e).__name__, e))

    def put(self, client, ids):
        """Sends `ids`; returns {id: ErrorCode} of the entries not acknowledged."""
        if self.kind == 'firehose':
            resp = client.put_record_batch(DeliveryStreamName=self.target,
                                           Records=[{'Data': record_line(i)} for i in ids])
            entries = resp['RequestResponses']
            ok = [('RecordId' in e and 'ErrorCode' not in e) for e in entries]
            counted = resp['FailedPutCount']
        else:
            resp = client.put_records(StreamName=self.target, Records=[
                {'Data': record_line(i), 'PartitionKey': i} for i in ids])
            entries = resp['Records']
            ok = [('SequenceNumber' in e and 'ErrorCode' not in e) for e in entries]
            counted = resp.get('FailedRecordCount', 0)
        if len(entries) != len(ids):
            raise AssertionError('%d entries answered for %d records' % (len(entries), len(ids)))
        failed = {i: e.get('ErrorCode') for i, e, good in zip(ids, entries, ok) if not good}
        if counted != len(failed):
            with self.ledger.lock:
                self.ledger.anomalies.append('failed count %s but %d entries without an id'
                                             % (counted, len(failed)))
        return failed


# ------------------------------------------------------------------------------------ the case
class ThreeServersThreeNodes(LogsOnFailure, unittest.TestCase):
    cluster = None
    nodes = ()
    bucket_root = None

    # --------------------------------------------------------------------------- lifecycle
    @classmethod
    def setUpClass(cls):
        cls.bucket_root = tempfile.mkdtemp(prefix='eddy-e2e-buckets-')
        cls.cluster = nats_cluster.NatsCluster(3, label='nats-dlv')
        cls.nodes = ()
        try:
            cls.cluster.start()
            cls.nodes = tuple(harness.EddyServer(node_args(cls.cluster, n, cls.bucket_root),
                                                 label='node-%s' % n, native_jobs=False)
                              for n in ('a', 'b', 'c'))
            for n, node_id in zip(cls.nodes, ('a', 'b', 'c')):
                n.node_id = node_id
                n.start()
        except BaseException:
            sys.stderr.write('\n==== logs after a failed start ====\n%s\n' % cls.logs())
            cls.stop_all()
            raise

    @classmethod
    def stop_all(cls):
        try:
            close_all(cls.nodes, cls.cluster)
        finally:
            if cls.bucket_root:
                if os.environ.get('EDDY_E2E_KEEP') == '1':
                    sys.stderr.write('keeping %s\n' % cls.bucket_root)
                else:
                    shutil.rmtree(cls.bucket_root, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    @classmethod
    def logs(cls):
        return log_tails(cls.nodes, cls.cluster, 60, 25)

    def setUp(self):
        for n in self.nodes:
            if not n.alive():
                n.start()
        self.rng = random.Random(self._testMethodName)
        self._clients = {}
        self.producers = []

    def tearDown(self):
        for p in self.producers:
            p.stop.set()
        for p in self.producers:
            p.join(timeout=PRODUCER_JOIN_S)

    # --------------------------------------------------------------------------- clients
    def fh(self, node):
        key = ('firehose', node.label, node.port)
        if key not in self._clients:
            self._clients[key] = make_client('firehose', node.port, read_timeout=30)
        return self._clients[key]

    def k(self, node):
        key = ('kinesis', node.label, node.port)
        if key not in self._clients:
            self._clients[key] = make_client('kinesis', node.port, read_timeout=30)
        return self._clients[key]

    def alive_nodes(self):
        return [n for n in self.nodes if n.alive()]

    def node_of(self, node_id):
        return next(n for n in self.nodes if n.node_id == node_id)

    # --------------------------------------------------------------------------- leases
    def cluster_status(self):
        """GET /eddy/v1/cluster of a running node (the first that answers)."""
        last = None
        for n in self.rng.sample(self.alive_nodes(), len(self.alive_nodes())):
            try:
                with urllib.request.urlopen(n.endpoint + '/eddy/v1/cluster', timeout=5) as r:
                    return json.loads(r.read())
            except (OSError, ValueError, harness.ServerError) as e:
                last = e
        raise AssertionError('no node answered /eddy/v1/cluster: %s' % last)

    def holders(self, name):
        """Node ids of the delivery_stream leases named `name` (one at most, normally)."""
        return [l.get('node') for l in self.cluster_status().get('leases', [])
                if l.get('kind') == 'delivery_stream' and l.get('name') == name]

    def wait_holder(self, name, not_node=None, timeout=TAKEOVER_TIMEOUT_S):
        """The running node that holds the lease of `name` (and is not `not_node`)."""
        alive_ids = lambda: {n.node_id for n in self.alive_nodes()}  # noqa: E731

        def one():
            h = self.holders(name)
            if len(h) == 1 and h[0] in alive_ids() and (not_node is None or h[0] != not_node.node_id):
                return self.node_of(h[0])
            return None
        return poll('a running node%s holds the lease of delivery stream %s'
                    % ('' if not_node is None else ' other than %s' % not_node.label, name),
                    one, timeout, delay=0.2)

    # --------------------------------------------------------------------------- delivery streams
    def describe(self, node, name):
        return self.fh(node).describe_delivery_stream(
            DeliveryStreamName=name)['DeliveryStreamDescription']

    def wait_active_everywhere(self, name):
        for n in self.alive_nodes():
            poll('DescribeDeliveryStream(%s) on %s says ACTIVE' % (name, n.label),
                 lambda: self.describe(n, name)['DeliveryStreamStatus'] == 'ACTIVE',
                 STATUS_TIMEOUT_S)

    def create_direct(self, via, name, bucket):
        self.fh(via).create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType='DirectPut',
            ExtendedS3DestinationConfiguration=s3_dest(bucket, interval=1, size=1, delimiter=False))
        self.wait_active_everywhere(name)

    def start_producer(self, kind, target, prefix, ledger, **kw):
        p = Producer(self.nodes, kind, target, prefix, ledger, seed=self.rng.random(), **kw)
        self.producers.append(p)
        p.start()
        return p

    def stop_producer(self, p):
        p.stop.set()
        p.join(timeout=PRODUCER_JOIN_S)
        self.assertFalse(p.is_alive(), 'producer %s still running %.0f s after the stop'
                         % (p.name, PRODUCER_JOIN_S))

    def stop_producers(self, producers, ledger, timeline):
        """Stops them; the acknowledged ids and how many each node acknowledged."""
        for p in producers:
            self.stop_producer(p)
        timeline.append('producers stopped after %d batches' % sum(p.batches for p in producers))
        with ledger.lock:
            self.assertEqual(ledger.anomalies, [], 'answers no failure explains')
            return set(ledger.acked), dict(ledger.acked_via)

    # --------------------------------------------------------------------------- objects
    def bucket_path(self, bucket):
        return os.path.join(self.bucket_root, bucket)

    def object_files(self, bucket):
        root = self.bucket_path(bucket)
        return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}

    def staged_files(self):
        """Files in the dot-folders at the top of the bucket directory (objects being written)."""
        out = []
        try:
            tops = [e for e in os.listdir(self.bucket_root) if e.startswith('.')]
        except FileNotFoundError:
            return out
        for t in tops:
            for d, _, fs in os.walk(os.path.join(self.bucket_root, t)):
                out.extend(os.path.join(d, f) for f in fs)
        return out

    def objects(self, bucket):
        """{key: [ids in order]} of every object of `bucket`; fails on an object that is not whole
        JSON lines with an id each."""
        root = self.bucket_path(bucket)
        out = {}
        for key in self.object_files(bucket):
            try:
                with open(os.path.join(root, key), 'rb') as f:
                    body = f.read()
            except FileNotFoundError:
                continue
            self.assertTrue(body.endswith(b'\n'), 'object %s does not end with a newline: ...%r'
                            % (key, body[-120:]))
            ids = []
            for line in body[:-1].split(b'\n'):
                try:
                    ids.append(json.loads(line)['id'])
                except (ValueError, KeyError, TypeError):
                    self.fail('object %s has a line that is not a record: %r' % (key, line[:200]))
            out[key] = ids
        return out

    def where(self, objs, ids):
        """{id: [keys of the objects holding it]}"""
        ids = set(ids)
        out = collections.defaultdict(list)
        for key, got in sorted(objs.items()):
            for i in got:
                if i in ids:
                    out[i].append(key)
        return dict(out)

    def wait_delivered(self, bucket, want, what, timeout=DELIVERY_TIMEOUT_S):
        """Waits until every id of `want` is in an object, failing at once on an id seen twice."""
        want = set(want)
        deadline = time.monotonic() + timeout
        while True:
            objs = self.objects(bucket)
            counts = collections.Counter(i for ids in objs.values() for i in ids)
            dups = sorted(i for i, c in counts.items() if c > 1)
            if dups:
                self.fail('%s: %d ids in more than one place, e.g. %s'
                          % (what, len(dups), self.where(objs, dups[:5])))
            missing = want - set(counts)
            if not missing:
                return objs
            if time.monotonic() > deadline:
                self.fail('%s: %d of %d acknowledged ids not in any object of %s within %.0f s, '
                          'e.g. %s; %d objects hold %d records; lease holder(s) now: %s; '
                          'staged files: %s'
                          % (what, len(missing), len(want), bucket, timeout, sorted(missing)[:10],
                             len(objs), sum(counts.values()), self._holders_or_error(),
                             self.staged_files()[:10]))
            time.sleep(0.25)

    def _holders_or_error(self):
        try:
            return [(l.get('kind'), l.get('name'), l.get('node'))
                    for l in self.cluster_status().get('leases', [])]
        except Exception as e:  # noqa: BLE001 - diagnostics only
            return 'unknown (%s)' % e

    def assert_exactly_once(self, bucket, ledger, what, forbidden=()):
        """Every acknowledged id in exactly one object; unacknowledged ids at most once; nothing
        else (and nothing of `forbidden`). Returns (objects, unacknowledged ids delivered)."""
        objs = self.objects(bucket)
        counts = collections.Counter(i for ids in objs.values() for i in ids)
        dups = sorted(i for i, c in counts.items() if c > 1)
        with ledger.lock:
            acked, unacked, sent = set(ledger.acked), set(ledger.unacked), set(ledger.sent)
        missing = sorted(acked - set(counts))
        strangers = sorted(set(counts) - sent)
        bad = sorted(set(counts) & set(forbidden))
        problems = []
        if dups:
            problems.append('%d ids in more than one object (or twice in one), e.g. %s'
                            % (len(dups), self.where(objs, dups[:8])))
        if missing:
            problems.append('%d of %d acknowledged ids in no object, e.g. %s'
                            % (len(missing), len(acked), missing[:10]))
        if strangers:
            problems.append('%d ids never sent, e.g. %s' % (len(strangers), strangers[:10]))
        if bad:
            problems.append('%d ids that must not be delivered, e.g. %s'
                            % (len(bad), self.where(objs, bad[:8])))
        self.assertEqual(problems, [], '%s (%d objects, %d records)' % (what, len(objs),
                                                                     sum(counts.values())))
        return objs, sorted(unacked & set(counts))

    def watch(self, bucket, target, timeout=WATCH_S):
        """Polls (about every millisecond) until `target` shows: 'staged' (a file in a staging
        dot-folder: an object is being written, its intent recorded) or 'object' (a new object in
        the bucket). Returns the target, or 'time' after `timeout`."""
        known = self.object_files(bucket)
        deadline = time.monotonic() + timeout
        old = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        try:
            while time.monotonic() < deadline:
                if target == 'staged' and self.staged_files():
                    return 'staged'
                if target == 'object' and self.object_files(bucket) - known:
                    return 'object'
                time.sleep(0.001)
        finally:
            sys.setswitchinterval(old)
        return 'time'

    def owner_change(self, name, bucket, trigger, timeline):
        """kill -9 of the node holding `name`'s lease when `trigger` shows; waits until another
        node holds it; restarts the killed node. Returns (killed, new owner, what triggered)."""
        owner = self.wait_holder(name)
        t0 = time.monotonic()
        seen = self.watch(bucket, trigger)
        owner.kill9()
        timeline.append('%s killed (%s after %.2f s)' % (owner.label, seen, time.monotonic() - t0))
        t1 = time.monotonic()
        new = self.wait_holder(name, not_node=owner)
        timeline.append('%s holds the lease %.1f s after the kill' % (new.label,
                                                                       time.monotonic() - t1))
        owner.start()
        timeline.append('%s restarted' % owner.label)
        return owner, new, seen

    def summary(self, what, ledger, objs, unacked_delivered, timeline, t_start):
        with ledger.lock:
            acked, unacked = len(ledger.acked), len(ledger.unacked)
            failures = dict(ledger.failures)
            via = dict(ledger.acked_via)
        sys.stderr.write('\n%s: acknowledged %d (via %s), not acknowledged %d (delivered anyway: '
                         '%d), failures %s, %d objects, staged files left %d; %s; %.1f s\n'
                         % (what, acked, via, unacked, len(unacked_delivered), failures,
                            len(objs), len(self.staged_files()), timeline,
                            time.monotonic() - t_start))

    def assert_no_crash(self):
        for n in self.nodes:
            self.assertTrue(n.alive(), '%s is not running\n%s' % (n.label, n.log_tail(40)))
            with open(n.log_path, 'rb') as f:
                text = f.read().decode('utf-8', 'replace')
            hits = [m for m in CRASH_MARKERS if m in text]
            self.assertEqual(hits, [], 'crash markers in the log of %s' % n.label)

    # ---------------------------------------------------------------------------- a
    def test_a_direct_put_through_two_owner_changes_every_record_in_exactly_one_object(self):
        t_start = time.monotonic()
        name, bucket = harness.unique_name('dlv-a'), harness.unique_name('bkt-a')
        creator = self.rng.choice(self.nodes)
        self.create_direct(creator, name, bucket)
        first = self.wait_holder(name)
        timeline = ['created on %s, run by %s' % (creator.label, first.label)]
        ledger = Ledger()
        producers = [self.start_producer('firehose', name, 'dp%d' % i, ledger) for i in range(2)]
        time.sleep(2.5)
        poll('a first object in %s' % bucket, lambda: self.object_files(bucket), 15)
        owners = [first.label]
        for trigger in ('staged', 'object'):
            killed, new, _ = self.owner_change(name, bucket, trigger, timeline)
            self.assertNotEqual(new.label, killed.label)
            owners.append(new.label)
            time.sleep(2.0)  # puts through the restarted node too
        time.sleep(1.5)
        acked, via = self.stop_producers(producers, ledger, timeline)
        self.assertGreater(len(acked), 200, 'too few records acknowledged: %s' % dict(ledger.failures))
        self.assertEqual(len(via), 3, 'records acknowledged through every node: %s' % via)

        self.wait_delivered(bucket, acked, 'direct put after owners %s' % owners)
        time.sleep(SETTLE_S)
        objs, unacked_delivered = self.assert_exactly_once(
            bucket, ledger, 'direct put after owners %s; %s' % (owners, timeline))
        self.assertGreaterEqual(len(objs), 3, 'objects: %s' % sorted(objs))
        for n in self.alive_nodes():
            self.assertEqual(self.describe(n, name)['DeliveryStreamStatus'], 'ACTIVE', n.label)
        self.assertEqual(len(self.holders(name)), 1, self._holders_or_error())
        self.summary('test a', ledger, objs, unacked_delivered, timeline, t_start)

    # ---------------------------------------------------------------------------- b
    def test_b_kinesis_source_through_an_owner_change_every_record_in_exactly_one_object(self):
        t_start = time.monotonic()
        src = harness.unique_name('dlv-src')
        name, bucket = harness.unique_name('dlv-b'), harness.unique_name('bkt-b')
        a, b, c = self.nodes
        self.k(a).create_stream(StreamName=src, ShardCount=2)
        for n in self.nodes:
            poll('stream %s ACTIVE on %s' % (src, n.label),
                 lambda: self.k(n).describe_stream_summary(StreamName=src)
                 ['StreamDescriptionSummary']['StreamStatus'] == 'ACTIVE', VISIBLE_TIMEOUT_S)
        # Records put before the delivery stream exists: it reads from LATEST, they stay out.
        before = ['before-%03d' % i for i in range(40)]
        resp = self.k(b).put_records(StreamName=src, Records=[
            {'Data': record_line(i), 'PartitionKey': i} for i in before])
        self.assertEqual(resp['FailedRecordCount'], 0, resp)

        self.fh(c).create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(src), 'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration=s3_dest(bucket, interval=1, size=1, delimiter=False))
        self.wait_active_everywhere(name)
        first = self.wait_holder(name)
        timeline = ['created on %s, run by %s' % (c.label, first.label)]
        ledger = Ledger()
        producers = [self.start_producer('kinesis', src, 'ks%d' % i, ledger) for i in range(2)]
        time.sleep(2.5)
        poll('a first object in %s' % bucket, lambda: self.object_files(bucket), 15)
        killed, new, _ = self.owner_change(name, bucket, 'object', timeline)
        self.assertNotEqual(new.label, killed.label)
        time.sleep(3.0)
        acked, _ = self.stop_producers(producers, ledger, timeline)
        self.assertGreater(len(acked), 100, 'too few records acknowledged: %s' % dict(ledger.failures))

        self.wait_delivered(bucket, acked, 'Kinesis source after owners %s, %s'
                            % (first.label, new.label))
        time.sleep(SETTLE_S)
        objs, unacked_delivered = self.assert_exactly_once(
            bucket, ledger, 'Kinesis source after owners %s, %s; %s' % (first.label, new.label,
                                                                         timeline),
            forbidden=before)
        self.assertEqual(len(self.holders(name)), 1, self._holders_or_error())
        self.summary('test b', ledger, objs, unacked_delivered, timeline, t_start)

    # ---------------------------------------------------------------------------- c
    def test_c_delete_on_a_node_that_does_not_run_it(self):
        name, bucket = harness.unique_name('dlv-c'), harness.unique_name('bkt-c')
        self.create_direct(self.nodes[0], name, bucket)
        owner = self.wait_holder(name)
        ids = ['del-%04d' % i for i in range(120)]
        for i in range(0, len(ids), 40):
            via = self.rng.choice(self.alive_nodes())
            resp = self.fh(via).put_record_batch(
                DeliveryStreamName=name, Records=[{'Data': record_line(x)} for x in ids[i:i + 40]])
            self.assertEqual(resp['FailedPutCount'], 0, resp)
        self.wait_delivered(bucket, ids, 'before the delete', timeout=30)
        time.sleep(1.5)  # the last delivery's positions are recorded

        others = [n for n in self.nodes if n is not owner]
        deleter = self.rng.choice(others)
        self.fh(deleter).delete_delivery_stream(DeliveryStreamName=name)
        t_deleted = time.monotonic()

        for n in self.nodes:
            poll('DescribeDeliveryStream(%s) on %s answers ResourceNotFoundException'
                 % (name, n.label), lambda: answers_not_found(lambda: self.describe(n, name)), STATUS_TIMEOUT_S)
            poll('ListDeliveryStreams on %s omits %s' % (n.label, name),
                 lambda: name not in self.fh(n).list_delivery_streams(Limit=10000)
                 ['DeliveryStreamNames'], VISIBLE_TIMEOUT_S)
        poll('no lease of %s (it ran on %s)' % (name, owner.label),
             lambda: not self.holders(name), LEASE_TTL_MS / 1000.0 + 12, delay=0.2)

        snapshot = {k: os.path.getsize(os.path.join(self.bucket_path(bucket), k))
                    for k in self.object_files(bucket)}
        time.sleep(max(0.0, QUIET_S - (time.monotonic() - t_deleted)) + 1.0)
        after = {k: os.path.getsize(os.path.join(self.bucket_path(bucket), k))
                 for k in self.object_files(bucket)}
        self.assertEqual(after, snapshot, 'objects changed after DeleteDeliveryStream on %s '
                         '(it ran on %s)' % (deleter.label, owner.label))
        objs = self.objects(bucket)
        counts = collections.Counter(i for got in objs.values() for i in got)
        self.assertEqual(counts, collections.Counter(ids), 'records before the delete, once each')
        self.assert_no_crash()
        for n in self.nodes:
            self.assertIn('StreamNames', self.k(n).list_streams())


if __name__ == '__main__':
    unittest.main()
