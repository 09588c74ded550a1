"""What the enhanced fan-out tests share (test_kinesis_fanout, test_kinesis_fanout_push): a
subscription read by a thread into a queue with every event checked as it comes, the servers' test
case, and a small CBOR codec with raw event-stream subscriptions for the CBOR protocol."""

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
from harness import CBOR_CT, SEQ_RE, shard_id
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
