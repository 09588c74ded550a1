"""End-to-end tests of eddy's enhanced fan-out through unmodified boto3: RegisterStreamConsumer,
DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer and SubscribeToShard, whose
answer boto3 reads as an AWS event stream (HTTP/1.1 chunked) with its own EventStream class.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kinesis_fanout
Needs a botocore that models SubscribeToShard (the pyenv python3's botocore 1.43 does). Each class
starts its own server (port 0, private data dir), so classes can run in parallel; the server flags
differ per class: --status-delay-ms (consumers stay CREATING for a while), --fanout-look-ms 60000
(a subscription only learns of new records from the append signal), --fanout-subscription-ms 3000
(subscriptions end after 3 s instead of 5 minutes).

Every wait is bounded: a subscription is read by a thread into a queue, and each expected event,
error or end is awaited with a timeout (WAIT_S unless told otherwise).
"""

import base64
import datetime
import http.client
import json
import queue
import socket
import struct
import threading
import time
import unittest

from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

import harness
from harness import CBOR_CT, MAX_HASH_KEY, SEQ_RE, shard_id

UTC = datetime.timezone.utc
S0, S1, S2, S3 = (shard_id(i) for i in range(4))
HALF = 2 ** 127  # first hash key of shard 1 of 2
WAIT_S = 10.0  # the longest wait for an event that should come at once
READ_TIMEOUT_S = 30  # boto3's socket timeout: a reader thread never hangs for ever
TAKE_OVER_S = 5.0  # AWS: a second subscription within 5 s of a successful one is refused
HEARTBEAT_S = 5.0  # at least every 5 s an (empty) event when quiet


def triple(record):
    """What a record is, for comparing with what was put: (SequenceNumber, Data, PartitionKey)."""
    return (record['SequenceNumber'], record['Data'], record['PartitionKey'])


def record_fields(record):
    """A record as GetRecords and SubscribeToShard both carry it."""
    return {k: record[k] for k in ('SequenceNumber', 'ApproximateArrivalTimestamp', 'Data', 'PartitionKey')}


# ==================================================================================== a subscription
class Subscription:
    """One SubscribeToShard response, read through boto3's EventStream by a background thread.

    The thread puts ('event', monotonic time, parsed event), then at the end either ('end', t, None)
    (the stream ended normally) or ('error', t, exception) (an exception event, which boto3 raises
    as an EventStreamError, or a transport error) into a queue the test takes from with a timeout.
    Every event is checked on arrival against what SubscribeToShardEvent promises."""

    def __init__(self, test, client, consumer_arn, shard, position):
        self.test = test
        self.shard = shard
        self.started = time.monotonic()  # before the call: the server's 5 s window starts later
        resp = client.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId=shard, StartingPosition=position)
        self.responded = time.monotonic()
        self.metadata = resp['ResponseMetadata']
        # botocore has read the initial-response event already (ResponseParserError if the first
        # event is not one): the EventStream goes on with the SubscribeToShardEvents.
        self.stream = resp['EventStream']
        self.queue = queue.Queue()
        self.last_seq = None
        self.finished = False
        self.thread = threading.Thread(target=self._run, name='subscription-%s' % shard, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for event in self.stream:
                self.queue.put(('event', time.monotonic(), event))
        except Exception as e:  # noqa: BLE001 - handed to the test
            self.queue.put(('error', time.monotonic(), e))
        else:
            self.queue.put(('end', time.monotonic(), None))

    def take(self, timeout=WAIT_S):
        try:
            return self.queue.get(timeout=max(0.01, timeout))
        except queue.Empty:
            raise AssertionError('%s: no event, error or end within %.1f s' % (self.shard, timeout)) from None

    def event(self, timeout=WAIT_S, with_time=False):
        """The next SubscribeToShardEvent (fails on an error, the end or a timeout)."""
        kind, at, value = self.take(timeout)
        if kind != 'event':
            raise AssertionError('%s: expected a SubscribeToShardEvent, got %s: %r' % (self.shard, kind, value))
        t = self.test
        t.assertEqual(list(value), ['SubscribeToShardEvent'], value)
        e = value['SubscribeToShardEvent']
        t.assertFalse(self.finished, 'an event after the one with ChildShards: %r' % e)
        t.assertIsInstance(e['Records'], list, e)
        t.assertIsInstance(e['MillisBehindLatest'], int, e)
        t.assertGreaterEqual(e['MillisBehindLatest'], 0, e)
        for r in e['Records']:
            t.assertRegex(r['SequenceNumber'], SEQ_RE)
            if self.last_seq is not None:
                t.assertGreater(int(r['SequenceNumber']), int(self.last_seq), 'records out of order or repeated')
            self.last_seq = r['SequenceNumber']
            t.assertIsInstance(r['Data'], bytes)
            t.assertIsInstance(r['ApproximateArrivalTimestamp'], datetime.datetime)
        if 'ChildShards' in e:
            # The last event of a closed shard: no ContinuationSequenceNumber.
            t.assertNotIn('ContinuationSequenceNumber', e)
            self.finished = True
        else:
            t.assertRegex(e.get('ContinuationSequenceNumber', ''), SEQ_RE, e)
            if e['Records']:
                t.assertEqual(e['ContinuationSequenceNumber'], e['Records'][-1]['SequenceNumber'])
        return (e, at) if with_time else e

    def records(self, n, timeout=WAIT_S):
        """Events until n records came; returns (records, events). Fails if the events hold more."""
        deadline = time.monotonic() + timeout
        got, events = [], []
        while len(got) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError('%s: %d of %d records within %.1f s: %r'
                                     % (self.shard, len(got), n, timeout, [triple(r) for r in got]))
            e = self.event(remaining)
            events.append(e)
            got.extend(e['Records'])
        self.test.assertEqual(len(got), n, 'more records than expected: %r' % [triple(r) for r in got])
        return got, events

    def until_child_shards(self, timeout=WAIT_S):
        """Events until the one with ChildShards; returns (records of all of them, that last event)."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            e = self.event(deadline - time.monotonic())
            got.extend(e['Records'])
            if 'ChildShards' in e:
                return got, e

    def end(self, timeout=WAIT_S):
        """Waits for the stream's normal end (not an exception event); returns its monotonic time."""
        kind, at, value = self.take(timeout)
        if kind != 'end':
            raise AssertionError('%s: expected the end of the stream, got %s: %r' % (self.shard, kind, value))
        return at

    def error(self, code, timeout=WAIT_S, allow_empty_events=True):
        """Waits for an exception event with this code (empty events before it are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            kind, at, value = self.take(deadline - time.monotonic())
            if kind == 'event' and allow_empty_events and not value['SubscribeToShardEvent']['Records']:
                continue
            if kind != 'error':
                raise AssertionError('%s: expected a %s event, got %s: %r' % (self.shard, code, kind, value))
            self.test.assertIsInstance(value, ClientError, repr(value))
            self.test.assertEqual(value.response['Error']['Code'], code, value.response)
            return value

    def close(self):
        """Ends the connection (shutdown wakes the reader thread, which then ends)."""
        # urllib3's response -> http.client's response -> its socket file -> the socket (which
        # http.client has marked closed, the file still using it): shutdown wakes a blocked recv.
        try:
            self.stream._raw_stream._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass
        try:
            self.stream.close()
        except Exception:  # noqa: BLE001 - the reader thread may be closing it too
            pass
        self.thread.join(timeout=5)


# ======================================================================================== base class
class FanOutTestCase(unittest.TestCase):
    extra_args = ()
    label = 'fanout'

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(cls.extra_args, label=cls.label).start()
        cls.c = cls.server.client(read_timeout=READ_TIMEOUT_S)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    # -------------------------------------------------------------------------------- helpers
    def new_stream(self, shards=1):
        """A fresh stream; returns (name, ARN)."""
        name = harness.unique_name(self._testMethodName.replace('_', '-')[:40])
        harness.create_stream(self.c, name, shards)
        arn = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
        return name, arn

    def register(self, stream_arn, name, **kw):
        """RegisterStreamConsumer; returns its Consumer."""
        return self.c.register_stream_consumer(StreamARN=stream_arn, ConsumerName=name, **kw)['Consumer']

    def describe(self, **kw):
        return self.c.describe_stream_consumer(**kw)['ConsumerDescription']

    def list_all(self, stream_arn):
        r = self.c.list_stream_consumers(StreamARN=stream_arn)
        self.assertNotIn('NextToken', r)
        return r['Consumers']

    def consumer_count(self, name):
        return self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'].get('ConsumerCount', 0)

    def wait_active(self, consumer_arn, timeout=10.0):
        """Polls DescribeStreamConsumer until ACTIVE; returns the description."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.describe(ConsumerARN=consumer_arn)
            if d['ConsumerStatus'] == 'ACTIVE':
                return d
            self.assertEqual(d['ConsumerStatus'], 'CREATING', d)
            if time.monotonic() > deadline:
                self.fail('consumer %s not ACTIVE within %.0f s' % (consumer_arn, timeout))
            time.sleep(0.05)

    def consumer(self, stream_arn, name):
        """A registered, ACTIVE consumer's ARN."""
        arn = self.register(stream_arn, name)['ConsumerARN']
        self.wait_active(arn)
        return arn

    def subscribe(self, consumer_arn, shard, kind, client=None, **position):
        """SubscribeToShard (closed when the test ends)."""
        position['Type'] = kind
        s = Subscription(self, client or self.c, consumer_arn, shard, position)
        self.addCleanup(s.close)
        return s

    def put(self, name, data, pk='pk', hash_key=None):
        """PutRecord; returns (SequenceNumber, Data, PartitionKey) as a subscription must give it back."""
        kw = {'ExplicitHashKey': str(hash_key)} if hash_key is not None else {}
        r = self.c.put_record(StreamName=name, Data=data, PartitionKey=pk, **kw)
        return (r['SequenceNumber'], data, pk)

    def put_many(self, name, n, prefix, hash_key=None):
        return [self.put(name, b'%s-%d' % (prefix, i), 'pk%d' % i, hash_key) for i in range(n)]

    def assert_error(self, codes, fn, *args, **kw):
        """Calls fn expecting a ClientError whose code is `codes` (a str or a tuple) and HTTP 400."""
        if isinstance(codes, str):
            codes = (codes,)
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        resp = cm.exception.response
        code = resp['Error']['Code']
        self.assertIn(code, codes, 'error %r: %s' % (code, resp['Error'].get('Message')))
        self.assertEqual(resp['ResponseMetadata']['HTTPStatusCode'], 400, 'HTTP status for %s' % code)
        modeled = getattr(self.c.exceptions, code, None)
        if modeled is not None:
            self.assertIsInstance(cm.exception, modeled)
        return cm.exception

    def assert_subscribe_error(self, codes, consumer_arn, shard=S0, position=None):
        return self.assert_error(codes, self.c.subscribe_to_shard, ConsumerARN=consumer_arn, ShardId=shard,
                                 StartingPosition=position or {'Type': 'LATEST'})


# ============================================================================== consumers (control)
class ConsumersTest(FanOutTestCase):
    """Register/Describe/List/Deregister, limits and errors, DeleteStream with consumers, restarts.
    A consumer stays CREATING for the first second (--status-delay-ms 1000)."""
    label = 'consumers'
    extra_args = ('--status-delay-ms', '1000')

    def test_register_describe_list_then_active(self):
        name, arn = self.new_stream()
        self.assertEqual(self.consumer_count(name), 0)
        c = self.register(arn, 'alpha', Tags={'team': 'e2e'})
        registered = time.time()
        self.assertEqual(set(c), {'ConsumerName', 'ConsumerARN', 'ConsumerStatus', 'ConsumerCreationTimestamp'})
        self.assertEqual((c['ConsumerName'], c['ConsumerStatus']), ('alpha', 'CREATING'))
        created = c['ConsumerCreationTimestamp']
        self.assertIsInstance(created, datetime.datetime)
        self.assertLess(abs(created.timestamp() - registered), 5, created)
        self.assertEqual(c['ConsumerARN'], '%s/consumer/alpha:%d' % (arn, int(created.timestamp())))
        # By ARN and by StreamARN + ConsumerName: the same description, with the StreamARN.
        by_arn = self.describe(ConsumerARN=c['ConsumerARN'])
        by_name = self.describe(StreamARN=arn, ConsumerName='alpha')
        self.assertEqual(by_arn, dict(c, StreamARN=arn))
        self.assertEqual(by_name, by_arn)
        self.assertEqual(self.list_all(arn), [c])
        self.assertEqual(self.consumer_count(name), 1)
        # Not ACTIVE yet: SubscribeToShard is refused.
        e = self.assert_subscribe_error('ResourceInUseException', c['ConsumerARN'])
        self.assertIn(c['ConsumerARN'], e.response['Error']['Message'])
        d = self.wait_active(c['ConsumerARN'])
        self.assertGreaterEqual(time.time(), created.timestamp() + 0.95, 'ACTIVE before --status-delay-ms passed')
        self.assertEqual(d, dict(c, StreamARN=arn, ConsumerStatus='ACTIVE'))
        self.assertEqual(self.list_all(arn), [dict(c, ConsumerStatus='ACTIVE')])
        # Now a subscription starts.
        record = self.put(name, b'hello')
        s = self.subscribe(c['ConsumerARN'], S0, 'TRIM_HORIZON')
        self.assertEqual([triple(r) for r in s.records(1)[0]], [record])

    def test_duplicate_name(self):
        name, arn = self.new_stream()
        c = self.register(arn, 'dup')
        e = self.assert_error('ResourceInUseException', self.register, arn, 'dup')
        self.assertIn('dup', e.response['Error']['Message'])
        self.assertEqual(self.list_all(arn), [c])
        self.assertEqual(self.consumer_count(name), 1)
        # The same name on another stream is another consumer.
        _, other = self.new_stream()
        c2 = self.register(other, 'dup')
        self.assertNotEqual(c2['ConsumerARN'], c['ConsumerARN'])
        self.assertTrue(c2['ConsumerARN'].startswith(other + '/consumer/dup:'), c2)

    def test_limit_of_20_and_pagination(self):
        name, arn = self.new_stream()
        names = ['c%02d' % i for i in range(20)]
        consumers = [self.register(arn, n) for n in names]
        e = self.assert_error('LimitExceededException', self.register, arn, 'c20')
        self.assertIn('20', e.response['Error']['Message'])
        self.assertEqual(self.consumer_count(name), 20)
        listed = self.list_all(arn)
        self.assertEqual([c['ConsumerName'] for c in listed], names)
        self.assertEqual([c['ConsumerARN'] for c in listed], [c['ConsumerARN'] for c in consumers])
        # MaxResults / NextToken: pages of 7, 7 and 6; the last without NextToken.
        pages, token = [], None
        for _ in range(10):
            kw = {'NextToken': token} if token else {}
            r = self.c.list_stream_consumers(StreamARN=arn, MaxResults=7, **kw)
            pages.append([c['ConsumerName'] for c in r['Consumers']])
            token = r.get('NextToken')
            if not token:
                break
        self.assertEqual([len(p) for p in pages], [7, 7, 6])
        self.assertEqual(sum(pages, []), names)
        r = self.c.list_stream_consumers(StreamARN=arn, MaxResults=20)
        self.assertEqual(([c['ConsumerName'] for c in r['Consumers']], r.get('NextToken')), (names, None))
        r = self.c.list_stream_consumers(StreamARN=arn, MaxResults=19)
        self.assertEqual([c['ConsumerName'] for c in r['Consumers']], names[:19])
        self.assertIn('NextToken', r)
        # Deregistering one makes room for another.
        self.c.deregister_stream_consumer(StreamARN=arn, ConsumerName='c05')
        self.assertEqual(self.consumer_count(name), 19)
        self.register(arn, 'c20')
        self.assertEqual([c['ConsumerName'] for c in self.list_all(arn)], sorted(set(names + ['c20']) - {'c05'}))
        self.assert_error('LimitExceededException', self.register, arn, 'c21')

    def test_deregister(self):
        name, arn = self.new_stream()
        a = self.register(arn, 'a')
        b = self.register(arn, 'b')
        self.assertEqual(self.c.deregister_stream_consumer(ConsumerARN=a['ConsumerARN'])['ResponseMetadata']
                         ['HTTPStatusCode'], 200)
        for kw in (dict(ConsumerARN=a['ConsumerARN']), dict(StreamARN=arn, ConsumerName='a')):
            with self.subTest(**kw):
                self.assert_error('ResourceNotFoundException', self.describe, **kw)
                self.assert_error('ResourceNotFoundException', self.c.deregister_stream_consumer, **kw)
        self.assertEqual([c['ConsumerName'] for c in self.list_all(arn)], ['b'])
        self.assertEqual(self.consumer_count(name), 1)
        # By StreamARN + ConsumerName.
        self.c.deregister_stream_consumer(StreamARN=arn, ConsumerName='b')
        self.assert_error('ResourceNotFoundException', self.describe, ConsumerARN=b['ConsumerARN'])
        self.assertEqual(self.list_all(arn), [])
        self.assertEqual(self.consumer_count(name), 0)
        # Registered again in a later second, the name is another consumer: the old ARN stays unknown.
        created = int(a['ConsumerCreationTimestamp'].timestamp())
        while int(time.time()) <= created:  # at most about a second
            time.sleep(0.05)
        again = self.register(arn, 'a')
        self.assertNotEqual(again['ConsumerARN'], a['ConsumerARN'])
        self.assertEqual(self.describe(StreamARN=arn, ConsumerName='a')['ConsumerARN'], again['ConsumerARN'])
        self.assert_error('ResourceNotFoundException', self.describe, ConsumerARN=a['ConsumerARN'])
        self.wait_active(again['ConsumerARN'])
        self.assert_subscribe_error('ResourceNotFoundException', a['ConsumerARN'])

    def test_errors(self):
        name, arn = self.new_stream()
        known = self.register(arn, 'known')['ConsumerARN']
        missing = arn + '/consumer/nobody:1700000000'
        wrong_second = known.rsplit(':', 1)[0] + ':1700000000'
        for fn, kw in [(self.describe, dict(ConsumerARN=missing)),
                       (self.describe, dict(ConsumerARN=wrong_second)),
                       (self.describe, dict(StreamARN=arn, ConsumerName='nobody')),
                       (self.c.deregister_stream_consumer, dict(ConsumerARN=missing)),
                       (self.c.deregister_stream_consumer, dict(StreamARN=arn, ConsumerName='nobody')),
                       (self.c.subscribe_to_shard, dict(ConsumerARN=missing, ShardId=S0,
                                                        StartingPosition={'Type': 'LATEST'})),
                       (self.c.subscribe_to_shard, dict(ConsumerARN=wrong_second, ShardId=S0,
                                                        StartingPosition={'Type': 'LATEST'}))]:
            with self.subTest(op=fn.__name__, **{k: v for k, v in kw.items() if k != 'StartingPosition'}):
                self.assert_error('ResourceNotFoundException', fn, **kw)
        # A stream that does not exist.
        gone = arn + '-gone'
        self.assert_error('ResourceNotFoundException', self.register, gone, 'x')
        self.assert_error('ResourceNotFoundException', self.c.list_stream_consumers, StreamARN=gone)
        self.assert_error('ResourceNotFoundException', self.describe, StreamARN=gone, ConsumerName='known')
        # Neither ConsumerARN nor both StreamARN and ConsumerName.
        for kw in ({}, dict(ConsumerName='known'), dict(StreamARN=arn)):
            with self.subTest(missing_arguments=kw):
                self.assert_error('InvalidArgumentException', self.describe, **kw)
                self.assert_error('InvalidArgumentException', self.c.deregister_stream_consumer, **kw)
        self.assertEqual(len(self.list_all(arn)), 1, 'the refusals changed nothing')
        # SubscribeToShard's own arguments.
        self.wait_active(known)
        self.assert_subscribe_error('ResourceNotFoundException', known, shard=shard_id(7))
        self.assert_subscribe_error('InvalidArgumentException', known, position={'Type': 'AT_SEQUENCE_NUMBER'})
        self.assert_subscribe_error('InvalidArgumentException', known, position={'Type': 'AFTER_SEQUENCE_NUMBER'})
        self.assert_subscribe_error('InvalidArgumentException', known, position={'Type': 'AT_TIMESTAMP'})
        self.assert_subscribe_error(('InvalidArgumentException', 'ValidationException'), known,
                                    position={'Type': 'SOMEWHERE'})
        # Refused calls do not hold the consumer's shard: a subscription starts at once.
        record = self.put(name, b'after refusals')
        s = self.subscribe(known, S0, 'TRIM_HORIZON')
        self.assertEqual([triple(r) for r in s.records(1)[0]], [record])

    def test_delete_stream_with_consumers(self):
        name, arn = self.new_stream()
        c = self.register(arn, 'keep')
        for kw in ({}, {'EnforceConsumerDeletion': False}):
            with self.subTest(**kw):
                self.assert_error('ResourceInUseException', self.c.delete_stream, StreamName=name, **kw)
        s = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
        self.assertEqual((s['StreamStatus'], s['ConsumerCount']), ('ACTIVE', 1))
        self.assertEqual(self.describe(ConsumerARN=c['ConsumerARN'])['ConsumerName'], 'keep')
        self.c.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        harness.wait_not_exists(self.c, name)
        self.assert_error('ResourceNotFoundException', self.describe, ConsumerARN=c['ConsumerARN'])
        # A stream of the same name starts without consumers.
        harness.create_stream(self.c, name, 1)
        self.assertEqual(self.list_all(arn), [])
        self.assertEqual(self.consumer_count(name), 0)
        self.assert_error('ResourceNotFoundException', self.describe, ConsumerARN=c['ConsumerARN'])
        # Consumers all deregistered: DeleteStream needs no EnforceConsumerDeletion.
        self.register(arn, 'brief')
        self.c.deregister_stream_consumer(StreamARN=arn, ConsumerName='brief')
        self.c.delete_stream(StreamName=name)
        harness.wait_not_exists(self.c, name)

    def test_consumers_survive_restarts(self):
        a_name, a_arn = self.new_stream(2)
        b_name, b_arn = self.new_stream(1)
        for n in ('one', 'two', 'three'):
            self.register(a_arn, n)
        solo = self.register(b_arn, 'solo')
        two = self.describe(StreamARN=a_arn, ConsumerName='two')
        self.c.deregister_stream_consumer(ConsumerARN=two['ConsumerARN'])
        record = self.put(a_name, b'before the restarts', hash_key=0)
        for c in self.list_all(a_arn) + [solo]:
            self.wait_active(c['ConsumerARN'])

        def snapshot():
            out = {}
            for arn in (a_arn, b_arn):
                listed = self.list_all(arn)
                out[arn] = (listed, [self.describe(ConsumerARN=c['ConsumerARN']) for c in listed])
            return out

        before = snapshot()
        self.assertEqual([c['ConsumerName'] for c in before[a_arn][0]], ['one', 'three'])
        self.assertEqual(before[b_arn][0], [dict(solo, ConsumerStatus='ACTIVE')])
        for how in ('sigterm', 'kill9'):
            with self.subTest(restart=how):
                if how == 'kill9':
                    self.server.kill9()
                    self.server.start()
                else:
                    self.server.restart()
                type(self).c = self.server.client(read_timeout=READ_TIMEOUT_S)
                harness.wait_exists(self.c, a_name)
                harness.wait_exists(self.c, b_name)
                self.assertEqual(snapshot(), before)
                self.assertEqual((self.consumer_count(a_name), self.consumer_count(b_name)), (2, 1))
                self.assert_error('ResourceNotFoundException', self.describe, ConsumerARN=two['ConsumerARN'])
                self.assert_error('ResourceInUseException', self.register, a_arn, 'one')
        # A consumer ARN from before the restarts subscribes and reads what was put before them.
        s = self.subscribe(before[a_arn][0][0]['ConsumerARN'], S0, 'TRIM_HORIZON')
        self.assertEqual([triple(r) for r in s.records(1)[0]], [record])


# =================================================================================== subscriptions
class SubscribeTest(FanOutTestCase):
    """Starting positions, order and exactness of delivered records, continuation, empty events."""
    label = 'subscribe'

    def test_trim_horizon_then_live_records(self):
        name, arn = self.new_stream(2)
        con = self.consumer(arn, 'reader')
        first0 = self.put_many(name, 6, b'first0', hash_key=0)
        first1 = self.put_many(name, 3, b'first1', hash_key=HALF)
        # The same consumer may read several shards at once.
        s0 = self.subscribe(con, S0, 'TRIM_HORIZON')
        s1 = self.subscribe(con, S1, 'TRIM_HORIZON')
        md = s0.metadata
        self.assertEqual(md['HTTPStatusCode'], 200)
        self.assertEqual(md['HTTPHeaders'].get('content-type'), 'application/vnd.amazon.eventstream')
        self.assertEqual(md['HTTPHeaders'].get('transfer-encoding'), 'chunked')
        got0, events0 = s0.records(6)
        self.assertEqual([triple(r) for r in got0], first0)
        self.assertEqual(events0[-1]['ContinuationSequenceNumber'], first0[-1][0])
        # Field for field what GetRecords gives.
        self.assertEqual([record_fields(r) for r in got0],
                         [record_fields(r) for r in harness.read_shard(self.c, name, S0)[0]])
        self.assertEqual([triple(r) for r in s1.records(3)[0]], first1)
        # Records put while subscribed arrive, in order, each on its shard's subscription only.
        live0 = self.put_many(name, 4, b'live0', hash_key=0)
        live1 = self.put_many(name, 2, b'live1', hash_key=HALF)
        self.assertEqual([triple(r) for r in s0.records(4)[0]], live0)
        self.assertEqual([triple(r) for r in s1.records(2)[0]], live1)
        sentinel = self.put(name, b'sentinel', hash_key=1)
        self.assertEqual([triple(r) for r in s0.records(1)[0]], [sentinel])

    def test_two_consumers_each_get_every_record(self):
        name, arn = self.new_stream()
        a, b = self.consumer(arn, 'a'), self.consumer(arn, 'b')
        before = self.put_many(name, 3, b'before')
        sa = self.subscribe(a, S0, 'TRIM_HORIZON')
        sb = self.subscribe(b, S0, 'TRIM_HORIZON')
        after = self.put_many(name, 3, b'after')
        self.assertEqual([triple(r) for r in sa.records(6)[0]], before + after)
        self.assertEqual([triple(r) for r in sb.records(6)[0]], before + after)

    def test_sequence_number_positions_and_resume(self):
        name, arn = self.new_stream()
        cons = [self.consumer(arn, 'c%d' % i) for i in range(4)]
        recs = self.put_many(name, 5, b'r')
        s = self.subscribe(cons[0], S0, 'TRIM_HORIZON')
        got, events = s.records(5)
        self.assertEqual([triple(r) for r in got], recs)
        cont = events[-1]['ContinuationSequenceNumber']
        self.assertEqual(cont, recs[-1][0])
        s.close()
        more = self.put_many(name, 3, b'more')
        # AFTER_SEQUENCE_NUMBER with the ContinuationSequenceNumber: exactly what came since.
        s = self.subscribe(cons[1], S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=cont)
        self.assertEqual([triple(r) for r in s.records(3)[0]], more)
        s = self.subscribe(cons[2], S0, 'AT_SEQUENCE_NUMBER', SequenceNumber=recs[2][0])
        self.assertEqual([triple(r) for r in s.records(6)[0]], recs[2:] + more)
        s = self.subscribe(cons[3], S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=recs[2][0])
        self.assertEqual([triple(r) for r in s.records(5)[0]], recs[3:] + more)

    def test_latest(self):
        name, arn = self.new_stream()
        con = self.consumer(arn, 'latest')
        self.put_many(name, 2, b'old')
        s = self.subscribe(con, S0, 'LATEST')
        new = self.put_many(name, 2, b'new')
        self.assertEqual([triple(r) for r in s.records(2)[0]], new)

    def test_at_timestamp(self):
        # boto3 sends timestamps in whole seconds: A goes into an earlier second than B and C.
        name, arn = self.new_stream()
        cons = [self.consumer(arn, 'c%d' % i) for i in range(4)]

        def next_second():
            time.sleep(1.05 - time.time() % 1)

        a = self.put(name, b'A')
        next_second()
        b, c = self.put(name, b'B'), self.put(name, b'C')
        stored = harness.read_shard(self.c, name, S0)[0]
        self.assertEqual([triple(r) for r in stored], [a, b, c])
        ts = [r['ApproximateArrivalTimestamp'] for r in stored]
        b_second = ts[1].replace(microsecond=0)
        self.assertGreater(b_second, ts[0])
        s = self.subscribe(cons[0], S0, 'AT_TIMESTAMP', Timestamp=b_second)
        self.assertEqual([triple(r) for r in s.records(2)[0]], [b, c])
        s = self.subscribe(cons[1], S0, 'AT_TIMESTAMP', Timestamp=datetime.datetime(2020, 1, 1, tzinfo=UTC))
        self.assertEqual([triple(r) for r in s.records(3)[0]], [a, b, c])
        # After the last record: nothing until a new one.
        after_c = ts[2].replace(microsecond=0) + datetime.timedelta(seconds=1)
        while datetime.datetime.now(UTC) < after_c + datetime.timedelta(milliseconds=50):
            time.sleep(0.05)
        s = self.subscribe(cons[2], S0, 'AT_TIMESTAMP', Timestamp=after_c)
        d = self.put(name, b'D')
        self.assertEqual([triple(r) for r in s.records(1)[0]], [d])
        # A timestamp in the future is refused, as GetShardIterator refuses it.
        self.assert_subscribe_error('InvalidArgumentException', cons[3], position={
            'Type': 'AT_TIMESTAMP', 'Timestamp': datetime.datetime.now(UTC) + datetime.timedelta(hours=1)})

    def test_empty_events_and_continuation_before_any_record(self):
        # An empty shard from TRIM_HORIZON and a non-empty one from LATEST: nothing to deliver, so
        # within about 5 s an empty event whose ContinuationSequenceNumber resumes exactly there.
        empty, empty_arn = self.new_stream()
        full, full_arn = self.new_stream()
        self.put_many(full, 2, b'old')  # before LATEST: never delivered
        e1, e2 = self.consumer(empty_arn, 'e1'), self.consumer(empty_arn, 'e2')
        f1, f2 = self.consumer(full_arn, 'f1'), self.consumer(full_arn, 'f2')
        se = self.subscribe(e1, S0, 'TRIM_HORIZON')
        sf = self.subscribe(f1, S0, 'LATEST')
        quiet = {}
        for what, s in (('empty', se), ('full', sf)):
            e, at = s.event(timeout=HEARTBEAT_S + 3, with_time=True)
            self.assertEqual((e['Records'], e['MillisBehindLatest']), ([], 0), what)
            self.assertLessEqual(at - s.responded, HEARTBEAT_S + 2, '%s: first empty event late' % what)
            quiet[what] = e['ContinuationSequenceNumber']
        new_e = self.put_many(empty, 3, b'e')
        new_f = self.put_many(full, 2, b'f')
        self.assertEqual([triple(r) for r in se.records(3)[0]], new_e)
        self.assertEqual([triple(r) for r in sf.records(2)[0]], new_f)
        s = self.subscribe(e2, S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=quiet['empty'])
        self.assertEqual([triple(r) for r in s.records(3)[0]], new_e)
        s = self.subscribe(f2, S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=quiet['full'])
        self.assertEqual([triple(r) for r in s.records(2)[0]], new_f)

    def test_backlog_of_400_records(self):
        name, arn = self.new_stream()
        con = self.consumer(arn, 'backlog')
        want = []
        for batch in range(4):
            entries = [{'Data': bytes([batch, i % 256]) * 300, 'PartitionKey': 'b%d-%d' % (batch, i)}
                       for i in range(100)]
            r = self.c.put_records(StreamName=name, Records=entries)
            self.assertEqual(r['FailedRecordCount'], 0)
            want += [(x['SequenceNumber'], e['Data'], e['PartitionKey']) for x, e in zip(r['Records'], entries)]
        s = self.subscribe(con, S0, 'TRIM_HORIZON')
        got, events = s.records(400, timeout=20)
        self.assertEqual([triple(r) for r in got], want)
        self.assertEqual(events[-1]['MillisBehindLatest'], 0)
        self.assertEqual(events[-1]['ContinuationSequenceNumber'], want[-1][0])

    def test_event_stream_messages(self):
        # The frames themselves, without boto3: initial-response first (an empty JSON object), then
        # SubscribeToShardEvents, each with the AWS event stream headers.
        name, arn = self.new_stream()
        con = self.consumer(arn, 'raw')
        rec = self.put(name, b'framed', 'k')
        with RawSubscription(self.server, con, S0, {'Type': 'TRIM_HORIZON'}, content_type=harness.JSON_CT) as sub:
            self.assertEqual(sub.status, 200, sub.error_body)
            self.assertEqual(sub.headers.get('content-type'), 'application/vnd.amazon.eventstream')
            self.assertEqual(sub.headers.get('transfer-encoding'), 'chunked')
            first = sub.message()
            self.assertEqual(first.headers, {':message-type': 'event', ':event-type': 'initial-response',
                                             ':content-type': harness.JSON_CT})
            self.assertEqual(json.loads(first.payload), {})
            m = sub.message()
            self.assertEqual(m.headers, {':message-type': 'event', ':event-type': 'SubscribeToShardEvent',
                                         ':content-type': harness.JSON_CT})
            e = json.loads(m.payload)
            self.assertEqual([(r['SequenceNumber'], base64.b64decode(r['Data']), r['PartitionKey'])
                              for r in e['Records']], [rec])
            self.assertEqual((e['ContinuationSequenceNumber'], e['MillisBehindLatest']), (rec[0], 0))
            self.assertIsInstance(e['Records'][0]['ApproximateArrivalTimestamp'], (int, float))

    def test_cbor_subscription(self):
        # The Java SDK's protocol: request and every event payload in CBOR.
        name, arn = self.new_stream()
        con = self.consumer(arn, 'java')
        recs = [self.put(name, bytes(range(256)), 'bin'), self.put(name, b'', 'empty-data'),
                self.put(name, b'text', 'k')]
        stored = harness.read_shard(self.c, name, S0)[0]
        with RawSubscription(self.server, con, S0, {'Type': 'TRIM_HORIZON'}) as sub:
            self.assertEqual(sub.status, 200, sub.error_body)
            self.assertEqual(sub.headers.get('content-type'), 'application/vnd.amazon.eventstream')
            first = sub.message()
            self.assertEqual(first.headers.get(':message-type'), 'event')
            self.assertEqual(first.headers.get(':event-type'), 'initial-response')
            self.assertEqual(cbor_decode(first.payload), {})
            got, last = [], None
            deadline = time.monotonic() + WAIT_S
            while len(got) < 3:
                m = sub.message(deadline - time.monotonic())
                self.assertEqual(m.headers.get(':message-type'), 'event', m.headers)
                self.assertEqual(m.headers.get(':event-type'), 'SubscribeToShardEvent')
                self.assertEqual(m.headers.get(':content-type'), CBOR_CT)
                last = cbor_decode(m.payload)
                self.assertIsInstance(last['MillisBehindLatest'], int)
                got += last['Records']
            self.assertEqual([(r['SequenceNumber'], r['Data'], r['PartitionKey']) for r in got], recs)
            self.assertEqual(last['ContinuationSequenceNumber'], recs[-1][0])
            self.assertEqual([cbor_millis(r['ApproximateArrivalTimestamp']) for r in got],
                             [round(r['ApproximateArrivalTimestamp'].timestamp() * 1000) for r in stored])
            new = self.put(name, b'live', 'k')
            m = sub.message()
            self.assertEqual(m.headers.get(':event-type'), 'SubscribeToShardEvent')
            ev = cbor_decode(m.payload)
            self.assertEqual([(r['SequenceNumber'], r['Data'], r['PartitionKey']) for r in ev['Records']], [new])
        # A refusal over CBOR is a CBOR error body.
        with RawSubscription(self.server, arn + '/consumer/nobody:1700000000', S0, {'Type': 'LATEST'}) as sub:
            self.assertEqual(sub.status, 400)
            self.assertEqual(harness.error_type(cbor_decode(sub.error_body)), 'ResourceNotFoundException')


# ===================================================================================== push (signal)
class PushTest(FanOutTestCase):
    """--fanout-look-ms 60000: an unwoken subscription looks at its shard only once a minute, so
    records arriving within seconds prove the append signal pushes them."""
    label = 'push'
    extra_args = ('--fanout-look-ms', '60000')

    def test_records_are_pushed_when_appended(self):
        name, arn = self.new_stream(2)
        con = self.consumer(arn, 'pushed')
        early = self.put(name, b'early', hash_key=0)
        s = self.subscribe(con, S0, 'TRIM_HORIZON')
        other = self.subscribe(con, S1, 'TRIM_HORIZON')
        # What is there is sent at once, without waiting for a look.
        self.assertEqual([triple(r) for r in s.records(1)[0]], [early])
        time.sleep(max(0.0, s.responded + 1.0 - time.monotonic()))
        put_at = time.monotonic()
        late = self.put(name, b'late, 1 s after subscribing', hash_key=0)
        got, events = s.records(1, timeout=10)
        self.assertEqual([triple(r) for r in got], [late])
        # A batch, and records on the other shard (its own subscription is woken, not this one).
        batch = self.put_many(name, 3, b'batch', hash_key=1)
        self.assertEqual([triple(r) for r in s.records(3, timeout=10)[0]], batch)
        self.assertLess(time.monotonic() - put_at, 30, 'delivery paced by a look, not pushed')
        # The flag is in effect: the idle subscription on S1 has not looked (its empty events are
        # paced by the look) in over 5 s.
        time.sleep(max(0.0, other.responded + HEARTBEAT_S + 1.5 - time.monotonic()))
        self.assertTrue(other.queue.empty(), 'an idle subscription sent an event: is --fanout-look-ms ignored?')
        on_s1 = self.put_many(name, 2, b'other shard', hash_key=HALF)
        self.assertEqual([triple(r) for r in other.records(2, timeout=10)[0]], on_s1)

    def test_push_after_resume_from_continuation(self):
        name, arn = self.new_stream()
        a, b = self.consumer(arn, 'a'), self.consumer(arn, 'b')
        first = self.put(name, b'first')
        s = self.subscribe(a, S0, 'TRIM_HORIZON')
        got, events = s.records(1)
        self.assertEqual([triple(r) for r in got], [first])
        r = self.subscribe(b, S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=events[-1]['ContinuationSequenceNumber'])
        time.sleep(1.0)
        second = self.put(name, b'second')
        self.assertEqual([triple(x) for x in r.records(1, timeout=10)[0]], [second])
        self.assertEqual([triple(x) for x in s.records(1, timeout=10)[0]], [second])


# ============================================================= takeover, deregistration, resharding
class TakeoverTest(FanOutTestCase):
    """The 5 s rule and takeover, deregistration ending subscriptions, ChildShards of closed shards."""
    label = 'takeover'

    def test_refused_within_5_s_then_taken_over(self):
        name, arn = self.new_stream(2)
        con = self.consumer(arn, 'owner')
        other = self.consumer(arn, 'other')
        r1 = self.put(name, b'r1', hash_key=0)
        first = self.subscribe(con, S0, 'TRIM_HORIZON')
        self.assertEqual([triple(r) for r in first.records(1)[0]], [r1])
        # Within 5 s of a successful subscription: refused, whatever the starting position.
        for pos in ({'Type': 'LATEST'}, {'Type': 'TRIM_HORIZON'},
                    {'Type': 'AFTER_SEQUENCE_NUMBER', 'SequenceNumber': r1[0]}):
            with self.subTest(**pos):
                self.assert_subscribe_error('ResourceInUseException', con, S0, pos)
        # Another shard of the same consumer, and the same shard for another consumer, are free.
        self.subscribe(con, S1, 'LATEST')
        watcher = self.subscribe(other, S0, 'LATEST')
        # Quiet: an empty event within about 5 s, still continuing after r1.
        hb = first.event(timeout=HEARTBEAT_S + 3)
        self.assertEqual((hb['Records'], hb['ContinuationSequenceNumber']), ([], r1[0]))
        time.sleep(max(0.0, first.started + TAKE_OVER_S + 0.3 - time.monotonic()))
        # 5 s later a new subscription takes over; the old one gets ResourceInUseException and ends.
        second = self.subscribe(con, S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=hb['ContinuationSequenceNumber'])
        first.error('ResourceInUseException', timeout=5)
        r2 = self.put(name, b'r2', hash_key=0)
        self.assertEqual([triple(r) for r in second.records(1)[0]], [r2])
        self.assertEqual([triple(r) for r in watcher.records(1)[0]], [r2])
        self.assertTrue(first.queue.empty(), 'the old subscription went on after its exception event')
        self.assertFalse(first.thread.is_alive(), 'the old subscription did not end')
        # The new subscription is a successful one: within 5 s of it, refused again.
        self.assert_subscribe_error('ResourceInUseException', con, S0)

    def test_deregistering_ends_subscriptions(self):
        name, arn = self.new_stream(2)
        con = self.consumer(arn, 'leaving')
        stays = self.consumer(arn, 'staying')
        r = self.put(name, b'r', hash_key=0)
        s0 = self.subscribe(con, S0, 'TRIM_HORIZON')
        s1 = self.subscribe(con, S1, 'TRIM_HORIZON')
        kept = self.subscribe(stays, S0, 'TRIM_HORIZON')
        self.assertEqual([triple(x) for x in s0.records(1)[0]], [r])
        self.assertEqual([triple(x) for x in kept.records(1)[0]], [r])
        self.c.deregister_stream_consumer(ConsumerARN=con)
        s0.error('ResourceNotFoundException', timeout=5)
        s1.error('ResourceNotFoundException', timeout=5)
        self.assert_subscribe_error('ResourceNotFoundException', con, S1)
        # Another consumer's subscription goes on.
        r2 = self.put(name, b'r2', hash_key=0)
        self.assertEqual([triple(x) for x in kept.records(1)[0]], [r2])

    def test_child_shards_after_split_and_merge(self):
        name, arn = self.new_stream(1)
        a, b, c = (self.consumer(arn, n) for n in ('a', 'b', 'c'))
        before = self.put_many(name, 3, b'before')
        live = self.subscribe(a, S0, 'TRIM_HORIZON')
        self.assertEqual([triple(r) for r in live.records(3)[0]], before)
        self.c.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey=str(HALF))
        harness.wait_exists(self.c, name)
        low = self.put(name, b'low child', hash_key=0)
        high = self.put(name, b'high child', hash_key=HALF)
        split_children = [
            {'ShardId': S1, 'ParentShards': [S0],
             'HashKeyRange': {'StartingHashKey': '0', 'EndingHashKey': str(HALF - 1)}},
            {'ShardId': S2, 'ParentShards': [S0],
             'HashKeyRange': {'StartingHashKey': str(HALF), 'EndingHashKey': str(MAX_HASH_KEY)}}]
        # The open subscription: a last event with ChildShards and no ContinuationSequenceNumber, then the end.
        rest, last = live.until_child_shards()
        self.assertEqual(rest, [])
        self.assertEqual(last['ChildShards'], split_children)
        live.end(timeout=5)
        # The same as GetRecords gives at the closed shard's end.
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0, ShardIteratorType='LATEST')['ShardIterator']
        for _ in range(20):
            g = self.c.get_records(ShardIterator=it)
            if 'NextShardIterator' not in g:
                break
            it = g['NextShardIterator']
        self.assertEqual(g.get('ChildShards'), split_children)
        # A new subscription to the closed shard reads it to its end, then ChildShards, then the end.
        closed = self.subscribe(b, S0, 'TRIM_HORIZON')
        got, last = closed.until_child_shards()
        self.assertEqual([triple(r) for r in got], before)
        self.assertEqual(last['ChildShards'], split_children)
        closed.end(timeout=5)
        # Even from a position after its last record.
        after_last = self.subscribe(c, S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=before[-1][0])
        got, last = after_last.until_child_shards()
        self.assertEqual((got, last['ChildShards']), ([], split_children))
        after_last.end(timeout=5)
        # The children are read like any shard; merging them closes both with one child.
        low_sub = self.subscribe(a, S1, 'TRIM_HORIZON')
        self.assertEqual([triple(r) for r in low_sub.records(1)[0]], [low])
        self.c.merge_shards(StreamName=name, ShardToMerge=S1, AdjacentShardToMerge=S2)
        harness.wait_exists(self.c, name)
        merged = [{'ShardId': S3, 'ParentShards': [S1, S2],
                   'HashKeyRange': {'StartingHashKey': '0', 'EndingHashKey': str(MAX_HASH_KEY)}}]
        rest, last = low_sub.until_child_shards()
        self.assertEqual((rest, last['ChildShards']), ([], merged))
        low_sub.end(timeout=5)
        high_sub = self.subscribe(b, S2, 'TRIM_HORIZON')
        got, last = high_sub.until_child_shards()
        self.assertEqual(([triple(r) for r in got], last['ChildShards']), ([high], merged))
        high_sub.end(timeout=5)
        top = self.put(name, b'merged', hash_key=5)
        s3 = self.subscribe(c, S3, 'TRIM_HORIZON')
        self.assertEqual([triple(r) for r in s3.records(1)[0]], [top])


# ========================================================================== the subscription's length
class SubscriptionLengthTest(FanOutTestCase):
    """--fanout-subscription-ms 3000: a subscription ends after 3 s (5 minutes on AWS), without an
    exception event; the client subscribes again and continues where it was."""
    label = 'length'
    extra_args = ('--fanout-subscription-ms', '3000')

    def test_subscription_ends_after_its_length(self):
        name, arn = self.new_stream(2)
        con = self.consumer(arn, 'short')
        idle_con = self.consumer(arn, 'idle')
        r1 = self.put(name, b'r1', hash_key=0)
        s = self.subscribe(con, S0, 'TRIM_HORIZON')
        idle = self.subscribe(idle_con, S1, 'TRIM_HORIZON')
        self.assertEqual([triple(r) for r in s.records(1)[0]], [r1])
        r2 = self.put(name, b'r2', hash_key=0)
        got, events = s.records(1)
        self.assertEqual([triple(r) for r in got], [r2])
        cont = events[-1]['ContinuationSequenceNumber']
        for what, sub in (('reading', s), ('idle', idle)):
            ended = sub.end(timeout=8)
            self.assertGreaterEqual(ended - sub.started, 2.5, '%s: ended before 3 s' % what)
            self.assertLessEqual(ended - sub.responded, 3.0 + 2.5, '%s: did not end about 3 s in' % what)
        # Subscribing again (5 s after the last successful call) continues exactly after r2.
        r3 = self.put(name, b'r3', hash_key=0)
        time.sleep(max(0.0, s.started + TAKE_OVER_S + 0.3 - time.monotonic()))
        again = self.subscribe(con, S0, 'AFTER_SEQUENCE_NUMBER', SequenceNumber=cont)
        self.assertEqual([triple(r) for r in again.records(1)[0]], [r3])
        again.end(timeout=8)


# ============================================================================ CBOR (Java SDK) helpers
class CborTag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __repr__(self):
        return 'CborTag(%d, %r)' % (self.tag, self.value)


def cbor_encode(v):
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for ai, fmt, limit in ((24, '>B', 0xff), (25, '>H', 0xffff), (26, '>I', 0xffffffff), (27, '>Q', 2 ** 64 - 1)):
            if n <= limit:
                return bytes([major << 5 | ai]) + struct.pack(fmt, n)
        raise ValueError(n)
    if v is None:
        return b'\xf6'
    if v is True or v is False:
        return b'\xf5' if v else b'\xf4'
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        return b'\xfb' + struct.pack('>d', v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode('utf-8')
        return head(3, len(b)) + b
    if isinstance(v, (list, tuple)):
        return head(4, len(v)) + b''.join(cbor_encode(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b''.join(cbor_encode(k) + cbor_encode(x) for k, x in v.items())
    raise TypeError(type(v))


def cbor_decode(data):
    value, end = _cbor_item(bytes(data), 0)
    if end != len(data):
        raise ValueError('%d bytes after the CBOR item' % (len(data) - end))
    return value


_BREAK = object()


def _cbor_item(d, i):
    ib = d[i]
    major, ai = ib >> 5, ib & 31
    i += 1
    if major == 7:
        simple = {20: False, 21: True, 22: None, 23: None}
        if ai in simple:
            return simple[ai], i
        if ai in (25, 26, 27):
            fmt, size = {25: ('>e', 2), 26: ('>f', 4), 27: ('>d', 8)}[ai]
            return struct.unpack(fmt, d[i:i + size])[0], i + size
        if ai == 31:
            return _BREAK, i
        raise ValueError('CBOR simple value %d' % ai)
    if ai == 31:  # indefinite length
        items = []
        while True:
            x, i = _cbor_item(d, i)
            if x is _BREAK:
                break
            items.append(x)
        if major == 2:
            return b''.join(items), i
        if major == 3:
            return ''.join(items), i
        if major == 4:
            return items, i
        if major == 5:
            return dict(zip(items[::2], items[1::2])), i
        raise ValueError('indefinite length for major type %d' % major)
    if ai < 24:
        n = ai
    elif ai <= 27:
        size = 1 << (ai - 24)
        n = int.from_bytes(d[i:i + size], 'big')
        i += size
    else:
        raise ValueError('CBOR additional information %d' % ai)
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major == 2:
        return d[i:i + n], i + n
    if major == 3:
        return d[i:i + n].decode('utf-8'), i + n
    if major == 4:
        out = []
        for _ in range(n):
            x, i = _cbor_item(d, i)
            out.append(x)
        return out, i
    if major == 5:
        out = {}
        for _ in range(n):
            k, i = _cbor_item(d, i)
            out[k], i = _cbor_item(d, i)
        return out, i
    x, i = _cbor_item(d, i)
    return CborTag(n, x), i


def cbor_millis(value):
    """A CBOR timestamp from the server: epoch milliseconds (the Java SDK's form), in tag 1 or not."""
    if isinstance(value, CborTag):
        assert value.tag == 1, value
        value = value.value
    assert isinstance(value, int) and not isinstance(value, bool), repr(value)
    return value


class RawSubscription:
    """SubscribeToShard over HTTP/1.1 without an SDK, SigV4-signed: in CBOR as the Java SDK sends it
    (content_type CBOR_CT), or in JSON. message() parses the event stream with botocore's
    EventStreamBuffer (prelude and message CRCs checked)."""

    def __init__(self, server, consumer_arn, shard, position, content_type=CBOR_CT):
        request = {'ConsumerARN': consumer_arn, 'ShardId': shard, 'StartingPosition': position}
        body = cbor_encode(request) if content_type == CBOR_CT else json.dumps(request).encode()
        hdrs = {'Content-Type': content_type, 'X-Amz-Target': harness.TARGET_PREFIX + 'SubscribeToShard',
                'Host': server.host_header}
        hdrs.update(harness.sigv4_headers('POST', '/', '', hdrs, body, harness.ACCESS_KEY, harness.SECRET_KEY,
                                          harness.REGION, 'kinesis'))
        self.conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=WAIT_S)
        self.conn.putrequest('POST', '/', skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            self.conn.putheader(k, v)
        self.conn.putheader('Content-Length', str(len(body)))
        self.conn.endheaders()
        self.conn.send(body)
        self.sock = self.conn.sock  # http.client lets go of it when the response says Connection: close
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.error_body = self.resp.read() if self.status != 200 else b''
        self.buffer = EventStreamBuffer()
        self.pending = []

    def message(self, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError('no event stream message within %.1f s' % timeout)
            self.sock.settimeout(remaining)
            chunk = self.resp.read1(65536)
            if not chunk:
                raise AssertionError('the event stream ended')
            self.buffer.add_data(chunk)
            self.pending.extend(self.buffer)
        return self.pending.pop(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.resp.close()
        self.conn.close()


if __name__ == '__main__':
    unittest.main()
