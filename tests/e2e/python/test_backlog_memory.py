"""A backlog stays on disk, not in memory (issue 27, part 3).

A delivery stream reads a Kinesis stream into a bucket folder that cannot be made (a file holds its
name), so every delivery fails and is retried; meanwhile 300 MB go into the source stream. The
server's anonymous resident memory (heap and stacks; the log's mapped pages are RssFile) must not
grow with the backlog: the records wait in the stream's log. Then the destination comes back and
every record is delivered.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_backlog_memory
"""

import os
import time
import unittest

from harness import EddyServer

ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/'
ROLE = 'arn:aws:iam::000000000000:role/any'
BACKLOG_MB = 300
RECORD = b'x' * 100_000


def rss_anon_mb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('RssAnon:'):
                return int(line.split()[1]) / 1024
    raise AssertionError('no RssAnon in /proc/%d/status' % pid)


class BacklogMemory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = EddyServer(label='backlog')
        cls.buckets = os.path.join(cls.server.root, 'buckets')
        cls.server.extra_args += ['--bucket-dir', cls.buckets]
        cls.server.start()
        cls.k = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def firehose(self):
        import boto3
        from botocore.config import Config
        return boto3.client('firehose', endpoint_url=self.server.endpoint, region_name='us-east-1',
                            aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='secret',
                            config=Config(retries={'total_max_attempts': 3}))

    def test_an_undeliverable_backlog_stays_in_the_log(self):
        k, fh = self.k, self.firehose()
        k.create_stream(StreamName='src', ShardCount=1)
        k.get_waiter('stream_exists').wait(StreamName='src', WaiterConfig={'Delay': 0.2, 'MaxAttempts': 150})
        os.makedirs(self.buckets, exist_ok=True)
        blocker = os.path.join(self.buckets, 'down')
        open(blocker, 'w').close()  # the bucket's folder cannot be made while this file is there
        fh.create_delivery_stream(
            DeliveryStreamName='d', DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': ARN + 'src', 'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::down',
                                                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 60}})
        pid = self.server.proc.pid
        for _ in range(5):  # the first records, so that the delivery is reading and failing
            k.put_records(StreamName='src', Records=[{'Data': RECORD, 'PartitionKey': 'p'}] * 10)
        time.sleep(3)
        before = rss_anon_mb(pid)
        sent = 50
        for _ in range(BACKLOG_MB * 10 // 50):
            out = k.put_records(StreamName='src', Records=[{'Data': RECORD, 'PartitionKey': 'p'}] * 50)
            self.assertEqual(out['FailedRecordCount'], 0)
            sent += 50
        time.sleep(3)
        after = rss_anon_mb(pid)
        msg = 'RssAnon %.0f MB before, %.0f MB after %d MB of undeliverable backlog' % (before, after, BACKLOG_MB)
        print(msg)
        self.assertLess(after - before, BACKLOG_MB / 3, msg)
        # The destination comes back: everything is delivered, none lost.
        os.remove(blocker)
        deadline = time.monotonic() + 240
        delivered = 0
        while time.monotonic() < deadline:
            delivered = 0
            for root, _, files in os.walk(os.path.join(self.buckets, 'down')):
                for name in files:
                    with open(os.path.join(root, name), 'rb') as f:
                        delivered += f.read().count(RECORD)
            if delivered >= sent:
                break
            time.sleep(2)
        self.assertEqual(delivered, sent)


if __name__ == '__main__':
    unittest.main()
