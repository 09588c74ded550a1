"""End-to-end tests of enhanced fan-out over time, through unmodified boto3: records pushed when
appended (not polled), takeovers and refusals within 5 s, deregistration ending subscriptions,
ChildShards at a closed shard's end, and the end of a subscription after its length. Consumers and
the starting positions are in test_kinesis_fanout; the helpers in fanout_util.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kinesis_fanout_push
Each class starts its own server with its own flags: --fanout-look-ms 60000 (a subscription only
learns of new records from the append signal), --fanout-subscription-ms 3000 (subscriptions end
after 3 s instead of 5 minutes). Every wait is bounded.
"""

import time
import unittest

import harness
from harness import MAX_HASH_KEY
from fanout_util import FanOutTestCase, HALF, HEARTBEAT_S, S0, S1, S2, S3, TAKE_OVER_S, triple


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


if __name__ == '__main__':
    unittest.main()
