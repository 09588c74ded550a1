"""Cluster mode end to end: Kinesis Analytics (SQL, API v1) applications on several eddy nodes
sharing real nats-servers (JetStream).

Every eddy node runs `eddy serve --cluster <nats URLs> --node-id <id> --lease-ttl-ms 3000
--checkpoint-interval 1 [--replicas 3]` with its own --data-dir (harness.EddyServer); the
nats-servers come from nats_cluster.NatsCluster. Application documents are shared by every node;
a RUNNING application runs on exactly one node, the holder of its lease in NATS KV; when that node
dies another takes the lease after the TTL, restores the latest checkpoint and continues, and the
outputs stay exactly-once.

Which node runs an application: the one whose GET /eddy/v1/cluster lists it under
running_here.applications (its runner is on that node; every node's /metrics shows the running
node's figures).

  OneServerThreeNodes (one nats-server; nodes a, b, c):
    a  Row application (ROW_SQL of test_analytics: one output row per source record) created on
       one node, started (TRIM_HORIZON) on another; DescribeApplication says RUNNING on every
       node. Three rounds of PutRecords through random nodes; after the first and the second
       round kill -9 the node running it (two owner changes; the killed node is restarted before
       the next round). Every id then appears in the output stream exactly once.
    b  StopApplication on a node that does not run it: the owner stops (no new output rows after
       puts); UpdateApplication (new code) on a non-owner; StartApplication (LAST_STOPPED_POINT) on
       another node: output resumes with the new code, no id twice; DeleteApplication from a
       node that does not run it: DescribeApplication on every node answers
       ResourceNotFoundException within a bounded wait, and nothing more is written.
    c  A second `eddy serve` with the --node-id of a live node exits non-zero saying the node id
       is in use (it watches the id's key for TTL + 1 s first).
  ThreeServersTwoNodesSeed (three nats-servers, --replicas 3; nodes a, b; plus one single-machine
  `eddy serve` without --cluster):
    d  The seed revenue application (SEED_SQL of test_analytics: SUM("sales") per store per
       60-second STEP of ROWTIME) through one owner change (kill -9 of the node running it) and
       the kill -9 of the nats-server leading the most JetStream streams: its output rows equal,
       as a multiset of (store_id, revenue rounded to 2 places, timestamp), those of the same
       application on the single-machine eddy fed the same records.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_cluster_apps
EDDY_E2E_KEEP=1 keeps the eddy and nats-server directories (data, logs).
"""

import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from botocore.exceptions import BotoCoreError, ClientError

import harness
import nats_cluster
from cluster_util import (LogsOnFailure, answers_not_found, close_all, cluster_args,
                          http_status, log_tails, poll)
from test_analytics import (ROW_PREFIX, ROW_OUTPUT, ROW_SCHEMA, ROW_SQL, ROW_SQL_V2, SEED_OUTPUT,
                            SEED_PREFIX, SEED_SCHEMA, SEED_SQL, STORES, analytics_client,
                            kinesis_input, kinesis_output, ms_of, sales_event, sql_timestamp,
                            starting)

LEASE_TTL_MS = 3000
VISIBLE_TIMEOUT_S = 10.0    # another node learns a metadata change (KV watch: milliseconds)
STATUS_TIMEOUT_S = 15.0     # every node describes the new status
TAKEOVER_TIMEOUT_S = 20.0   # TTL (3 s) + a lease tick + restoring the checkpoint, with slack
OUTPUT_TIMEOUT_S = 25.0     # rows reach the output stream (including a takeover)
QUIET_S = 3.0               # "no new output": TTL and three checkpoint intervals
DUP_NODE_TIMEOUT_S = 30.0   # the duplicate node must have exited by then (it decides in TTL + 1 s)
KA = 'KinesisAnalytics_20150814.'


# ------------------------------------------------------------------------------------ helpers
def app_metrics(server, app):
    """{metric name: value} of the eddy_kinesisanalytics_* gauges/counters of `app` on `server`."""
    with urllib.request.urlopen(server.endpoint + '/metrics', timeout=5) as r:
        text = r.read().decode('utf-8')
    out = {}
    for line in text.splitlines():
        m = re.match(r'(eddy_kinesisanalytics_\w+)\{application="([^"]*)"\} (\S+)$', line)
        if m and m.group(2) == app:
            out[m.group(1)] = float(m.group(3))
    return out


def runs_here(server, app):
    """Whether `server` runs `app` now: its runner is on that node (GET /eddy/v1/cluster)."""
    with urllib.request.urlopen(server.endpoint + '/eddy/v1/cluster', timeout=5) as r:
        return app in json.loads(r.read().decode('utf-8'))['running_here']['applications']


def row_event(i):
    return {'id': i, 'store_id': STORES[i % len(STORES)], 'category': 'garden',
            'evnt_time': '2021-01-31T14:05:47.190', 'sales': float(i % 97) + 0.5}


class ClusterAppsCase(LogsOnFailure, unittest.TestCase):
    """Nodes, clients per node (a restarted node has a new port), and the log tails of every eddy
    and nats-server when a test of the class fails."""
    cluster = None
    nodes = ()
    extra_servers = ()

    # --------------------------------------------------------------------------- lifecycle
    @classmethod
    def logs(cls):
        return log_tails(tuple(cls.nodes) + tuple(cls.extra_servers), cls.cluster, 50, 25)

    @classmethod
    def start_cluster(cls, n_servers, node_ids, replicas=None):
        cls.cluster = nats_cluster.NatsCluster(n_servers, label='nats-apps')
        cls.nodes = ()
        try:
            cls.cluster.start()
            cls.nodes = tuple(
                harness.EddyServer(cluster_args(cls.cluster, n, '--lease-ttl-ms', str(LEASE_TTL_MS),
                                                '--checkpoint-interval', '1', replicas=replicas),
                                   label='node-%s' % n, native_jobs=False)
                for n in node_ids)
            for n in cls.nodes:
                n.start()
        except BaseException:
            sys.stderr.write('\n==== logs after a failed start ====\n%s\n' % cls.logs())
            cls.stop_all()
            raise

    @classmethod
    def stop_all(cls):
        close_all(tuple(cls.nodes) + tuple(cls.extra_servers), cls.cluster)

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    def ensure_all_running(self):
        for n in self.nodes:
            if not n.alive():
                n.start()

    # --------------------------------------------------------------------------- clients
    def _cache(self):
        if not hasattr(self, '_client_cache'):
            self._client_cache = {}
        return self._client_cache

    def k(self, server):
        key = ('k', server.label, server.port)
        self._clients = self._cache()
        if key not in self._clients:
            self._clients[key] = server.client(read_timeout=30, connect_timeout=5)
        return self._clients[key]

    def ka(self, server):
        key = ('ka', server.label, server.port)
        self._clients = self._cache()
        if key not in self._clients:
            self._clients[key] = analytics_client(server, read_timeout=30)
        return self._clients[key]

    def alive_nodes(self):
        return [n for n in self.nodes if n.alive()]

    # --------------------------------------------------------------------------- streams
    def create_streams(self, via, specs, everywhere):
        """CreateStream of each (name, shards) on `via`; waits until every node of `everywhere`
        describes each ACTIVE."""
        for name, shards in specs:
            self.k(via).create_stream(StreamName=name, ShardCount=shards)
        for node in everywhere:
            for name, _ in specs:
                poll('stream %s ACTIVE on %s' % (name, node.label),
                     lambda: self.k(node).describe_stream_summary(StreamName=name)
                     ['StreamDescriptionSummary']['StreamStatus'] == 'ACTIVE', VISIBLE_TIMEOUT_S)

    def put_json(self, via, stream, objs, key, ambiguous_ok=False):
        """PutRecords of `objs` (JSON, each with a unique "id") through `via`, partition key
        key(obj); entries that fail are sent again (a failed entry is not stored), bounded. With
        ambiguous_ok, a request that failed as a whole (5xx, timeout: it may have been stored or
        not) is followed by reading the stream back and sending again only the objects whose id is
        not there, so that every object is stored exactly once. Returns the number of resends."""
        pending = list(objs)
        resends = 0
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = self.k(via).put_records(StreamName=stream, Records=[
                    {'Data': json.dumps(o).encode(), 'PartitionKey': key(o)} for o in pending])
            except (ClientError, BotoCoreError) as e:
                status = http_status(e)
                if not ambiguous_ok or (status is not None and status < 500) or \
                        time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
                stored = {json.loads(r['Data']).get('id') for _, r in self.read_records(via, stream)}
                pending = [o for o in pending if o['id'] not in stored]
                resends += 1
                if not pending:
                    return resends
                continue
            self.assertEqual(len(resp['Records']), len(pending))
            failed = [o for o, r in zip(pending, resp['Records']) if 'SequenceNumber' not in r]
            if not failed:
                return resends
            if time.monotonic() > deadline:
                self.fail('PutRecords through %s: %d entries still failing: %s'
                          % (via.label, len(failed), [r for r in resp['Records']
                                                      if 'SequenceNumber' not in r][:3]))
            pending = failed
            resends += 1
            time.sleep(0.3)

    def read_records(self, via, stream):
        """Every record of every shard of `stream` read through `via`: [(shard id, record)]."""
        out = []
        for s in sorted(x['ShardId'] for x in harness.all_shards(self.k(via), stream)):
            recs, _ = harness.read_shard(self.k(via), stream, s, limit=10000)
            out.extend((s, r) for r in recs)
        return out

    def output_rows(self, via, stream):
        return [json.loads(r['Data']) for _, r in self.read_records(via, stream)]

    # --------------------------------------------------------------------------- applications
    def describe(self, node, app):
        return self.ka(node).describe_application(ApplicationName=app)['ApplicationDetail']

    def wait_status_everywhere(self, app, status, nodes=None, timeout=STATUS_TIMEOUT_S):
        for node in nodes or self.alive_nodes():
            seen = []

            def reached():
                st = self.describe(node, app)['ApplicationStatus']
                if not seen or seen[-1] != st:
                    seen.append(st)
                return st == status
            try:
                poll('DescribeApplication(%s) on %s says %s' % (app, node.label, status), reached,
                     timeout)
            except AssertionError as e:
                raise AssertionError('%s; statuses it answered: %s' % (e, seen)) from None

    def owners(self, app, nodes=None):
        out = []
        for n in nodes or self.alive_nodes():
            try:
                if runs_here(n, app):
                    out.append(n)
            except OSError:
                pass
        return out

    def wait_owner(self, app, among=None, timeout=TAKEOVER_TIMEOUT_S):
        """The one node (of `among`, default every running node) that runs `app`, once exactly one
        of all running nodes does."""
        def one():
            o = self.owners(app)
            if len(o) == 1 and (among is None or o[0] in among):
                return o[0]
            return None
        try:
            return poll('exactly one node runs %s' % app, one, timeout, delay=0.2)
        except AssertionError as e:
            raise AssertionError('%s; nodes running it now: %s' % (
                e, [n.label for n in self.owners(app)])) from None

    def wait_no_owner(self, app, timeout=STATUS_TIMEOUT_S):
        poll('no node runs %s' % app, lambda: not self.owners(app), timeout, delay=0.2)


# ------------------------------------------------------------------------------------ a-c
class OneServerThreeNodes(ClusterAppsCase):

    @classmethod
    def setUpClass(cls):
        cls.start_cluster(1, ('a', 'b', 'c'))

    def setUp(self):
        self.ensure_all_running()
        self.rng = random.Random(self._testMethodName)
        self._put_log = []

    def row_ids(self, stream):
        """The "id" of every output row, read through a random running node."""
        via = self.rng.choice(self.alive_nodes())
        return [r.get('id') for r in self.output_rows(via, stream)]

    def wait_ids(self, stream, ids, timeout=OUTPUT_TIMEOUT_S):
        want = set(ids)
        deadline = time.monotonic() + timeout
        while True:
            got = self.row_ids(stream)
            if want <= set(got):
                return got
            if time.monotonic() > deadline:
                missing = sorted(want - set(got))
                self.fail('%d of %d ids not in %s within %.0f s, e.g. %s (running it: %s)\n%s'
                          % (len(missing), len(want), stream, timeout, missing[:10],
                             [n.label for n in self.owners(self._app)], self.where(missing)))
            time.sleep(0.25)

    def where(self, ids):
        """Where the source records of `ids` are (shard, sequence number, the node they were put
        through), and the node each batch went through, for a failure message."""
        ids = set(ids)
        lines = []
        try:
            per_shard = collections.defaultdict(list)
            for shard, r in self.read_records(self.alive_nodes()[0], self._src):
                i = json.loads(r['Data']).get('id')
                per_shard[shard].append('%s%s' % (i, '*' if i in ids else ''))
            for shard, items in sorted(per_shard.items()):
                lines.append('source %s in order (* = missing from the output): %s'
                             % (shard, ' '.join(items)))
        except Exception as e:  # noqa: BLE001 - diagnostics only
            lines.append('(reading the source failed: %s)' % e)
        lines.append('batches put (first id, last id, through): %s' % self._put_log)
        return '\n'.join(lines)

    def put_rows(self, stream, ids, batch=25):
        """ids as row events in batches through random running nodes."""
        ids = list(ids)
        for i in range(0, len(ids), batch):
            via = self.rng.choice(self.alive_nodes())
            chunk = ids[i:i + batch]
            self._put_log.append((chunk[0], chunk[-1], via.label))
            self.put_json(via, stream, [row_event(x) for x in chunk], key=lambda o: str(o['id']))

    def assert_exactly_once(self, got, want_ids, what):
        counts = collections.Counter(got)
        dups = sorted((i, c) for i, c in counts.items() if c > 1)
        missing = sorted(set(want_ids) - set(counts))
        unknown = sorted(set(counts) - set(want_ids), key=str)
        if (dups, missing, unknown) != ([], [], []):
            self.fail('%s: ids written more than once (with their counts): %s; ids missing: %s; '
                      'ids never sent: %s; %d rows in all\n%s'
                      % (what, dups, missing, unknown, len(got),
                         self.where([i for i, _ in dups] + missing)))

    # ---------------------------------------------------------------------------- a
    def test_a_row_application_through_two_owner_changes(self):
        a, b, c = self.nodes
        src, dst, app = (harness.unique_name(p) for p in ('rsrc', 'rdst', 'rapp'))
        self._app, self._src = app, src
        self.create_streams(a, [(src, 2), (dst, 1)], self.nodes)
        self.ka(b).create_application(
            ApplicationName=app, ApplicationCode=ROW_SQL,
            Inputs=[kinesis_input(ROW_PREFIX, src, ROW_SCHEMA)],
            Outputs=[kinesis_output(ROW_OUTPUT, dst)])
        poll('application %s visible on c' % app,
             lambda: self.describe(c, app)['ApplicationStatus'] == 'READY', VISIBLE_TIMEOUT_S)
        self.ka(c).start_application(ApplicationName=app,
                                     InputConfigurations=starting('TRIM_HORIZON'))
        self.wait_status_everywhere(app, 'RUNNING')
        owner = self.wait_owner(app)

        sent = []
        owners_seen = [owner.label]
        for rnd in range(3):
            ids = list(range(rnd * 100, rnd * 100 + 100))
            self.put_rows(src, ids)
            sent.extend(ids)
            if rnd > 0:
                # The records of this round were put while nobody held the lease: the new owner
                # restores the checkpoint and continues.
                owner = self.wait_owner(app)
                self.assertNotEqual(owner.label, owners_seen[-1],
                                    'the killed node runs the application again')
                owners_seen.append(owner.label)
                # Restart the node killed before this round (same data dir and node id).
                for n in self.nodes:
                    if not n.alive():
                        n.start()
            self.wait_ids(dst, ids)
            if rnd < 2:
                # kill -9 the owner at once after its output appeared: rows written after its
                # last checkpoint are processed again by the next owner, which must skip them.
                owner.kill9()
                self._put_log.append(('kill -9', owner.label))
        self.assertEqual(len(owners_seen), 3, owners_seen)

        # Every node still describes it RUNNING, and one node runs it.
        self.ensure_all_running()
        self.wait_status_everywhere(app, 'RUNNING')
        self.wait_owner(app)
        time.sleep(1.0)  # anything late (a duplicate) would be written by now
        for via in self.nodes:
            got = [r.get('id') for r in self.output_rows(via, dst)]
            self.assert_exactly_once(got, sent, 'output read through %s after owners %s'
                                     % (via.label, owners_seen))

    # ---------------------------------------------------------------------------- b
    def test_b_stop_update_start_delete_from_nodes_that_do_not_run_it(self):
        src, dst, app = (harness.unique_name(p) for p in ('ssrc', 'sdst', 'sapp'))
        self._app, self._src = app, src
        self.create_streams(self.nodes[0], [(src, 2), (dst, 1)], self.nodes)
        self.ka(self.nodes[1]).create_application(
            ApplicationName=app, ApplicationCode=ROW_SQL,
            Inputs=[kinesis_input(ROW_PREFIX, src, ROW_SCHEMA)],
            Outputs=[kinesis_output(ROW_OUTPUT, dst)])
        poll('application %s visible everywhere' % app,
             lambda: all(self.describe(n, app)['ApplicationStatus'] == 'READY' for n in self.nodes),
             VISIBLE_TIMEOUT_S)
        self.ka(self.nodes[2]).start_application(ApplicationName=app,
                                                 InputConfigurations=starting('TRIM_HORIZON'))
        self.wait_status_everywhere(app, 'RUNNING')
        owner = self.wait_owner(app)
        others = [n for n in self.nodes if n is not owner]

        self.put_rows(src, range(0, 50))
        self.wait_ids(dst, range(0, 50))

        # StopApplication on a node that does not run it: the owner stops.
        self.ka(others[0]).stop_application(ApplicationName=app)
        self.wait_status_everywhere(app, 'READY')
        self.wait_no_owner(app)
        self.put_rows(src, range(50, 100))
        time.sleep(QUIET_S)
        got = self.row_ids(dst)
        self.assertEqual(sorted(i for i in got if i >= 50), [],
                         'rows written after StopApplication (sent through %s; owner was %s)'
                         % (others[0].label, owner.label))
        self.assert_exactly_once(got, range(0, 50), 'output before the restart')

        # UpdateApplication (new code) on a non-owner: every node sees the new version.
        version = self.describe(others[1], app)['ApplicationVersionId']
        self.ka(others[1]).update_application(
            ApplicationName=app, CurrentApplicationVersionId=version,
            ApplicationUpdate={'ApplicationCodeUpdate': ROW_SQL_V2})
        for n in self.nodes:
            poll('version %d of %s on %s' % (version + 1, app, n.label),
                 lambda: self.describe(n, app)['ApplicationVersionId'] == version + 1,
                 VISIBLE_TIMEOUT_S)
        self.assertEqual(self.describe(owner, app)['ApplicationCode'], ROW_SQL_V2)

        # StartApplication from where it stopped, on another node: the records put while it was
        # stopped come out once, with the new code; nothing before them again.
        self.ka(others[1]).start_application(ApplicationName=app,
                                             InputConfigurations=starting('LAST_STOPPED_POINT'))
        self.wait_status_everywhere(app, 'RUNNING')
        new_owner = self.wait_owner(app)
        self.wait_ids(dst, range(50, 100))
        self.put_rows(src, range(100, 120))
        self.wait_ids(dst, range(100, 120))
        time.sleep(1.0)
        rows = self.output_rows(self.nodes[0], dst)
        self.assert_exactly_once([r.get('id') for r in rows], range(0, 120),
                                 'output after StartApplication(LAST_STOPPED_POINT) on %s'
                                 % others[1].label)
        for r in rows:
            ev = row_event(r['id'])
            if r['id'] < 50:
                want = {'id': r['id'], 'store': ev['store_id'].upper(), 'sales': ev['sales']}
            else:
                want = {'id': r['id'], 'store': ev['store_id'].lower(), 'sales': ev['sales'] * 2}
            self.assertEqual(r, want, 'row of id %d (code %s)' % (r['id'], 'v1' if r['id'] < 50
                                                                  else 'v2'))

        # DeleteApplication from a node that does not run it (the one not used yet if it can).
        candidates = [n for n in self.nodes if n is not new_owner]
        deleter = next((n for n in candidates if n is owner), candidates[0])
        st, body, _ = deleter.json_call(KA + 'DescribeApplication', {'ApplicationName': app})
        self.assertEqual(st, 200, body)
        st, body, _ = deleter.json_call(KA + 'DeleteApplication', {
            'ApplicationName': app, 'CreateTimestamp': body['ApplicationDetail']['CreateTimestamp']})
        self.assertEqual(st, 200, 'DeleteApplication on %s: %s' % (deleter.label, body))

        for n in self.nodes:
            poll('DescribeApplication(%s) on %s answers ResourceNotFoundException' % (app, n.label),
                 lambda: answers_not_found(lambda: self.describe(n, app)), STATUS_TIMEOUT_S)
        self.wait_no_owner(app)
        self.put_rows(src, range(120, 140))
        time.sleep(QUIET_S)
        got = self.row_ids(dst)
        self.assertEqual(sorted(i for i in got if i >= 120), [],
                         'rows written after DeleteApplication (on %s; it ran on %s)'
                         % (deleter.label, new_owner.label))
        for n in self.nodes:
            names = [s['ApplicationName'] for s in
                     self.ka(n).list_applications(Limit=50)['ApplicationSummaries']]
            self.assertNotIn(app, names, 'ListApplications on %s' % n.label)

    # ---------------------------------------------------------------------------- c
    def test_c_duplicate_node_id_is_refused(self):
        a = self.nodes[0]
        node_id = 'a'
        self.assertIn('--node-id', a.extra_args)
        self.assertEqual(a.extra_args[a.extra_args.index('--node-id') + 1], node_id)
        root = tempfile.mkdtemp(prefix='eddy-e2e-dupnode-')
        cmd = [harness.eddy_bin(), 'serve', '--host', '127.0.0.1', '--port', '0',
               '--data-dir', os.path.join(root, 'data')] + cluster_args(self.cluster, node_id)
        t0 = time.monotonic()
        try:
            try:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=DUP_NODE_TIMEOUT_S)
            except subprocess.TimeoutExpired as e:
                self.fail('a second node with --node-id %s was still running after %.0f s '
                          '(subprocess.run killed it); stderr: %s'
                          % (node_id, DUP_NODE_TIMEOUT_S, (e.stderr or b'').decode('utf-8', 'replace')))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        took = time.monotonic() - t0
        err = p.stderr.decode('utf-8', 'replace')
        self.assertNotEqual(p.returncode, 0, 'duplicate node id: rc 0; stderr: %s' % err)
        self.assertNotIn('listening on', err, 'the duplicate node served requests')
        self.assertRegex(err, r"node id '%s' is in use" % node_id, 'stderr: %s' % err)
        self.assertLess(took, LEASE_TTL_MS / 1000.0 + 10, 'took %.1f s to decide' % took)
        # The node that has the id is unharmed.
        self.assertTrue(a.alive(), 'node a died')
        self.assertIn('StreamNames', self.k(a).list_streams())


# ------------------------------------------------------------------------------------ d
class ThreeServersTwoNodesSeed(ClusterAppsCase):
    """The seed revenue application on the cluster vs the same application on one machine.

    SEED_SQL groups by STEP(ROWTIME BY INTERVAL '60' SECOND) and ROWTIME is the record's
    ApproximateArrivalTimestamp: its windows depend on arrival time, not on the event's evnt_time.
    (KDA SQL has no event-time windows without a ROWTIME window to drive them: its recommended
    event-time pattern groups by a ROWTIME window *and* an event-time one, so arrival time would
    still decide the rows.) For the comparison to mean something every record must get the same
    arrival minute on both: each batch is put to the cluster and at once to the single-machine
    eddy (within milliseconds), never in the last 2.5 s of a minute, and the test checks that
    every record's arrival minute is the same on both before it compares (a violation would be a
    timing artifact of the test, reported as such). ROWTIME then being equal per window, the per-store
    sums (float32, in shard order, and a store lives in one shard as its partition key is the
    store) are equal too; they are compared rounded to 2 places.
    """

    @classmethod
    def setUpClass(cls):
        cls.start_cluster(3, ('a', 'b'), replicas=3)
        cls.single = harness.EddyServer(label='single', native_jobs=False)
        cls.extra_servers = (cls.single,)
        try:
            cls.single.start()
        except BaseException:
            cls.stop_all()
            raise

    def put_batch(self, via, events):
        """The batch to the cluster (through `via`) and at once to the single-machine eddy, not
        in the last 2.5 s of a minute."""
        left = 60.0 - (time.time() % 60.0)
        if left < 2.5:
            time.sleep(left + 0.3)
        self.put_json(via, 'sales', events, key=lambda o: o['store_id'], ambiguous_ok=True)
        self.put_json(self.single, 'sales', events, key=lambda o: o['store_id'])

    def arrivals(self, via):
        """{id: [arrival ms]} of the source records read through `via`."""
        out = collections.defaultdict(list)
        for _, r in self.read_records(via, 'sales'):
            out[json.loads(r['Data'])['id']].append(ms_of(r['ApproximateArrivalTimestamp']))
        return out

    @staticmethod
    def rows_multiset(rows):
        return collections.Counter((r['store_id'], round(float(r['revenue']), 2), r['timestamp'])
                                   for r in rows)

    def test_d_seed_revenue_through_owner_change_and_nats_kill_matches_single_node(self):
        a, b = self.nodes
        s = self.single
        app = 'seed'
        self._app = app
        self.create_streams(a, [('sales', 2), ('revenue', 1)], self.nodes)
        self.create_streams(s, [('sales', 2), ('revenue', 1)], [s])
        for node in (b, s):  # created on the node that will not start it
            self.ka(node).create_application(
                ApplicationName=app, ApplicationCode=SEED_SQL,
                Inputs=[kinesis_input(SEED_PREFIX, 'sales', SEED_SCHEMA)],
                Outputs=[kinesis_output(SEED_OUTPUT, 'revenue')])
        poll('application visible on a', lambda: self.describe(a, app), VISIBLE_TIMEOUT_S)
        self.ka(a).start_application(ApplicationName=app, InputConfigurations=starting('TRIM_HORIZON'))
        self.ka(s).start_application(ApplicationName=app, InputConfigurations=starting('TRIM_HORIZON'))
        self.wait_status_everywhere(app, 'RUNNING', nodes=(a, b, s))
        owner = self.wait_owner(app)

        rng = random.Random(20211)
        events = []

        def batch(via):
            evs = [dict(sales_event(rng, len(events) + i), id=len(events) + i) for i in range(20)]
            events.extend(evs)
            self.put_batch(via, evs)

        # Phase 1: three batches through both nodes; the owner reads them.
        for i in range(3):
            batch(self.nodes[i % 2])
            time.sleep(0.3)
        poll('%s read the first 60 records' % owner.label,
             lambda: app_metrics(owner, app).get('eddy_kinesisanalytics_input_records_total', 0) >= 60,
             OUTPUT_TIMEOUT_S)

        # Owner change: kill -9 the node running it; three batches through the survivor while
        # nobody holds the lease.
        survivor = b if owner is a else a
        owner.kill9()
        for _ in range(3):
            batch(survivor)
            time.sleep(0.3)
        self.wait_owner(app, among=[survivor])

        # kill -9 of the nats-server leading the most JetStream streams (shards, KV buckets,
        # checkpoint chunks); wait until every stream has a leader again, then three batches.
        leaders = collections.Counter(e['leader'] for e in self.cluster.streams().values())
        victim_name = max(sorted(leaders), key=lambda k: leaders[k])
        victim = self.cluster.index_of(victim_name)
        self.cluster.kill9(victim)
        poll('every JetStream stream has a leader other than %s' % victim_name,
             lambda: all(e['leader'] and e['leader'] != victim_name
                         for e in self.cluster.streams().values()), 30, delay=0.25)
        for i in range(3):
            batch(survivor)
            time.sleep(0.3)
        self.cluster.restart(victim)

        # The inputs: every record once on each, with the same arrival minute on both.
        on_cluster, on_single = self.arrivals(survivor), self.arrivals(s)
        ids = [e['id'] for e in events]
        self.assertEqual({i: len(on_cluster.get(i, [])) for i in ids if len(on_cluster.get(i, [])) != 1},
                         {}, 'source records on the cluster: ids not stored exactly once')
        self.assertEqual({i: len(on_single.get(i, [])) for i in ids if len(on_single.get(i, [])) != 1},
                         {}, 'source records on the single node: ids not stored exactly once')
        minute_differs = {i: (on_cluster[i][0], on_single[i][0]) for i in ids
                          if on_cluster[i][0] // 60000 != on_single[i][0] // 60000}
        self.assertEqual(minute_differs, {}, 'test timing artifact: records whose arrival minute '
                         'differs between the cluster and the single node (arrival ms)')

        # The (window end, store) groups: every window closes when the wall clock passes its end.
        groups = collections.Counter()
        stores_of = collections.defaultdict(set)
        for e in events:
            end = (on_single[e['id']][0] // 60000 + 1) * 60000
            stores_of[end].add(e['store_id'])
        for end, stores in stores_of.items():
            for st in stores:
                groups[(st, sql_timestamp(end))] += 1
        last_end = max(stores_of)
        deadline = time.monotonic() + max(0.0, last_end / 1000.0 - time.time()) + OUTPUT_TIMEOUT_S
        while True:
            single_rows = self.output_rows(s, 'revenue')
            cluster_rows = self.output_rows(survivor, 'revenue')
            single_groups = collections.Counter((r['store_id'], r['timestamp']) for r in single_rows)
            want, got = self.rows_multiset(single_rows), self.rows_multiset(cluster_rows)
            if single_groups == groups and got == want:
                break
            if time.monotonic() > deadline:
                self.assertEqual(single_groups, groups,
                                 'single node: (store, window end) groups of its output vs the '
                                 'groups of its input')
                self.fail('cluster output != single-node output %.0f s after the last window '
                          'ended (owner %s killed, nats-server %s killed)\nmissing on the cluster: '
                          '%s\nextra on the cluster: %s'
                          % (time.time() - last_end / 1000.0, owner.label, victim_name,
                             sorted((want - got).elements()), sorted((got - want).elements())))
            time.sleep(0.5)
        self.assertGreaterEqual(len(stores_of), 1)
        self.assertTrue(any(st == set(STORES) for st in stores_of.values()), stores_of)
        # Nothing more (a late duplicate) on the cluster once it matched.
        time.sleep(1.5)
        self.assertEqual(self.rows_multiset(self.output_rows(survivor, 'revenue')), want,
                         'cluster output changed after it matched the single node')
        self.assertEqual(self.describe(survivor, app)['ApplicationStatus'], 'RUNNING')


if __name__ == '__main__':
    unittest.main()
