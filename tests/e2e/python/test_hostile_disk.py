"""A full disk (issue 21): writes that do not fit are refused with a retryable error and logged
with the reason, nothing acknowledged is lost, a server restarted on the full disk starts and
serves reads, and writes resume once there is room again.

The data directory sits on a 16 MiB tmpfs this test mounts; without the right to mount (not
root, or in a container without CAP_SYS_ADMIN) the test is skipped and says so.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_hostile_disk
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness

RECORD = b'x' * 100000


def mount_tmpfs(path, size):
    return subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s' % size, 'tmpfs', path],
                          capture_output=True, text=True, timeout=30)


class FullDiskTest(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix='eddy-full-disk-')
        if os.geteuid() != 0 or not shutil.which('mount'):
            os.rmdir(self.mnt)
            self.skipTest('mounting a small tmpfs needs root')
        m = mount_tmpfs(self.mnt, '16m')
        if m.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest('cannot mount a tmpfs here: ' + m.stderr.strip())
        self.server = harness.EddyServer(label='fulldisk')
        self.server.data_dir = os.path.join(self.mnt, 'data')
        os.makedirs(self.server.data_dir)

    def tearDown(self):
        if hasattr(self, 'server'):
            self.server.close()
        subprocess.run(['umount', self.mnt], capture_output=True, timeout=30)
        os.rmdir(self.mnt)

    def read_all(self, c):
        it = c.get_shard_iterator(StreamName='s', ShardId='shardId-000000000000',
                                  ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        seqs = []
        for _ in range(100):
            r = c.get_records(ShardIterator=it, Limit=10000)
            seqs += [x['SequenceNumber'] for x in r['Records']]
            it = r.get('NextShardIterator')
            if not r['Records'] or not it or r.get('MillisBehindLatest', 0) == 0:
                break
        return seqs

    def test_writes_fail_retryably_and_resume_and_a_restart_serves_reads(self):
        self.server.start()
        c = self.server.client()
        harness.create_stream(c, 's', 1)
        acked, failed = [], []
        for _ in range(400):  # 40 MB offered to a 16 MiB disk
            r = c.put_records(StreamName='s', Records=[{'Data': RECORD, 'PartitionKey': 'k'}] * 2)
            for rec in r['Records']:
                (failed if 'ErrorCode' in rec else acked).append(rec)
            if len(failed) >= 4:
                break
        self.assertTrue(failed, 'the disk never filled')
        self.assertEqual({f['ErrorCode'] for f in failed}, {'InternalFailure'})  # SDKs retry it
        log = self.server.log_tail(400)
        self.assertIn('append to s/shardId-000000000000 failed', log)
        self.assertIn('No space left on device', log)
        self.assertTrue(self.server.alive())
        acked_seqs = [a['SequenceNumber'] for a in acked]
        self.assertEqual(self.read_all(c), acked_seqs)  # everything acknowledged, nothing else

        # Restarted on the full disk: it starts and serves what it holds.
        self.server.stop()
        self.server.start()
        c = self.server.client()
        self.assertEqual(c.list_streams()['StreamNames'], ['s'])
        self.assertEqual(self.read_all(c), acked_seqs)
        # (the restart may have freed the torn tail of a failed append: a write may fit again)
        for _ in range(20):
            r = c.put_records(StreamName='s', Records=[{'Data': RECORD, 'PartitionKey': 'k'}])
            if r['FailedRecordCount']:
                self.assertEqual(r['Records'][0]['ErrorCode'], 'InternalFailure')
                break
            acked_seqs.append(r['Records'][0]['SequenceNumber'])
        self.assertEqual(r['FailedRecordCount'], 1, 'the full disk took 2 MB more after the restart')

        # Room again: the same stream takes writes, after the ones it acknowledged.
        grow = subprocess.run(['mount', '-o', 'remount,size=64m', self.mnt], capture_output=True, text=True, timeout=30)
        self.assertEqual(grow.returncode, 0, grow.stderr)
        deadline = time.time() + 10
        while True:
            r = c.put_records(StreamName='s', Records=[{'Data': RECORD, 'PartitionKey': 'k'}])
            if r['FailedRecordCount'] == 0 or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r['FailedRecordCount'], 0, r)
        seqs = self.read_all(c)
        self.assertEqual(seqs[:len(acked_seqs)], acked_seqs)
        self.assertEqual(seqs[-1], r['Records'][0]['SequenceNumber'])


if __name__ == '__main__':
    unittest.main()
