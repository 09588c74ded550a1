"""A backlog stays on disk, not in memory (issue 27, part 3): memory stays bounded when a consumer
stops reading.

What is watched is the server's anonymous resident memory (RssAnon in /proc/<pid>/status: heap and
stacks; the log's mapped pages are RssFile, which the kernel may drop). Each test measures it once
the write path has warmed up, writes a backlog of hundreds of MB of 100 KB records, and requires the
growth to stay under a third of the backlog: a server that held the backlog, or the events made of
it, in memory would grow by at least the backlog (events carry the data in base64, a third more),
while what each reader is allowed to hold is one read of at most 10 MB.

- A delivery stream reads a Kinesis stream into a bucket folder that cannot be made (a file holds
  its name), so every delivery fails and is retried; meanwhile 300 MB go into the source stream. The
  records wait in the stream's log. Then the destination comes back and every record is delivered.
- A GetRecords consumer reads once and stops, holding its shard iterator (nothing of it lives in the
  server: the iterator is a token). After the backlog it resumes with that same iterator, well within
  its five minutes, and reads every record, in order, up to the last one put.
- An enhanced fan-out consumer (SubscribeToShard through boto3: an event stream over HTTP/1.1) reads
  its first event and then stops reading its socket. The server writes one event at a time and asks
  for the next only when the write is done (api/http_server.cc, send_event_text), so a stopped
  reader holds one event (at most 10 MB of records) besides the kernel's socket buffers. The server
  goes on serving other calls (PutRecords, DescribeStreamSummary) meanwhile. A second subscription of
  the same consumer, from the stopped one's ContinuationSequenceNumber, takes the shard over and
  reads everything. Then the stopped reader reads again: it gets what was in flight, records right
  after the last it had, far fewer than the backlog, and then the end of its subscription
  (ResourceInUseException: taken over; or, only once the server's 60 s write timeout has passed,
  the end of the stream).

Not covered: a reader that never comes back is let go by that 60 s write timeout, which cannot be
shortened from the command line (the module would wait a minute for it); HTTP/2 (nghttp2 flow
control) is not what boto3 speaks.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_backlog_memory
"""

import os
import time
import unittest

from botocore.exceptions import EventStreamError

from harness import EddyServer
from fanout_util import FanOutTestCase, S0

ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/'
ROLE = 'arn:aws:iam::000000000000:role/any'
BACKLOG_MB = 300
RECORD = b'x' * 100_000
STOPPED_BACKLOG_MB = 200  # per stopped consumer
BATCH = 50  # records of RECORD per PutRecords: 5 MB


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
        # IntervalInSeconds 1: once the destination is back, the last partial buffer goes out at once.
        fh.create_delivery_stream(
            DeliveryStreamName='d', DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': ARN + 'src', 'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::down',
                                                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 1}})
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


class StoppedConsumer(FanOutTestCase):
    """Consumers that stop reading while a backlog is written: RssAnon must not grow with it."""
    label = 'stopped'

    def put_records(self, name, n=BATCH, peak=None):
        """PutRecords of n records of RECORD; returns their sequence numbers. peak: a list whose
        one item is raised to RssAnon, when higher, after the call."""
        out = self.c.put_records(StreamName=name, Records=[{'Data': RECORD, 'PartitionKey': 'p'}] * n)
        self.assertEqual(out['FailedRecordCount'], 0)
        if peak is not None:
            peak[0] = max(peak[0], rss_anon_mb(self.server.proc.pid))
        return [r['SequenceNumber'] for r in out['Records']]

    def backlog(self, name, what):
        """While a consumer stands still: a warm-up (the write path's buffers, before the baseline),
        then STOPPED_BACKLOG_MB; asserts RssAnon's growth; returns every sequence number put."""
        pid = self.server.proc.pid
        seqs = []
        for _ in range(3):
            seqs += self.put_records(name)
        time.sleep(2)
        before = rss_anon_mb(pid)
        peak = [before]
        started = time.monotonic()
        for _ in range(STOPPED_BACKLOG_MB * 10 // BATCH):
            seqs += self.put_records(name, peak=peak)
        took = time.monotonic() - started
        time.sleep(3)
        after = rss_anon_mb(pid)
        msg = ('%s: RssAnon %.0f MB before, %.0f MB at most while, %.0f MB after %d MB of backlog (written in %.1f s)'
               % (what, before, peak[0], after, STOPPED_BACKLOG_MB, took))
        print(msg)
        self.assertLess(after - before, STOPPED_BACKLOG_MB / 3, msg)
        return seqs

    def test_a_get_records_consumer_that_stops(self):
        name, _ = self.new_stream()
        first = self.put_records(name, 5)
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0, ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        r = self.c.get_records(ShardIterator=it)
        self.assertEqual([x['SequenceNumber'] for x in r['Records']], first)
        it = r['NextShardIterator']  # the consumer stops here
        stopped = time.monotonic()
        want = self.backlog(name, 'GetRecords consumer stopped')
        # It resumes with the iterator it had (valid for 5 minutes) and reads everything, in order.
        self.assertLess(time.monotonic() - stopped, 200, 'too slow a machine: the iterator would expire')
        got, last = [], None
        started = time.monotonic()
        for _ in range(len(want) // 50 + 20):  # a read returns up to 10 MB: about 100 records
            last = self.c.get_records(ShardIterator=it)
            for x in last['Records']:
                self.assertEqual(x['Data'], RECORD)
                got.append(x['SequenceNumber'])
            it = last['NextShardIterator']
            if len(got) >= len(want) and last['MillisBehindLatest'] == 0:
                break
        print('GetRecords consumer resumed %.0f s after it stopped; read %d records in %.1f s; RssAnon %.0f MB'
              % (time.monotonic() - stopped, len(got), time.monotonic() - started, rss_anon_mb(self.server.proc.pid)))
        self.assertEqual(len(got), len(want))
        self.assertEqual(got, want)
        self.assertEqual(last['MillisBehindLatest'], 0)

    def test_an_enhanced_fan_out_consumer_that_stops(self):
        name, arn = self.new_stream()
        con = self.consumer(arn, 'stops')
        first = self.put_records(name, 5)
        # Its own client: the other calls must not wait for this connection.
        resp = self.server.client(read_timeout=30).subscribe_to_shard(
            ConsumerARN=con, ShardId=S0, StartingPosition={'Type': 'TRIM_HORIZON'})
        subscribed = time.monotonic()
        stalled = resp['EventStream']
        self.addCleanup(stalled.close)
        events = iter(stalled)
        e = next(events)['SubscribeToShardEvent']  # the socket's read timeout bounds the wait
        self.assertEqual([x['SequenceNumber'] for x in e['Records']], first)
        cont = e['ContinuationSequenceNumber']
        self.assertEqual(cont, first[-1])
        # It stops reading; the backlog is written.
        stopped = time.monotonic()
        want = self.backlog(name, 'fan-out consumer stopped')
        # The server goes on serving other calls.
        s = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
        self.assertEqual((s['StreamStatus'], s['ConsumerCount']), ('ACTIVE', 1))
        want += self.put_records(name, 5)
        # A new subscription of the consumer (more than 5 s after the first: a takeover) from where
        # the stopped one was reads everything, in order.
        time.sleep(max(0.0, subscribed + 5.5 - time.monotonic()))
        started = time.monotonic()
        sub = self.subscribe(con, S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=cont)
        got, evs = sub.records(len(want), timeout=120)
        print('fan-out: a new subscription read %d records in %.1f s; RssAnon %.0f MB'
              % (len(got), time.monotonic() - started, rss_anon_mb(self.server.proc.pid)))
        self.assertEqual([x['SequenceNumber'] for x in got], want)
        self.assertTrue(all(x['Data'] == RECORD for x in got))
        self.assertEqual(evs[-1]['ContinuationSequenceNumber'], want[-1])
        # The stopped reader reads again: what was in flight (the socket buffers and the one event
        # being written), the records right after its first event, then its end.
        resumed, ended = [], None
        for _ in range(len(want)):  # events, each with at least one record, then the end
            try:
                ev = next(events)['SubscribeToShardEvent']
            except StopIteration:
                ended = 'the end of the stream'
                break
            except EventStreamError as err:
                ended = err.response['Error']['Code']
                break
            except Exception as err:  # noqa: BLE001 - the connection cut mid-event: an end too
                ended = repr(err)
                break
            resumed += [x['SequenceNumber'] for x in ev['Records']]
        waited = time.monotonic() - stopped
        print('fan-out: the stopped reader, %.0f s later, got %d more records (%.0f MB), then %s'
              % (waited, len(resumed), len(resumed) * len(RECORD) / 1e6, ended))
        self.assertEqual(resumed, want[:len(resumed)])
        self.assertLess(len(resumed), len(want) / 4, 'the server queued the backlog for a reader that had stopped')
        if ended != 'ResourceInUseException':
            # Only the write timeout (60 s) lets a stopped reader go without telling it.
            self.assertGreaterEqual(waited, 55, 'the stopped subscription ended with %s' % ended)


if __name__ == '__main__':
    unittest.main()
