"""End-to-end tests of eddy's enhanced fan-out through unmodified boto3: RegisterStreamConsumer,
DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer and SubscribeToShard, whose
answer boto3 reads as an AWS event stream (HTTP/1.1 chunked) with its own EventStream class.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kinesis_fanout
Time-dependent behaviour (push, takeovers, the end of a subscription) is in
test_kinesis_fanout_push; the helpers in fanout_util. Needs a botocore that models SubscribeToShard (the pyenv python3's botocore 1.43 does). Each class
starts its own server (port 0, private data dir), so classes can run in parallel; the server flags
differ per class: --status-delay-ms (consumers stay CREATING for a while), --fanout-look-ms 60000
(a subscription only learns of new records from the append signal), --fanout-subscription-ms 3000
(subscriptions end after 3 s instead of 5 minutes).

Every wait is bounded: a subscription is read by a thread into a queue, and each expected event,
error or end is awaited with a timeout (WAIT_S unless told otherwise).
"""

import base64
import datetime
import json
import time
import unittest

import harness
from harness import CBOR_CT, shard_id
from fanout_util import (FanOutTestCase, HALF, HEARTBEAT_S, READ_TIMEOUT_S, RawSubscription, S0, S1, UTC,
                         WAIT_S, cbor_decode, cbor_millis, record_fields, triple)


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


if __name__ == '__main__':
    unittest.main()
