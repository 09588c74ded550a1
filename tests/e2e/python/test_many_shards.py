"""A node holding 5,000 shards under the common limit of 1,024 open files (issue 27, part 3).

Each shard's log lives in its own segment file; the node leases their descriptors from a bounded
pool (src/log/file_handles.h), so the shard count no longer depends on the descriptor limit. The
server runs with RLIMIT_NOFILE 1,024 and --shard-limit 5000; every shard gets a record, a sample of
shards is read back, the open descriptors are counted, and all of it again after a restart.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_many_shards
"""

import os
import random
import resource
import time
import unittest

from harness import EddyServer, even_ranges

STREAMS = 10
SHARDS = 500  # per stream: 5,000 in all
FILE_LIMIT = 1024


def open_descriptors(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


class ManyShards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Soft and hard: the server raises its soft limit to the hard one when it starts.
        cls.server = EddyServer(['--shard-limit', str(STREAMS * SHARDS)], label='shards',
                                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT)))
        cls.server.start()
        cls.k = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def wait_active(self, name):
        for _ in range(600):
            if self.k.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamStatus'] == 'ACTIVE':
                return
            time.sleep(0.1)
        self.fail('%s not ACTIVE' % name)

    def read_one(self, name, shard):
        it = self.k.get_shard_iterator(StreamName=name, ShardId='shardId-%012d' % shard,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        return [r['Data'] for r in self.k.get_records(ShardIterator=it, Limit=10)['Records']]

    def test_five_thousand_shards_under_1024_descriptors(self):
        pid = self.server.proc.pid
        with open('/proc/%d/limits' % pid) as f:
            self.assertIn('%d' % FILE_LIMIT, [line for line in f if line.startswith('Max open files')][0])
        names = ['many-%02d' % i for i in range(STREAMS)]
        for name in names:
            self.k.create_stream(StreamName=name, ShardCount=SHARDS)
            self.wait_active(name)
        self.assertEqual(self.k.describe_limits()['OpenShardCount'], STREAMS * SHARDS)
        self.assertEqual(self.k.describe_limits()['ShardLimit'], STREAMS * SHARDS)
        ranges = even_ranges(SHARDS)
        # One record per shard, routed by its explicit hash key.
        for name in names:
            for start in range(0, SHARDS, 500):
                batch = [{'Data': ('%s/%d' % (name, s)).encode(), 'PartitionKey': 'k',
                          'ExplicitHashKey': str(ranges[s][0])} for s in range(start, min(SHARDS, start + 500))]
                out = self.k.put_records(StreamName=name, Records=batch)
                self.assertEqual(out['FailedRecordCount'], 0)
                self.assertEqual([r['ShardId'] for r in out['Records']],
                                 ['shardId-%012d' % s for s in range(start, start + len(batch))])
        self.assertLess(open_descriptors(pid), FILE_LIMIT)
        rng = random.Random(27)
        sample = [(rng.choice(names), rng.randrange(SHARDS)) for _ in range(300)]
        for name, s in sample:
            self.assertEqual(self.read_one(name, s), [('%s/%d' % (name, s)).encode()])
        # More than a shard's last record: a second one in every shard of one stream, read back.
        name = names[-1]
        out = self.k.put_records(StreamName=name, Records=[
            {'Data': b'second', 'PartitionKey': 'k', 'ExplicitHashKey': str(ranges[s][0])} for s in range(SHARDS)])
        self.assertEqual(out['FailedRecordCount'], 0)
        self.assertEqual(self.read_one(name, SHARDS - 1), [('%s/%d' % (name, SHARDS - 1)).encode(), b'second'])
        self.assertLess(open_descriptors(pid), FILE_LIMIT)

        # A restart under the same limit opens every shard's log again.
        self.server.restart()
        self.k = self.server.client()
        pid = self.server.proc.pid
        self.assertEqual(self.k.describe_limits()['OpenShardCount'], STREAMS * SHARDS)
        for name, s in sample[:100]:
            self.assertEqual(self.read_one(name, s),
                             [('%s/%d' % (name, s)).encode()] + ([b'second'] if name == names[-1] else []))
        out = self.k.put_records(StreamName=names[0], Records=[
            {'Data': b'after', 'PartitionKey': 'k', 'ExplicitHashKey': str(ranges[s][0])} for s in range(SHARDS)])
        self.assertEqual(out['FailedRecordCount'], 0)
        self.assertLess(open_descriptors(pid), FILE_LIMIT)


if __name__ == '__main__':
    unittest.main()
