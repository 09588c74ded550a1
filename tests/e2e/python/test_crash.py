"""Crash test: with --fsync always, an acknowledged PutRecords entry survives kill -9.

Four writer threads send PutRecords batches (50 small records, unique ids) to a 4-shard stream;
after a random 0.3-1.5 s the server is killed with SIGKILL and restarted on the same data dir.
Then every shard is read from TRIM_HORIZON and checked:
  - every acknowledged record (its entry got a SequenceNumber) is there, in the shard and with the
    sequence number it was acknowledged with, and with its data intact;
  - sequence numbers are strictly increasing per shard; no record appears twice;
  - a record read after one restart is still there after every later restart.
Unacknowledged records may or may not be present. 10 rounds, accumulating across restarts.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_crash
Seed: EDDY_CRASH_SEED=<int> reproduces the kill times.
"""

import os
import random
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness

ROUNDS = 10
THREADS = 4
BATCH = 50
SHARDS = 4
TIME_BUDGET_S = 540
MAX_BATCHES_PER_THREAD_PER_ROUND = 2000


class CrashRecoveryTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(['--fsync', 'always'], label='crash').start()
        cls.name = harness.unique_name('crash')
        harness.create_stream(cls.server.client(), cls.name, SHARDS)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def writer(self, rnd, t, endpoint_client, out, anomalies, stop):
        rng = random.Random((rnd << 8) | t)
        for b in range(MAX_BATCHES_PER_THREAD_PER_ROUND):
            if stop.is_set():
                return
            batch = []
            for i in range(BATCH):
                rid = 'r%d-t%d-b%d-%d' % (rnd, t, b, i)
                data = rid.encode() + b'|' + rng.randbytes(rng.randint(8, 48))
                batch.append({'Data': data, 'PartitionKey': rid})
            try:
                resp = endpoint_client.put_records(StreamName=self.name, Records=batch)
            except ClientError as e:  # an HTTP answer, so the server was alive: unexpected
                anomalies.append('PutRecords failed: %s' % e)
                return
            except Exception:  # the server was killed mid-request: nothing more is acknowledged
                return
            if len(resp['Records']) != len(batch):
                anomalies.append('PutRecords answered %d entries for %d records'
                                 % (len(resp['Records']), len(batch)))
                return
            for rec, res in zip(batch, resp['Records']):
                if 'SequenceNumber' in res:
                    out.append((rec['PartitionKey'], res['ShardId'], res['SequenceNumber'],
                                rec['Data'], t, b))
                else:
                    anomalies.append('entry failed without limits: %r' % (res,))

    def read_everything(self, client):
        shards = harness.all_shards(client, self.name)
        self.assertEqual(len(shards), SHARDS)
        per_shard = {}
        for s in shards:
            recs, _ = harness.read_shard(client, self.name, s['ShardId'], limit=10000,
                                         max_calls=2000)
            per_shard[s['ShardId']] = [(x['PartitionKey'], int(x['SequenceNumber']), x['Data'])
                                       for x in recs]
        return per_shard

    def test_kill9_keeps_every_acknowledged_record(self):
        seed = int(os.environ.get('EDDY_CRASH_SEED', str(int(time.time() * 1000) % 1000000)))
        rng = random.Random(seed)
        ctx = 'seed=%d (EDDY_CRASH_SEED to reproduce)' % seed
        started = time.monotonic()
        acked = {}           # id -> (shard, seq int, data)
        durable_seen = {}    # id -> (shard, seq int) seen after some restart
        per_round = []
        for rnd in range(ROUNDS):
            self.assertLess(time.monotonic() - started, TIME_BUDGET_S,
                            'time budget exceeded after %d rounds; %s' % (rnd, ctx))
            stop = threading.Event()
            outs = [[] for _ in range(THREADS)]
            anomalies = []
            clients = [self.server.client(connect_timeout=2, read_timeout=20)
                       for _ in range(THREADS)]
            threads = [threading.Thread(target=self.writer,
                                        args=(rnd, t, clients[t], outs[t], anomalies, stop),
                                        daemon=True) for t in range(THREADS)]
            for th in threads:
                th.start()
            delay = rng.uniform(0.3, 1.5)
            time.sleep(delay)
            self.server.kill9()
            stop.set()
            for th in threads:
                th.join(timeout=30)
                self.assertFalse(th.is_alive(), 'writer thread stuck after kill -9')
            self.assertEqual(anomalies, [], ctx)

            # Acknowledged records of this round.
            n_round = 0
            for t, out in enumerate(outs):
                last_max = {}  # shard -> (batch, max seq) for this thread
                batch_seqs = {}
                for rid, sh, seq, data, _, b in out:
                    self.assertNotIn(rid, acked)
                    acked[rid] = (sh, int(seq), data)
                    batch_seqs.setdefault((sh, b), []).append(int(seq))
                    n_round += 1
                # A thread's later batch gets larger numbers in each shard than its earlier one.
                for (sh, b) in sorted(batch_seqs, key=lambda k: k[1]):
                    seqs = batch_seqs[(sh, b)]
                    if sh in last_max:
                        self.assertGreater(min(seqs), last_max[sh][1],
                                           'thread %d shard %s batch %d vs %d; %s'
                                           % (t, sh, b, last_max[sh][0], ctx))
                    last_max[sh] = (b, max(seqs))
            per_round.append((round(delay, 2), n_round))

            self.server.start()  # same data dir, new port
            client = self.server.client()
            harness.wait_exists(client, self.name)
            per_shard = self.read_everything(client)

            found = {}
            for sh, recs in per_shard.items():
                seqs = [seq for _, seq, _ in recs]
                bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if not a < b]
                self.assertEqual(bad, [], 'round %d shard %s: sequence numbers not strictly '
                                          'increasing; %s' % (rnd, sh, ctx))
                for rid, seq, data in recs:
                    self.assertNotIn(rid, found, 'round %d: record %s duplicated; %s'
                                     % (rnd, rid, ctx))
                    found[rid] = (sh, seq, data)
            missing = [rid for rid in acked if rid not in found]
            self.assertEqual(missing[:20], [],
                             'round %d: %d of %d acknowledged records lost after kill -9 '
                             '(kill after %.2f s); %s'
                             % (rnd, len(missing), len(acked), delay, ctx))
            for rid, (sh, seq, data) in acked.items():
                self.assertEqual(found[rid], (sh, seq, data),
                                 'round %d: record %s came back different; %s' % (rnd, rid, ctx))
            vanished = [rid for rid in durable_seen if found.get(rid, (None, None))[:2]
                        != durable_seen[rid]]
            self.assertEqual(vanished[:20], [], 'round %d: records read after an earlier restart '
                                                'are gone or changed; %s' % (rnd, ctx))
            for rid, (sh, seq, data) in found.items():
                self.assertTrue(data.startswith(rid.encode() + b'|'), rid)
                durable_seen[rid] = (sh, seq)
        self.assertGreater(len(acked), 0, 'no record was acknowledged in %d rounds' % ROUNDS)
        print('\ncrash test %s: rounds (kill delay s, acked) %s; total acked %d, present %d, '
              '%.1f s' % (ctx, per_round, len(acked), len(durable_seen),
                          time.monotonic() - started))


if __name__ == '__main__':
    unittest.main()
