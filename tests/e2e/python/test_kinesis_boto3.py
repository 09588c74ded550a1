"""End-to-end tests of eddy's Kinesis Data Streams API through unmodified boto3.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kinesis_boto3
Each class starts its own server (port 0, private data dir), so files and classes can run in
parallel.
"""

import base64
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import tempfile
import time
import unittest

from botocore.exceptions import ClientError

import harness
from harness import MAX_HASH_KEY, SEQ_RE, shard_id

UTC = datetime.timezone.utc
S0, S1, S2, S3, S4 = (shard_id(i) for i in range(5))
HALF = 2 ** 127  # first hash key of shard 1 of 2


def now_utc():
    return datetime.datetime.now(UTC)


class ServerTestCase(unittest.TestCase):
    extra_args = ()
    label = 'boto3'

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(cls.extra_args, label=cls.label).start()
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    # -------------------------------------------------------------------------------- helpers
    def new_stream(self, shards=1, prefix=None, **kw):
        name = harness.unique_name(prefix or self._testMethodName.replace('_', '-')[:40])
        if kw:  # e.g. Tags, which botocore < 1.35.26 does not model: harness.call sends it raw
            self.call('CreateStream', StreamName=name, ShardCount=shards, **kw)
            harness.wait_exists(self.c, name)
        else:
            harness.create_stream(self.c, name, shards)
        return name

    def call(self, operation, **params):
        """self.c's `operation` through boto3, or as raw JSON where this botocore's model lacks the
        operation or a parameter (harness.call)."""
        return harness.call(self.server, self.c, operation, **params)

    def assert_error(self, codes, fn, *args, **kw):
        """Calls fn expecting a ClientError whose code is `codes` (a str or a tuple) and HTTP 400."""
        if isinstance(codes, str):
            codes = (codes,)
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        resp = cm.exception.response
        code = resp['Error']['Code']
        self.assertIn(code, codes, 'error %r: %s' % (code, resp['Error'].get('Message')))
        self.assertEqual(resp['ResponseMetadata']['HTTPStatusCode'], 400,
                         'HTTP status for %s' % code)
        modeled = getattr(self.c.exceptions, code, None)
        if modeled is not None:
            self.assertIsInstance(cm.exception, modeled)
        return cm.exception

    def assert_seq(self, seq):
        self.assertIsInstance(seq, str)
        self.assertRegex(seq, SEQ_RE)

    def assert_recent(self, ts, slack_s=300):
        self.assertIsInstance(ts, datetime.datetime)
        self.assertIsNotNone(ts.tzinfo)
        self.assertLess(abs((now_utc() - ts).total_seconds()), slack_s, ts)

    def shards_by_id(self, name):
        return {s['ShardId']: s for s in harness.all_shards(self.c, name)}

    def read(self, name, shard, **kw):
        return harness.read_shard(self.c, name, shard, **kw)[0]

    def read_closed(self, name, shard, max_calls=200):
        """Reads a closed shard from TRIM_HORIZON until NextShardIterator disappears."""
        it = self.c.get_shard_iterator(StreamName=name, ShardId=shard,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        records = []
        for _ in range(max_calls):
            resp = self.c.get_records(ShardIterator=it)
            records.extend(resp['Records'])
            it = resp.get('NextShardIterator')
            if not it:
                return records, resp
        self.fail('closed shard %s never returned a response without NextShardIterator' % shard)


def expected_shard(key, ranges):
    for i, (lo, hi) in enumerate(ranges):
        if lo <= key <= hi:
            return shard_id(i)
    raise AssertionError(key)


# =================================================================================== operations
class StreamLifecycleTest(ServerTestCase):
    label = 'lifecycle'

    def test_create_provisioned_and_describe(self):
        before = now_utc()
        name = self.new_stream(2)
        d = self.c.describe_stream(StreamName=name)['StreamDescription']
        self.assertEqual(d['StreamName'], name)
        self.assertRegex(d['StreamARN'], r'^arn:aws:kinesis:[a-z0-9-]+:\d{12}:stream/%s$'
                         % re.escape(name))
        self.assertEqual(d['StreamStatus'], 'ACTIVE')
        self.assertEqual(d['RetentionPeriodHours'], 24)
        self.assertIs(d['HasMoreShards'], False)
        self.assertEqual(d.get('StreamModeDetails', {}).get('StreamMode'), 'PROVISIONED')
        self.assertIsInstance(d['EnhancedMonitoring'], list)
        self.assert_recent(d['StreamCreationTimestamp'])
        self.assertGreaterEqual(d['StreamCreationTimestamp'],
                                before.replace(microsecond=0) - datetime.timedelta(seconds=1))
        self.assertEqual([s['ShardId'] for s in d['Shards']], [S0, S1])
        self.assertEqual(d['Shards'][0]['HashKeyRange'],
                         {'StartingHashKey': '0',
                          'EndingHashKey': '170141183460469231731687303715884105727'})
        self.assertEqual(d['Shards'][1]['HashKeyRange'],
                         {'StartingHashKey': '170141183460469231731687303715884105728',
                          'EndingHashKey': '340282366920938463463374607431768211455'})
        for s in d['Shards']:
            self.assert_seq(s['SequenceNumberRange']['StartingSequenceNumber'])
            self.assertNotIn('EndingSequenceNumber', s['SequenceNumberRange'])
            self.assertNotIn('ParentShardId', s)
            self.assertNotIn('AdjacentParentShardId', s)

    def test_create_stream_even_hash_ranges(self):
        name = self.new_stream(3)
        shards = self.c.describe_stream(StreamName=name)['StreamDescription']['Shards']
        got = [(int(s['HashKeyRange']['StartingHashKey']), int(s['HashKeyRange']['EndingHashKey']))
               for s in shards]
        self.assertEqual(got, harness.even_ranges(3))

    def test_describe_stream_returns_at_most_100_shards(self):
        name = self.new_stream(120)
        for kw in ({}, {'Limit': 10000}):
            d = self.c.describe_stream(StreamName=name, **kw)['StreamDescription']
            self.assertEqual(len(d['Shards']), 100, kw)
            self.assertIs(d['HasMoreShards'], True)
            self.assertEqual(d['Shards'][-1]['ShardId'], shard_id(99))
        d = self.c.describe_stream(StreamName=name, ExclusiveStartShardId=shard_id(99))[
            'StreamDescription']
        self.assertEqual([s['ShardId'] for s in d['Shards']], [shard_id(i) for i in range(100, 120)])
        self.assertIs(d['HasMoreShards'], False)
        # ListShards returns up to 1000 by default.
        r = self.c.list_shards(StreamName=name)
        self.assertEqual(len(r['Shards']), 120)
        self.assertNotIn('NextToken', r)
        self.assertEqual(self.c.describe_stream_summary(StreamName=name)[
            'StreamDescriptionSummary']['OpenShardCount'], 120)

    def test_describe_stream_summary(self):
        name = self.new_stream(3)
        s = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
        self.assertEqual(s['StreamName'], name)
        self.assertEqual(s['StreamStatus'], 'ACTIVE')
        self.assertEqual(s['OpenShardCount'], 3)
        self.assertEqual(s['RetentionPeriodHours'], 24)
        self.assertEqual(s.get('StreamModeDetails', {}).get('StreamMode'), 'PROVISIONED')
        self.assertIsInstance(s['EnhancedMonitoring'], list)
        self.assertEqual(s.get('ConsumerCount', 0), 0)
        self.assert_recent(s['StreamCreationTimestamp'])
        d = self.c.describe_stream(StreamName=name)['StreamDescription']
        self.assertEqual(s['StreamARN'], d['StreamARN'])

    def test_create_with_tags(self):
        name = self.new_stream(1, Tags={'team': 'data', 'env': 'e2e'})
        tags = self.c.list_tags_for_stream(StreamName=name)['Tags']
        self.assertEqual({t['Key']: t['Value'] for t in tags}, {'team': 'data', 'env': 'e2e'})

    def test_on_demand_stream(self):
        name = harness.unique_name('ondemand')
        self.c.create_stream(StreamName=name, StreamModeDetails={'StreamMode': 'ON_DEMAND'})
        harness.wait_exists(self.c, name)
        s = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
        self.assertEqual(s['StreamModeDetails'], {'StreamMode': 'ON_DEMAND'})
        self.assertGreaterEqual(s['OpenShardCount'], 1)
        shards = harness.all_shards(self.c, name)
        self.assertEqual(len(shards), s['OpenShardCount'])
        # The open shards cover the whole hash-key space without gaps.
        ranges = sorted((int(x['HashKeyRange']['StartingHashKey']),
                         int(x['HashKeyRange']['EndingHashKey'])) for x in shards)
        self.assertEqual(ranges[0][0], 0)
        self.assertEqual(ranges[-1][1], MAX_HASH_KEY)
        for (a, b), (c, _) in zip(ranges, ranges[1:]):
            self.assertEqual(b + 1, c)
        r = self.c.put_record(StreamName=name, Data=b'on-demand', PartitionKey='k')
        got = self.read(name, r['ShardId'])
        self.assertEqual([(x['Data'], x['SequenceNumber']) for x in got],
                         [(b'on-demand', r['SequenceNumber'])])
        # Resharding an ON_DEMAND stream is refused (kinesis-api.md section 2, ValidationException).
        self.assert_error('ValidationException', self.c.update_shard_count, StreamName=name,
                          TargetShardCount=8, ScalingType='UNIFORM_SCALING')

    def test_describe_stream_paging(self):
        name = self.new_stream(5)
        ids, start, pages = [], None, 0
        while True:
            kw = {'StreamName': name, 'Limit': 2}
            if start:
                kw['ExclusiveStartShardId'] = start
            d = self.c.describe_stream(**kw)['StreamDescription']
            pages += 1
            self.assertLessEqual(len(d['Shards']), 2)
            ids.extend(s['ShardId'] for s in d['Shards'])
            if not d['HasMoreShards']:
                break
            self.assertEqual(len(d['Shards']), 2)
            start = d['Shards'][-1]['ShardId']
            self.assertLess(pages, 10)
        self.assertEqual(ids, [shard_id(i) for i in range(5)])
        self.assertEqual(pages, 3)
        # boto3's own paginator (ExclusiveStartShardId / HasMoreShards).
        pg = self.c.get_paginator('describe_stream')
        pages = list(pg.paginate(StreamName=name, PaginationConfig={'PageSize': 2}))
        self.assertEqual(len(pages), 3)
        all_ids = [s['ShardId'] for p in pages for s in p['StreamDescription']['Shards']]
        self.assertEqual(all_ids, [shard_id(i) for i in range(5)])
        # ExclusiveStartShardId alone.
        d = self.c.describe_stream(StreamName=name, ExclusiveStartShardId=S2)['StreamDescription']
        self.assertEqual([s['ShardId'] for s in d['Shards']], [S3, S4])
        self.assertIs(d['HasMoreShards'], False)

    def test_list_streams_paginated(self):
        prefix = harness.unique_name('ls')
        names = ['%s-%d' % (prefix, i) for i in range(3)]
        for n in names:
            self.c.create_stream(StreamName=n, ShardCount=1)
        for n in names:
            harness.wait_exists(self.c, n)
        first = self.call('ListStreams', Limit=1)
        self.assertEqual(len(first['StreamNames']), 1)
        self.assertIs(first['HasMoreStreams'], True)
        self.assertTrue(first.get('NextToken'), 'NextToken must accompany HasMoreStreams=true')
        if harness.model_has(self.c, 'ListStreams', 'NextToken'):
            pg = self.c.get_paginator('list_streams')
            pager = pg.paginate(PaginationConfig={'PageSize': 1})
        else:
            # botocore < 1.29.31: its paginator follows ExclusiveStartStreamName and its model has
            # no StreamSummaries; follow NextToken as the newer paginator does.
            pager = self.list_streams_by_token(1)
        seen, summaries, pages = [], {}, 0
        for page in pager:
            pages += 1
            self.assertLessEqual(len(page['StreamNames']), 1)
            seen.extend(page['StreamNames'])
            for s in page.get('StreamSummaries', []):
                summaries[s['StreamName']] = s
            self.assertLess(pages, 500)
        for n in names:
            self.assertIn(n, seen)
            self.assertEqual(summaries[n]['StreamStatus'], 'ACTIVE')
            self.assertTrue(summaries[n]['StreamARN'].endswith(':stream/' + n))
            self.assertEqual(summaries[n].get('StreamModeDetails', {}).get('StreamMode'),
                             'PROVISIONED')
        self.assertEqual(len(seen), len(set(seen)), 'a stream was listed twice')
        # ExclusiveStartStreamName: streams are listed in name order.
        r = self.c.list_streams(ExclusiveStartStreamName=names[0], Limit=1)
        self.assertEqual(r['StreamNames'], [names[1]])

    def list_streams_by_token(self, limit):
        """ListStreams pages following NextToken, through harness.call."""
        page = self.call('ListStreams', Limit=limit)
        for _ in range(1000):
            yield page
            if not page.get('NextToken'):
                return
            page = self.call('ListStreams', NextToken=page['NextToken'], Limit=limit)
        self.fail('ListStreams never stopped returning NextToken')

    def test_list_shards_paging_and_filters(self):
        name = self.new_stream(3)
        first = self.c.list_shards(StreamName=name, MaxResults=1)
        self.assertEqual([s['ShardId'] for s in first['Shards']], [S0])
        self.assertTrue(first.get('NextToken'))
        ids, token = [S0], first['NextToken']
        for _ in range(10):
            r = self.c.list_shards(NextToken=token, MaxResults=1)
            ids.extend(s['ShardId'] for s in r['Shards'])
            token = r.get('NextToken')
            if not token:
                break
        self.assertEqual(ids, [S0, S1, S2])
        full = self.c.list_shards(StreamName=name)
        self.assertNotIn('NextToken', full)
        self.assertEqual([s['ShardId'] for s in full['Shards']], [S0, S1, S2])
        d = self.c.describe_stream(StreamName=name)['StreamDescription']['Shards']
        self.assertEqual(full['Shards'], d)
        r = self.c.list_shards(StreamName=name, ExclusiveStartShardId=S0)
        self.assertEqual([s['ShardId'] for s in r['Shards']], [S1, S2])
        # (boto3's list_shards paginator is not used: it resends StreamName with NextToken, which
        # AWS itself rejects -- boto/botocore#2009.)

        def filtered(**f):
            return [s['ShardId'] for s in
                    self.c.list_shards(StreamName=name, ShardFilter=f)['Shards']]
        self.assertEqual(filtered(Type='AFTER_SHARD_ID', ShardId=S0), [S1, S2])
        self.assertEqual(filtered(Type='AT_TRIM_HORIZON'), [S0, S1, S2])
        self.assertEqual(filtered(Type='FROM_TRIM_HORIZON'), [S0, S1, S2])
        self.assertEqual(filtered(Type='AT_LATEST'), [S0, S1, S2])
        self.assertEqual(filtered(Type='FROM_TIMESTAMP',
                                  Timestamp=now_utc() - datetime.timedelta(hours=1)),
                         [S0, S1, S2])

    def test_delete_stream_and_recreate(self):
        name = self.new_stream(1)
        created = self.c.describe_stream(StreamName=name)['StreamDescription'][
            'StreamCreationTimestamp']
        self.c.put_record(StreamName=name, Data=b'old', PartitionKey='k')
        self.c.delete_stream(StreamName=name)
        harness.wait_not_exists(self.c, name)
        self.assert_error('ResourceNotFoundException', self.c.describe_stream, StreamName=name)
        self.assert_error('ResourceNotFoundException', self.c.describe_stream_summary,
                          StreamName=name)
        listed = [n for p in self.c.get_paginator('list_streams').paginate()
                  for n in p['StreamNames']]
        self.assertNotIn(name, listed)
        # The name can be reused, and the new stream starts empty.
        harness.create_stream(self.c, name, 1)
        d = self.c.describe_stream(StreamName=name)['StreamDescription']
        self.assertGreaterEqual(d['StreamCreationTimestamp'], created)
        self.assertEqual(self.read(name, S0), [])

    def test_x_amzn_request_id(self):
        r = self.c.list_streams(Limit=1)
        rid = r['ResponseMetadata']['HTTPHeaders'].get('x-amzn-requestid')
        self.assertTrue(rid)
        r2 = self.c.list_streams(Limit=1)
        self.assertNotEqual(rid, r2['ResponseMetadata']['HTTPHeaders'].get('x-amzn-requestid'))


class RecordsTest(ServerTestCase):
    label = 'records'

    def test_put_record_routing_by_md5(self):
        name = self.new_stream(2)
        r = self.c.put_record(StreamName=name, Data=b'x', PartitionKey='a')
        self.assertEqual(r['ShardId'], S0)
        self.assert_seq(r['SequenceNumber'])
        self.assertEqual(r.get('EncryptionType', 'NONE'), 'NONE')
        self.assertEqual(self.c.put_record(StreamName=name, Data=b'y', PartitionKey='pk-1')[
            'ShardId'], S1)
        ranges = harness.even_ranges(2)
        for i in range(40):
            key = 'key-%d-%s' % (i, 'ü' * (i % 3))
            want = expected_shard(harness.md5_hash_key(key), ranges)
            got = self.c.put_record(StreamName=name, Data=b'z', PartitionKey=key)['ShardId']
            self.assertEqual(got, want, 'partition key %r' % key)

    def test_explicit_hash_key(self):
        name = self.new_stream(2)
        cases = [('0', S0), (str(HALF - 1), S0), (str(HALF), S1), (str(MAX_HASH_KEY), S1)]
        for ehk, want in cases:
            # PartitionKey 'a' alone would go to shard 0: ExplicitHashKey replaces the MD5.
            r = self.c.put_record(StreamName=name, Data=b'e', PartitionKey='a',
                                  ExplicitHashKey=ehk)
            self.assertEqual(r['ShardId'], want, ehk)
        r = self.c.put_records(StreamName=name, Records=[
            {'Data': b'1', 'PartitionKey': 'a', 'ExplicitHashKey': str(HALF)},
            {'Data': b'2', 'PartitionKey': 'pk-1', 'ExplicitHashKey': '5'}])
        self.assertEqual([e['ShardId'] for e in r['Records']], [S1, S0])

    def test_put_records_per_record_results_and_read_back(self):
        name = self.new_stream(2)
        entries = []
        for i in range(100):
            data = bytes([i, 0, 255, i ^ 0x5a]) + ('rec-%d' % i).encode()
            entries.append({'Data': data, 'PartitionKey': 'k%d' % i})
        r = self.c.put_records(StreamName=name, Records=entries)
        self.assertEqual(r['FailedRecordCount'], 0)
        self.assertEqual(len(r['Records']), 100)
        ranges = harness.even_ranges(2)
        by_seq = {}
        for e, res in zip(entries, r['Records']):
            self.assertNotIn('ErrorCode', res)
            self.assert_seq(res['SequenceNumber'])
            self.assertEqual(res['ShardId'],
                             expected_shard(harness.md5_hash_key(e['PartitionKey']), ranges))
            by_seq[(res['ShardId'], res['SequenceNumber'])] = e
        self.assertEqual(len(by_seq), 100, 'duplicate (shard, sequence number) pairs')
        total = 0
        for sh in (S0, S1):
            got = self.read(name, sh)
            seqs = [int(x['SequenceNumber']) for x in got]
            self.assertEqual(seqs, sorted(seqs))
            for rec in got:
                e = by_seq[(sh, rec['SequenceNumber'])]
                self.assertEqual(rec['Data'], e['Data'])
                self.assertEqual(rec['PartitionKey'], e['PartitionKey'])
            total += len(got)
        self.assertEqual(total, 100)

    def test_binary_data_round_trip(self):
        name = self.new_stream(1)
        payloads = [
            bytes(range(256)),
            b'\x00',
            b'\xff\xfe\xfd not utf-8 \xc3\x28',
            os.urandom(100 * 1024),
            '{"json": "ünïcødé ✓"}'.encode('utf-8'),
            b'\r\n\t"\\',
            os.urandom(1024 * 1024 - 1),  # with the 1-byte partition key: exactly 1 MiB
        ]
        seqs = [self.c.put_record(StreamName=name, Data=p, PartitionKey='p')['SequenceNumber']
                for p in payloads]
        got = self.read(name, S0)
        self.assertEqual([x['SequenceNumber'] for x in got], seqs)
        for i, (rec, p) in enumerate(zip(got, payloads)):
            self.assertEqual(len(rec['Data']), len(p), i)
            self.assertEqual(hashlib.sha256(rec['Data']).hexdigest(),
                             hashlib.sha256(p).hexdigest(), 'payload %d differs' % i)
            self.assertEqual(rec['PartitionKey'], 'p')
            self.assert_recent(rec['ApproximateArrivalTimestamp'])

    def test_sequence_numbers_strictly_increasing_per_shard(self):
        name = self.new_stream(2)
        issued = {S0: [], S1: []}
        for i in range(30):
            r = self.c.put_record(StreamName=name, Data=b'%d' % i, PartitionKey='k%d' % i)
            issued[r['ShardId']].append(int(r['SequenceNumber']))
        for _ in range(2):
            r = self.c.put_records(StreamName=name, Records=[
                {'Data': b'b', 'PartitionKey': 'b%d' % i} for i in range(100)])
            self.assertEqual(r['FailedRecordCount'], 0)
            for e in r['Records']:
                issued[e['ShardId']].append(int(e['SequenceNumber']))
        for sh, seqs in issued.items():
            self.assertGreater(len(seqs), 10, sh)
            self.assertEqual(len(set(seqs)), len(seqs), 'duplicate sequence numbers in %s' % sh)
            read = [int(x['SequenceNumber']) for x in self.read(name, sh)]
            self.assertEqual(read, sorted(seqs))
            self.assertTrue(all(a < b for a, b in zip(read, read[1:])), sh)
        # PutRecord calls made one after another are strictly increasing in issue order.
        single = []
        for i in range(10):
            single.append(int(self.c.put_record(StreamName=name, Data=b's',
                                                PartitionKey='a')['SequenceNumber']))
        self.assertEqual(single, sorted(set(single)))

    def test_sequence_number_for_ordering(self):
        name = self.new_stream(1)
        first = self.c.put_record(StreamName=name, Data=b'1', PartitionKey='a')['SequenceNumber']
        second = self.c.put_record(StreamName=name, Data=b'2', PartitionKey='a',
                                   SequenceNumberForOrdering=first)['SequenceNumber']
        self.assertGreater(int(second), int(first))
        # "0" is accepted as AWS accepts it; sequence numbers have AWS's 56 digits.
        third = self.c.put_record(StreamName=name, Data=b'3', PartitionKey='a',
                                  SequenceNumberForOrdering='0')['SequenceNumber']
        self.assertGreater(int(third), int(second))
        for seq in (first, second, third):
            self.assertRegex(seq, r'^[0-9]{56}$')

    def test_shard_ids_as_aws_parses_them(self):
        # The number after the last hyphen names the shard: shardId-1, shardId-000000000001 and
        # anything-1 read the same records; responses use the canonical id.
        name = self.new_stream(2)
        shard = harness.all_shards(self.c, name)[1]['ShardId']
        self.assertEqual(shard, 'shardId-000000000001')
        h = self.c.describe_stream(StreamName=name)['StreamDescription']['Shards'][1]['HashKeyRange']
        self.c.put_record(StreamName=name, Data=b'one', PartitionKey='k', ExplicitHashKey=h['StartingHashKey'])
        for alias in ('shardId-000000000001', 'shardId-1', 'any-thing-01'):
            it = self.c.get_shard_iterator(StreamName=name, ShardId=alias,
                                           ShardIteratorType='TRIM_HORIZON')['ShardIterator']
            self.assertEqual([r['Data'] for r in self.c.get_records(ShardIterator=it)['Records']], [b'one'], alias)
        listed = self.c.list_shards(StreamName=name, ExclusiveStartShardId='shardId-0')['Shards']
        self.assertEqual([s['ShardId'] for s in listed], ['shardId-000000000001'])
        self.assert_error('ResourceNotFoundException', self.c.get_shard_iterator, StreamName=name,
                          ShardId='shardId-2', ShardIteratorType='TRIM_HORIZON')

    def test_shard_iterator_types(self):
        name = self.new_stream(1)
        t_before = now_utc()
        puts = [self.c.put_record(StreamName=name, Data=b'r%d' % i, PartitionKey='a')
                for i in range(5)]
        seqs = [p['SequenceNumber'] for p in puts]

        def first_page(**kw):
            it = self.c.get_shard_iterator(StreamName=name, ShardId=S0, **kw)['ShardIterator']
            self.assertIsInstance(it, str)
            self.assertLessEqual(len(it), 512)
            return self.c.get_records(ShardIterator=it)

        th = first_page(ShardIteratorType='TRIM_HORIZON')
        self.assertEqual([x['Data'] for x in th['Records']], [b'r0', b'r1', b'r2', b'r3', b'r4'])
        self.assertEqual([x['SequenceNumber'] for x in th['Records']], seqs)
        arrivals = [x['ApproximateArrivalTimestamp'] for x in th['Records']]

        at = first_page(ShardIteratorType='AT_SEQUENCE_NUMBER', StartingSequenceNumber=seqs[2])
        self.assertEqual([x['Data'] for x in at['Records']], [b'r2', b'r3', b'r4'])
        after = first_page(ShardIteratorType='AFTER_SEQUENCE_NUMBER',
                           StartingSequenceNumber=seqs[2])
        self.assertEqual([x['Data'] for x in after['Records']], [b'r3', b'r4'])
        after_last = first_page(ShardIteratorType='AFTER_SEQUENCE_NUMBER',
                                StartingSequenceNumber=seqs[4])
        self.assertEqual(after_last['Records'], [])

        latest_it = self.c.get_shard_iterator(StreamName=name, ShardId=S0,
                                              ShardIteratorType='LATEST')['ShardIterator']
        r = self.c.get_records(ShardIterator=latest_it)
        self.assertEqual(r['Records'], [])
        self.assertEqual(r['MillisBehindLatest'], 0)
        self.c.put_record(StreamName=name, Data=b'r5', PartitionKey='a')
        r2 = self.c.get_records(ShardIterator=r['NextShardIterator'])
        self.assertEqual([x['Data'] for x in r2['Records']], [b'r5'])

        # AT_TIMESTAMP (boto3 sends whole epoch seconds for this shape).
        old = first_page(ShardIteratorType='AT_TIMESTAMP',
                         Timestamp=t_before - datetime.timedelta(minutes=1))
        self.assertEqual([x['Data'] for x in old['Records']][:6],
                         [b'r0', b'r1', b'r2', b'r3', b'r4', b'r5'])
        # A future timestamp: AWS refuses it ("The timestampInMillis parameter cannot be greater
        # than the currentTimestampInMillis"); an iterator that returns nothing is also fine.
        try:
            future = first_page(ShardIteratorType='AT_TIMESTAMP',
                                Timestamp=now_utc() + datetime.timedelta(hours=1))
            self.assertEqual(future['Records'], [])
        except ClientError as e:
            self.assertEqual(e.response['Error']['Code'], 'InvalidArgumentException')
        sent = arrivals[3].replace(microsecond=0)  # what boto3 puts on the wire
        want = [i for i, a in enumerate(arrivals) if a >= sent][0]
        mid = first_page(ShardIteratorType='AT_TIMESTAMP', Timestamp=arrivals[3])
        self.assertEqual(mid['Records'][0]['SequenceNumber'], seqs[want])

    def test_at_timestamp_millisecond_precision_raw_json(self):
        # boto3 truncates to seconds; other SDKs send milliseconds ("1459799926.480").
        name = self.new_stream(1)
        seqs = [self.c.put_record(StreamName=name, Data=b'm%d' % i, PartitionKey='a')[
            'SequenceNumber'] for i in range(6)]
        recs = self.read(name, S0)
        arrivals = [x['ApproximateArrivalTimestamp'] for x in recs]
        for k in (0, 2, 5):
            ts = arrivals[k].timestamp()
            want = [i for i, a in enumerate(arrivals) if a.timestamp() >= ts - 1e-6][0]
            status, body, _ = self.server.json_call('GetShardIterator', {
                'StreamName': name, 'ShardId': S0, 'ShardIteratorType': 'AT_TIMESTAMP',
                'Timestamp': round(ts, 3)})
            self.assertEqual(status, 200, body)
            r = self.c.get_records(ShardIterator=body['ShardIterator'])
            self.assertEqual(r['Records'][0]['SequenceNumber'], seqs[want], k)
        # The raw response carries ApproximateArrivalTimestamp as epoch seconds (a JSON number).
        status, body, _ = self.server.json_call('GetShardIterator', {
            'StreamName': name, 'ShardId': S0, 'ShardIteratorType': 'TRIM_HORIZON'})
        status, body, _ = self.server.json_call('GetRecords', {'ShardIterator': body['ShardIterator']})
        self.assertEqual(status, 200)
        ts = body['Records'][0]['ApproximateArrivalTimestamp']
        self.assertIsInstance(ts, (int, float))
        self.assertLess(abs(ts - time.time()), 300)
        self.assertEqual(base64.b64decode(body['Records'][0]['Data']), b'm0')

    def test_get_records_limit_next_iterator_and_millis_behind(self):
        name = self.new_stream(1)
        r = self.c.put_records(StreamName=name, Records=[
            {'Data': b'%d' % i, 'PartitionKey': 'a'} for i in range(10)])
        self.assertEqual(r['FailedRecordCount'], 0)
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        first = self.c.get_records(ShardIterator=it, Limit=3)
        self.assertEqual([x['Data'] for x in first['Records']], [b'0', b'1', b'2'])
        self.assertIsInstance(first['MillisBehindLatest'], int)
        self.assertGreaterEqual(first['MillisBehindLatest'], 0)
        self.assertTrue(first['NextShardIterator'])
        # Iterators are positions: reusing one returns the same records.
        again = self.c.get_records(ShardIterator=it, Limit=3)
        self.assertEqual([x['SequenceNumber'] for x in again['Records']],
                         [x['SequenceNumber'] for x in first['Records']])
        got = list(first['Records'])
        it = first['NextShardIterator']
        last = first
        for _ in range(20):
            last = self.c.get_records(ShardIterator=it, Limit=3)
            self.assertLessEqual(len(last['Records']), 3)
            got.extend(last['Records'])
            it = last['NextShardIterator']
            if len(got) >= 10 and not last['Records']:
                break
        self.assertEqual([x['Data'] for x in got], [b'%d' % i for i in range(10)])
        self.assertEqual(last['MillisBehindLatest'], 0)
        for x in got:
            self.assert_recent(x['ApproximateArrivalTimestamp'])
            self.assertEqual(x['PartitionKey'], 'a')

    def test_get_records_at_most_10_mib(self):
        name = self.new_stream(1)
        sizes = []
        for i in range(12):
            r = self.c.put_records(StreamName=name, Records=[
                {'Data': bytes([i]) * 1000000, 'PartitionKey': 'a'}])
            self.assertEqual(r['FailedRecordCount'], 0)
            sizes.append(1000000)
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        first = self.c.get_records(ShardIterator=it)
        n = len(first['Records'])
        self.assertGreaterEqual(n, 1)
        self.assertLess(n, 12, 'one GetRecords returned 12 MB')
        self.assertLessEqual(sum(len(x['Data']) for x in first['Records']), 10 * 1024 * 1024)
        rest = self.read(name, S0, iterator_type='AFTER_SEQUENCE_NUMBER',
                         StartingSequenceNumber=first['Records'][-1]['SequenceNumber'])
        got = [x['Data'][0] for x in first['Records'] + rest]
        self.assertEqual(got, list(range(12)))

    def test_limits_off_by_default(self):
        # 1500 records to one shard as fast as possible: no throttling unless --enforce-limits.
        name = self.new_stream(1)
        for b in range(3):
            r = self.c.put_records(StreamName=name, Records=[
                {'Data': b'x', 'PartitionKey': 'k%d' % i} for i in range(500)])
            self.assertEqual(r['FailedRecordCount'], 0, 'batch %d' % b)
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0,
                                       ShardIteratorType='LATEST')['ShardIterator']
        for _ in range(12):
            it = self.c.get_records(ShardIterator=it)['NextShardIterator']


class RetentionAndTagsTest(ServerTestCase):
    label = 'retention-tags'

    def retention(self, name):
        return self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'][
            'RetentionPeriodHours']

    def test_retention_increase_decrease(self):
        name = self.new_stream(1)
        self.c.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
        self.assertEqual(self.retention(name), 48)
        self.assertEqual(self.c.describe_stream(StreamName=name)['StreamDescription'][
            'RetentionPeriodHours'], 48)
        self.c.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8760)
        self.assertEqual(self.retention(name), 8760)
        self.c.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
        self.assertEqual(self.retention(name), 24)
        self.assert_error('InvalidArgumentException', self.c.decrease_stream_retention_period,
                          StreamName=name, RetentionPeriodHours=23)
        self.assert_error('InvalidArgumentException', self.c.increase_stream_retention_period,
                          StreamName=name, RetentionPeriodHours=8761)
        self.c.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=100)
        # Increase must go up, decrease must go down.
        self.assert_error('InvalidArgumentException', self.c.increase_stream_retention_period,
                          StreamName=name, RetentionPeriodHours=50)
        self.assert_error('InvalidArgumentException', self.c.decrease_stream_retention_period,
                          StreamName=name, RetentionPeriodHours=200)
        self.assertEqual(self.retention(name), 100)

    def tags_of(self, name):
        out, start = {}, None
        for _ in range(60):
            kw = {'StreamName': name, 'Limit': 1}
            if start:
                kw['ExclusiveStartTagKey'] = start
            r = self.c.list_tags_for_stream(**kw)
            self.assertLessEqual(len(r['Tags']), 1)
            for t in r['Tags']:
                out[t['Key']] = t.get('Value', '')
            if not r['HasMoreTags']:
                return out
            start = r['Tags'][-1]['Key']
        self.fail('ListTagsForStream paging never ended')

    def test_stream_tags(self):
        name = self.new_stream(1)
        r = self.c.list_tags_for_stream(StreamName=name)
        self.assertEqual(r['Tags'], [])
        self.assertIs(r['HasMoreTags'], False)
        self.c.add_tags_to_stream(StreamName=name, Tags={'a': '1', 'b': '2', 'c': ''})
        r = self.c.list_tags_for_stream(StreamName=name)
        self.assertEqual({t['Key']: t.get('Value', '') for t in r['Tags']},
                         {'a': '1', 'b': '2', 'c': ''})
        self.assertIs(r['HasMoreTags'], False)
        self.c.add_tags_to_stream(StreamName=name, Tags={'a': 'overwritten'})
        self.assertEqual(self.tags_of(name), {'a': 'overwritten', 'b': '2', 'c': ''})
        r = self.c.list_tags_for_stream(StreamName=name, Limit=2)
        self.assertEqual(len(r['Tags']), 2)
        self.assertIs(r['HasMoreTags'], True)
        self.c.remove_tags_from_stream(StreamName=name, TagKeys=['b', 'no-such-key'])
        self.assertEqual(self.tags_of(name), {'a': 'overwritten', 'c': ''})
        # AWS's characters: letters (any script), digits, spaces and _ . : / = + - @; nothing else,
        # in keys or values, and a refused call changes nothing.
        self.c.add_tags_to_stream(StreamName=name, Tags={'Ünïcödé ключ_./=+-@': 'späce ok 1',
                                                         'aws:cloudformation:stack-name': 's'})
        for bad in (';', '\t', '\n', ',', '%', '*', '#', '\u2028'):
            for tags in ({'k' + bad: 'v'}, {'k': 'v' + bad}):
                self.assert_error('InvalidArgumentException', self.c.add_tags_to_stream, StreamName=name, Tags=tags)
        self.assert_error('InvalidArgumentException', self.call, 'CreateStream', StreamName=name + '-bad',
                          ShardCount=1, Tags={'a;b': '1'})
        arn = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
        self.assert_error('InvalidArgumentException', self.call, 'TagResource', ResourceARN=arn, Tags={'k': '50%'})
        self.assertEqual(self.tags_of(name), {'a': 'overwritten', 'c': '', 'Ünïcödé ключ_./=+-@': 'späce ok 1',
                                          'aws:cloudformation:stack-name': 's'})

    def test_resource_tags_with_arn(self):
        name = self.new_stream(1)
        arn = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'][
            'StreamARN']
        self.call('TagResource', ResourceARN=arn, Tags={'owner': 'e2e', 'tier': 'gold'})
        r = self.call('ListTagsForResource', ResourceARN=arn)
        self.assertEqual({t['Key']: t.get('Value') for t in r['Tags']},
                         {'owner': 'e2e', 'tier': 'gold'})
        # The same tags are visible through the stream-name API.
        self.assertEqual(self.tags_of(name), {'owner': 'e2e', 'tier': 'gold'})
        self.call('UntagResource', ResourceARN=arn, TagKeys=['tier'])
        r = self.call('ListTagsForResource', ResourceARN=arn)
        self.assertEqual({t['Key']: t.get('Value') for t in r['Tags']}, {'owner': 'e2e'})

    def test_stream_arn_instead_of_name(self):
        name = self.new_stream(2)
        arn = self.c.describe_stream(StreamName=name)['StreamDescription']['StreamARN']
        self.assertEqual(self.call('DescribeStream', StreamARN=arn)['StreamDescription'][
            'StreamName'], name)
        self.assertEqual(self.call('DescribeStreamSummary', StreamARN=arn)[
            'StreamDescriptionSummary']['StreamName'], name)
        self.assertEqual([s['ShardId'] for s in self.call('ListShards', StreamARN=arn)['Shards']],
                         [S0, S1])
        p = self.call('PutRecord', StreamARN=arn, Data=b'via-arn', PartitionKey='a')
        self.assertEqual(p['ShardId'], S0)
        pr = self.call('PutRecords', StreamARN=arn, Records=[{'Data': b'via-arn-2',
                                                             'PartitionKey': 'pk-1'}])
        self.assertEqual(pr['FailedRecordCount'], 0)
        self.assertEqual(pr['Records'][0]['ShardId'], S1)
        it = self.call('GetShardIterator', StreamARN=arn, ShardId=S0,
                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        r = self.call('GetRecords', ShardIterator=it, StreamARN=arn)
        self.assertEqual([x['Data'] for x in r['Records']], [b'via-arn'])
        self.call('AddTagsToStream', StreamARN=arn, Tags={'k': 'v'})
        self.assertEqual(self.call('ListTagsForStream', StreamARN=arn)['Tags'],
                         [{'Key': 'k', 'Value': 'v'}])
        self.call('IncreaseStreamRetentionPeriod', StreamARN=arn, RetentionPeriodHours=30)
        self.assertEqual(self.retention(name), 30)
        # Name and ARN both given and agreeing is fine.
        self.assertEqual(self.call('DescribeStreamSummary', StreamName=name, StreamARN=arn)[
            'StreamDescriptionSummary']['StreamName'], name)
        # Name and ARN naming different streams.
        other = self.new_stream(1)
        self.assert_error('InvalidArgumentException', self.call, 'DescribeStreamSummary',
                          StreamName=other, StreamARN=arn)
        # An ARN naming an unknown stream.
        bad = arn.rsplit('/', 1)[0] + '/' + harness.unique_name('missing')
        self.assert_error('ResourceNotFoundException', self.call, 'DescribeStreamSummary',
                          StreamARN=bad)
        self.call('DeleteStream', StreamARN=arn)
        harness.wait_not_exists(self.c, name)


class ReshardTest(ServerTestCase):
    label = 'reshard'

    def test_split_shard_lineage_and_reads(self):
        name = self.new_stream(2)
        split_key = 2 ** 126  # middle of shard 0's range [0, 2^127-1]
        before = []
        for i in range(10):
            ehk = str((i * 3 + 1) * 2 ** 122)  # spread over [0, 2^127) = [0, 32 * 2^122)
            r = self.c.put_record(StreamName=name, Data=b'pre-%d' % i, PartitionKey='p%d' % i,
                                  ExplicitHashKey=ehk)
            self.assertEqual(r['ShardId'], S0)
            before.append(r['SequenceNumber'])
        self.c.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey=str(split_key))
        harness.wait_exists(self.c, name)
        shards = self.shards_by_id(name)
        self.assertEqual(sorted(shards), [S0, S1, S2, S3])
        parent = shards[S0]
        self.assertIn('EndingSequenceNumber', parent['SequenceNumberRange'])
        self.assert_seq(parent['SequenceNumberRange']['EndingSequenceNumber'])
        self.assertGreaterEqual(int(parent['SequenceNumberRange']['EndingSequenceNumber']),
                                int(before[-1]))
        self.assertNotIn('EndingSequenceNumber', shards[S1]['SequenceNumberRange'])
        for child, lo, hi in ((S2, 0, split_key - 1), (S3, split_key, HALF - 1)):
            c = shards[child]
            self.assertEqual(c.get('ParentShardId'), S0, child)
            self.assertNotIn('AdjacentParentShardId', c)
            self.assertEqual(c['HashKeyRange'], {'StartingHashKey': str(lo),
                                                 'EndingHashKey': str(hi)}, child)
            self.assertNotIn('EndingSequenceNumber', c['SequenceNumberRange'])
        summary = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
        self.assertEqual(summary['OpenShardCount'], 3)
        self.assertEqual(summary['StreamStatus'], 'ACTIVE')

        # Writes after the split go to the children.
        after = {}
        for i in range(10):
            ehk = (i * 3 + 1) * 2 ** 122
            r = self.c.put_record(StreamName=name, Data=b'post-%d' % i, PartitionKey='q%d' % i,
                                  ExplicitHashKey=str(ehk))
            self.assertEqual(r['ShardId'], S2 if ehk < split_key else S3, ehk)
            after[r['SequenceNumber']] = (r['ShardId'], b'post-%d' % i)
        self.assertEqual(self.c.put_record(StreamName=name, Data=b'a', PartitionKey='a')[
            'ShardId'], S2)

        # The closed parent reads to its end: all pre-split records, then no NextShardIterator
        # and the children listed.
        recs, last = self.read_closed(name, S0)
        self.assertEqual([x['SequenceNumber'] for x in recs], before)
        self.assertEqual([x['Data'] for x in recs], [b'pre-%d' % i for i in range(10)])
        self.assertIsNone(last.get('NextShardIterator'))
        children = {c['ShardId']: c for c in last.get('ChildShards', [])}
        self.assertEqual(sorted(children), [S2, S3])
        for cid, c in children.items():
            self.assertEqual(c['ParentShards'], [S0])
            self.assertEqual(c['HashKeyRange'], shards[cid]['HashKeyRange'])

        # Every record is found exactly once across the lineage: pre-split in the parent only.
        lineage = {}
        for sh in (S0, S2, S3):
            for x in self.read(name, sh):
                self.assertNotIn(x['SequenceNumber'], lineage)
                lineage[x['SequenceNumber']] = (sh, x['Data'])
        for s in before:
            self.assertEqual(lineage[s][0], S0)
        for s, (sh, data) in after.items():
            self.assertEqual(lineage[s], (sh, data))

        # ShardFilter on a resharded stream.
        def filtered(**f):
            return sorted(s['ShardId'] for s in
                          self.c.list_shards(StreamName=name, ShardFilter=f)['Shards'])
        self.assertEqual(filtered(Type='AT_LATEST'), [S1, S2, S3])
        self.assertEqual(filtered(Type='FROM_TRIM_HORIZON'), [S0, S1, S2, S3])
        self.assertIn(S0, filtered(Type='AT_TRIM_HORIZON'))
        # AT_TIMESTAMP = shards open at that time. boto3 would truncate to whole seconds, so send
        # a millisecond timestamp (taken after the split finished) as raw JSON.
        status, body, _ = self.server.json_call('ListShards', {
            'StreamName': name, 'ShardFilter': {'Type': 'AT_TIMESTAMP',
                                                'Timestamp': round(time.time(), 3)}})
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(s['ShardId'] for s in body['Shards']), [S1, S2, S3])
        self.assertEqual(filtered(Type='FROM_TIMESTAMP',
                                  Timestamp=now_utc() - datetime.timedelta(hours=1)),
                         [S0, S1, S2, S3])
        # Split with a key not strictly inside the shard.
        self.assert_error('InvalidArgumentException', self.c.split_shard, StreamName=name,
                          ShardToSplit=S1, NewStartingHashKey=str(HALF))
        self.assert_error('InvalidArgumentException', self.c.split_shard, StreamName=name,
                          ShardToSplit=S1, NewStartingHashKey=str(HALF - 5))

    def test_merge_shards(self):
        name = self.new_stream(3)
        pre = {}
        for i in range(12):
            r = self.c.put_record(StreamName=name, Data=b'm%d' % i, PartitionKey='key%d' % i)
            pre[r['SequenceNumber']] = r['ShardId']
        ranges = harness.even_ranges(3)
        self.assert_error('InvalidArgumentException', self.c.merge_shards, StreamName=name,
                          ShardToMerge=S0, AdjacentShardToMerge=S2)
        self.c.merge_shards(StreamName=name, ShardToMerge=S0, AdjacentShardToMerge=S1)
        harness.wait_exists(self.c, name)
        shards = self.shards_by_id(name)
        self.assertEqual(sorted(shards), [S0, S1, S2, S3])
        child = shards[S3]
        self.assertEqual({child.get('ParentShardId'), child.get('AdjacentParentShardId')},
                         {S0, S1})
        self.assertEqual(child['HashKeyRange'], {'StartingHashKey': str(ranges[0][0]),
                                                 'EndingHashKey': str(ranges[1][1])})
        for p in (S0, S1):
            self.assertIn('EndingSequenceNumber', shards[p]['SequenceNumberRange'], p)
        self.assertNotIn('EndingSequenceNumber', shards[S2]['SequenceNumberRange'])
        self.assertEqual(self.c.describe_stream_summary(StreamName=name)[
            'StreamDescriptionSummary']['OpenShardCount'], 2)
        self.assertEqual(self.c.put_record(StreamName=name, Data=b'after',
                                           PartitionKey='a')['ShardId'], S3)
        for p in (S0, S1):
            recs, last = self.read_closed(name, p)
            self.assertEqual(sorted(x['SequenceNumber'] for x in recs),
                             sorted(s for s, sh in pre.items() if sh == p))
            self.assertIsNone(last.get('NextShardIterator'))
            kids = last.get('ChildShards', [])
            self.assertEqual([k['ShardId'] for k in kids], [S3])
            self.assertEqual(sorted(kids[0]['ParentShards']), [S0, S1])
        self.assertEqual([x['Data'] for x in self.read(name, S3)], [b'after'])

    def test_update_shard_count(self):
        name = self.new_stream(2)
        r = self.c.update_shard_count(StreamName=name, TargetShardCount=4,
                                      ScalingType='UNIFORM_SCALING')
        self.assertEqual(r['StreamName'], name)
        self.assertEqual(r['CurrentShardCount'], 2)
        self.assertEqual(r['TargetShardCount'], 4)
        harness.wait_exists(self.c, name)
        self.check_open_cover(name, 4)
        self.c.update_shard_count(StreamName=name, TargetShardCount=2,
                                  ScalingType='UNIFORM_SCALING')
        harness.wait_exists(self.c, name)
        self.check_open_cover(name, 2)

    def check_open_cover(self, name, n):
        self.assertEqual(self.c.describe_stream_summary(StreamName=name)[
            'StreamDescriptionSummary']['OpenShardCount'], n)
        shards = harness.all_shards(self.c, name)
        open_ = [s for s in shards if 'EndingSequenceNumber' not in s['SequenceNumberRange']]
        self.assertEqual(len(open_), n)
        known = {s['ShardId'] for s in shards}
        for s in shards:
            for k in ('ParentShardId', 'AdjacentParentShardId'):
                if k in s:
                    self.assertIn(s[k], known)
        ranges = sorted((int(s['HashKeyRange']['StartingHashKey']),
                         int(s['HashKeyRange']['EndingHashKey']), s['ShardId']) for s in open_)
        self.assertEqual(ranges[0][0], 0)
        self.assertEqual(ranges[-1][1], MAX_HASH_KEY)
        for a, b in zip(ranges, ranges[1:]):
            self.assertEqual(a[1] + 1, b[0], 'gap or overlap between open shards')
        # Writes route to the open shard that owns the hash key.
        for lo, hi, sid in ranges:
            self.assertEqual(self.c.put_record(StreamName=name, Data=b'x', PartitionKey='x',
                                               ExplicitHashKey=str(hi))['ShardId'], sid)


# =================================================================================== persistence
class PersistenceTest(ServerTestCase):
    """Streams, shards, lineage, tags, retention and records survive a restart on the same data
    directory, both graceful (SIGTERM) and kill -9."""
    label = 'persist'

    def snapshot(self, names):
        out = {}
        listed = [n for p in self.c.get_paginator('list_streams').paginate()
                  for n in p['StreamNames']]
        for name in names:
            if name not in listed:
                out[name] = None
                continue
            summary = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
            shards = harness.all_shards(self.c, name)
            tags = self.c.list_tags_for_stream(StreamName=name)['Tags']
            records = {}
            for s in shards:
                records[s['ShardId']] = [
                    (x['SequenceNumber'], x['Data'], x['PartitionKey'],
                     x['ApproximateArrivalTimestamp']) for x in self.read(name, s['ShardId'])]
            out[name] = {'summary': summary, 'shards': shards, 'tags': tags, 'records': records}
        return out

    def populate(self):
        a, b, gone = (harness.unique_name(p) for p in ('keep', 'ondemand', 'gone'))
        self.call('CreateStream', StreamName=a, ShardCount=2, Tags={'app': 'e2e'})
        harness.wait_exists(self.c, a)
        self.c.increase_stream_retention_period(StreamName=a, RetentionPeriodHours=48)
        self.c.put_records(StreamName=a, Records=[
            {'Data': os.urandom(64), 'PartitionKey': 'p%d' % i} for i in range(40)])
        self.c.split_shard(StreamName=a, ShardToSplit=S1, NewStartingHashKey=str(HALF + 2 ** 100))
        harness.wait_exists(self.c, a)
        self.c.put_records(StreamName=a, Records=[
            {'Data': b'after-split-%d' % i, 'PartitionKey': 'q%d' % i} for i in range(40)])
        self.c.create_stream(StreamName=b, StreamModeDetails={'StreamMode': 'ON_DEMAND'})
        harness.wait_exists(self.c, b)
        self.c.put_record(StreamName=b, Data=b'on-demand', PartitionKey='x')
        harness.create_stream(self.c, gone, 1)
        self.c.delete_stream(StreamName=gone)
        harness.wait_not_exists(self.c, gone)
        return [a, b, gone]

    def check_restart(self, how):
        names = self.populate()
        before = self.snapshot(names)
        it = self.c.get_shard_iterator(StreamName=names[0], ShardId=S0,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        if how == 'kill9':
            self.server.kill9()
            self.server.start()
        else:
            self.server.restart()
        type(self).c = self.server.client()
        for n in names[:2]:
            harness.wait_exists(self.c, n)
        after = self.snapshot(names)
        self.assertIsNone(after[names[2]], 'a deleted stream came back')
        for n in names[:2]:
            self.assertEqual(after[n]['summary'], before[n]['summary'])
            self.assertEqual(after[n]['shards'], before[n]['shards'])
            self.assertEqual(after[n]['tags'], before[n]['tags'])
            self.assertEqual(after[n]['records'], before[n]['records'])
        self.assertEqual(len(before[names[0]]['records']), 4)
        self.assertEqual(sum(len(v) for v in before[names[0]]['records'].values()), 80)
        # An iterator issued before the restart still reads (iterators are positions).
        r = self.c.get_records(ShardIterator=it)
        self.assertEqual([x['SequenceNumber'] for x in r['Records']],
                         [x[0] for x in before[names[0]]['records'][S0]])
        # New records get larger sequence numbers than everything before the restart.
        for s in after[names[0]]['shards']:
            if 'EndingSequenceNumber' in s['SequenceNumberRange']:
                continue
            old = [int(x[0]) for x in before[names[0]]['records'][s['ShardId']]]
            hk = s['HashKeyRange']['StartingHashKey']
            p = self.c.put_record(StreamName=names[0], Data=b'new', PartitionKey='n',
                                  ExplicitHashKey=hk)
            self.assertEqual(p['ShardId'], s['ShardId'])
            if old:
                self.assertGreater(int(p['SequenceNumber']), max(old))

    def test_graceful_restart(self):
        self.check_restart('sigterm')

    def test_kill9_restart(self):
        self.check_restart('kill9')


# ================================================================================ stream settings
MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'src', 'api', 'models',
                     'kinesis-2013-12-02.json')
# The enhanced fan-out operations in a working order (test_every_operation_in_the_model runs them at
# RegisterStreamConsumer's place among the others); test_kinesis_fanout tests them in depth.
CONSUMER_ORDER = ['RegisterStreamConsumer', 'DescribeStreamConsumer', 'ListStreamConsumers', 'SubscribeToShard',
                  'DeregisterStreamConsumer']


class StreamSettingsTest(ServerTestCase):
    label = 'settings'

    @classmethod
    def setUpClass(cls):
        # StartStreamEncryption needs the server's key file.
        cls.key_dir = tempfile.mkdtemp(prefix='eddy-key-')
        key = os.path.join(cls.key_dir, 'key')
        with open(key, 'w') as f:
            f.write(os.urandom(32).hex())
        cls.extra_args = ('--encryption-key-file', key)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.key_dir, ignore_errors=True)

    def arn(self, name):
        return self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']

    def summary(self, name):
        return self.call('DescribeStreamSummary', StreamName=name)['StreamDescriptionSummary']

    def test_update_stream_mode_and_warm_throughput(self):
        name = self.new_stream(2)
        arn = self.arn(name)
        self.assert_error('InvalidArgumentException', self.call, 'UpdateStreamWarmThroughput', StreamName=name,
                          WarmThroughputMiBps=10)
        self.call('UpdateStreamMode', StreamARN=arn, StreamModeDetails={'StreamMode': 'ON_DEMAND'},
                  WarmThroughputMiBps=20)
        s = self.summary(name)
        self.assertEqual(s['StreamModeDetails'], {'StreamMode': 'ON_DEMAND'})
        self.assertEqual(s['WarmThroughput'], {'TargetMiBps': 20, 'CurrentMiBps': 20})
        self.assertEqual(s['OpenShardCount'], 2, 'a mode change keeps the shards')
        r = self.call('UpdateStreamWarmThroughput', StreamARN=arn, WarmThroughputMiBps=40)
        self.assertEqual((r['StreamName'], r['StreamARN'], r['WarmThroughput']['TargetMiBps']), (name, arn, 40))
        # On-demand streams are not resharded by hand, as on AWS.
        self.assert_error(('InvalidArgumentException', 'ValidationException'), self.c.update_shard_count,
                          StreamName=name, TargetShardCount=4, ScalingType='UNIFORM_SCALING')
        self.call('UpdateStreamMode', StreamARN=arn, StreamModeDetails={'StreamMode': 'PROVISIONED'})
        s = self.summary(name)
        self.assertEqual(s['StreamModeDetails'], {'StreamMode': 'PROVISIONED'})
        self.assertNotIn('WarmThroughput', s)
        self.assert_error('InvalidArgumentException', self.call, 'UpdateStreamMode', StreamARN=arn,
                          StreamModeDetails={'StreamMode': 'PROVISIONED'}, WarmThroughputMiBps=5)
        self.assert_error('ResourceNotFoundException', self.call, 'UpdateStreamMode', StreamARN=arn + '-gone',
                          StreamModeDetails={'StreamMode': 'ON_DEMAND'})
        status, _, body = self.server.raw('UpdateStreamMode', json.dumps(
            {'StreamARN': arn, 'StreamModeDetails': {'StreamMode': 'SOMETIMES'}}))
        self.assertEqual((status, json.loads(body)['__type']), (400, 'ValidationException'), body)

    def test_update_max_record_size(self):
        name = self.new_stream(1)
        big = b'x' * (1024 * 1024 + 1)
        self.assert_error('ValidationException', self.c.put_record, StreamName=name, Data=big, PartitionKey='k')
        self.call('UpdateMaxRecordSize', StreamARN=self.arn(name), MaxRecordSizeInKiB=2048)
        self.assertEqual(self.summary(name)['MaxRecordSizeInKiB'], 2048)
        self.c.put_record(StreamName=name, Data=big, PartitionKey='k')
        self.assertEqual([len(r['Data']) for r in self.read(name, S0)], [len(big)])
        for bad in (1023, 10241):  # raw: newer botocore refuses these before sending
            status, _, body = self.server.raw('UpdateMaxRecordSize', json.dumps(
                {'StreamARN': self.arn(name), 'MaxRecordSizeInKiB': bad}))
            self.assertEqual((status, json.loads(body)['__type']), (400, 'ValidationException'), body)
        self.assertEqual(self.summary(name)['MaxRecordSizeInKiB'], 2048)

    def test_enhanced_monitoring(self):
        name = self.new_stream(1)
        r = self.c.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=['IncomingBytes', 'OutgoingRecords'])
        self.assertEqual((r['StreamName'], r['CurrentShardLevelMetrics'], r['DesiredShardLevelMetrics']),
                         (name, [], ['IncomingBytes', 'OutgoingRecords']))
        d = self.c.describe_stream(StreamName=name)['StreamDescription']
        self.assertEqual(d['EnhancedMonitoring'], [{'ShardLevelMetrics': ['IncomingBytes', 'OutgoingRecords']}])
        r = self.c.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=['ALL'])
        self.assertEqual(len(r['DesiredShardLevelMetrics']), 7)
        r = self.c.disable_enhanced_monitoring(StreamARN=self.arn(name), ShardLevelMetrics=['IncomingBytes'])
        self.assertNotIn('IncomingBytes', r['DesiredShardLevelMetrics'])
        self.assertEqual(len(r['DesiredShardLevelMetrics']), 6)
        # The enabled shard-level metrics are in /metrics, per shard (within a second in cluster mode).
        self.c.put_records(StreamName=name, Records=[{'Data': b'abc', 'PartitionKey': str(i)} for i in range(5)])
        self.read(name, S0)
        series = 'eddy_kinesis_shard_%s{stream="' + name + '",shard="' + S0 + '"}'

        def scraped():
            conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=10)
            try:
                conn.request('GET', '/metrics')
                text = conn.getresponse().read().decode()
            finally:
                conn.close()
            return dict(line.rsplit(' ', 1) for line in text.splitlines() if line and not line.startswith('#'))

        m = {}
        for _ in range(50):
            m = scraped()
            if m.get(series % 'outgoing_records_total') == '5':
                break
            time.sleep(0.1)
        self.assertEqual(m.get(series % 'incoming_records_total'), '5', m)
        self.assertEqual(m.get(series % 'outgoing_records_total'), '5')
        self.assertNotIn(series % 'incoming_bytes_total', m, 'IncomingBytes was disabled')
        r = self.c.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=['ALL'])
        self.assertEqual(r['DesiredShardLevelMetrics'], [])
        for _ in range(50):  # every node learns of the change (at once on one machine)
            m = scraped()
            if series % 'incoming_records_total' not in m:
                break
            time.sleep(0.1)
        self.assertNotIn(series % 'incoming_records_total', m)
        self.assert_error('ResourceNotFoundException', self.c.enable_enhanced_monitoring, StreamName=name + '-gone',
                          ShardLevelMetrics=['ALL'])

    def test_resource_policy(self):
        name = self.new_stream(1)
        arn = self.arn(name)
        self.assertEqual(self.call('GetResourcePolicy', ResourceARN=arn)['Policy'], '{}')
        self.assert_error('ResourceNotFoundException', self.call, 'DeleteResourcePolicy', ResourceARN=arn)
        policy = json.dumps({'Version': '2012-10-17', 'Statement': [{
            'Effect': 'Allow', 'Principal': {'AWS': 'arn:aws:iam::000000000000:root'},
            'Action': ['kinesis:GetRecords'], 'Resource': arn}]})
        self.call('PutResourcePolicy', ResourceARN=arn, Policy=policy)
        self.assertEqual(self.call('GetResourcePolicy', ResourceARN=arn)['Policy'], policy)
        for bad in ('not json', '[]', '{"Version": "2012-10-17"}', '[' * 100000 + ']' * 100000,
                    json.dumps({'Statement': [], 'pad': 'x' * 30000})):
            self.assert_error(('InvalidArgumentException', 'ValidationException'), self.call, 'PutResourcePolicy',
                              ResourceARN=arn, Policy=bad)
        self.assertEqual(self.call('GetResourcePolicy', ResourceARN=arn)['Policy'], policy, 'refusals change nothing')
        self.assert_error('ResourceNotFoundException', self.call, 'GetResourcePolicy',
                          ResourceARN=arn + '/consumer/c:1700000000')
        self.assert_error('ResourceNotFoundException', self.call, 'PutResourcePolicy', ResourceARN=arn + '-gone',
                          Policy=policy)
        self.call('DeleteResourcePolicy', ResourceARN=arn)
        self.assertEqual(self.call('GetResourcePolicy', ResourceARN=arn)['Policy'], '{}')

    def test_settings_survive_a_restart(self):
        name = self.new_stream(1)
        arn = self.arn(name)
        self.call('UpdateStreamMode', StreamARN=arn, StreamModeDetails={'StreamMode': 'ON_DEMAND'},
                  WarmThroughputMiBps=30)
        self.call('UpdateMaxRecordSize', StreamARN=arn, MaxRecordSizeInKiB=4096)
        self.c.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=['IteratorAgeMilliseconds'])
        policy = json.dumps({'Version': '2012-10-17', 'Statement': []})
        self.call('PutResourcePolicy', ResourceARN=arn, Policy=policy)
        self.server.restart()
        self.__class__.c = self.server.client()
        s = self.summary(name)
        self.assertEqual((s['StreamModeDetails']['StreamMode'], s['WarmThroughput']['TargetMiBps'],
                          s['MaxRecordSizeInKiB'], s['EnhancedMonitoring']),
                         ('ON_DEMAND', 30, 4096, [{'ShardLevelMetrics': ['IteratorAgeMilliseconds']}]))
        self.assertEqual(self.call('GetResourcePolicy', ResourceARN=arn)['Policy'], policy)

    def test_every_operation_in_the_model(self):
        # Every operation of the Kinesis model is answered as AWS would.
        with open(MODEL) as f:
            operations = set(json.load(f)['operations'])
        name = self.new_stream(2)
        arn = self.arn(name)
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0, ShardIteratorType='LATEST')['ShardIterator']
        seq = self.c.put_record(StreamName=name, Data=b'x', PartitionKey='k', ExplicitHashKey='0')['SequenceNumber']
        calls = {
            'AddTagsToStream': dict(StreamName=name, Tags={'a': '1'}),
            'CreateStream': dict(StreamName=name + '-new', ShardCount=1),
            'DecreaseStreamRetentionPeriod': dict(StreamName=name, RetentionPeriodHours=24),
            'DeleteResourcePolicy': None,  # after PutResourcePolicy below
            'DeleteStream': dict(StreamName=name + '-new'),
            'DeregisterStreamConsumer': dict(StreamARN=arn, ConsumerName='c'),
            'DescribeAccountSettings': dict(),
            'DescribeLimits': dict(),
            'DescribeStream': dict(StreamName=name),
            'DescribeStreamConsumer': dict(StreamARN=arn, ConsumerName='c'),
            'DescribeStreamSummary': dict(StreamName=name),
            'DisableEnhancedMonitoring': dict(StreamName=name, ShardLevelMetrics=['ALL']),
            'EnableEnhancedMonitoring': dict(StreamName=name, ShardLevelMetrics=['ALL']),
            'GetRecords': dict(ShardIterator=it),
            'GetResourcePolicy': dict(ResourceARN=arn),
            'GetShardIterator': dict(StreamName=name, ShardId=S0, ShardIteratorType='AT_SEQUENCE_NUMBER',
                                     StartingSequenceNumber=seq),
            'IncreaseStreamRetentionPeriod': dict(StreamName=name, RetentionPeriodHours=48),
            'ListShards': dict(StreamName=name),
            'ListStreamConsumers': dict(StreamARN=arn),
            'ListStreams': dict(),
            'ListTagsForResource': dict(ResourceARN=arn),
            'ListTagsForStream': dict(StreamName=name),
            'MergeShards': dict(StreamName=name, ShardToMerge=S0, AdjacentShardToMerge=S1),
            'PutRecord': dict(StreamName=name, Data=b'y', PartitionKey='k'),
            'PutRecords': dict(StreamName=name, Records=[{'Data': b'z', 'PartitionKey': 'k'}]),
            'PutResourcePolicy': dict(ResourceARN=arn, Policy=json.dumps({'Statement': []})),
            'RegisterStreamConsumer': dict(StreamARN=arn, ConsumerName='c'),
            'RemoveTagsFromStream': dict(StreamName=name, TagKeys=['a']),
            'SplitShard': None,  # after MergeShards: on the merged shard
            'StartStreamEncryption': dict(StreamName=name, EncryptionType='KMS', KeyId='alias/aws/kinesis'),
            'StopStreamEncryption': dict(StreamName=name, EncryptionType='KMS', KeyId='alias/aws/kinesis'),
            'SubscribeToShard': None,  # with the ConsumerARN RegisterStreamConsumer answers
            'TagResource': dict(ResourceARN=arn, Tags={'b': '2'}),
            'UntagResource': dict(ResourceARN=arn, TagKeys=['b']),
            'UpdateAccountSettings': dict(MinimumThroughputBillingCommitment={'Status': 'DISABLED'}),
            'UpdateMaxRecordSize': dict(StreamARN=arn, MaxRecordSizeInKiB=1024),
            'UpdateShardCount': dict(StreamName=name, TargetShardCount=2, ScalingType='UNIFORM_SCALING'),
            'UpdateStreamMode': dict(StreamARN=arn, StreamModeDetails={'StreamMode': 'PROVISIONED'}),
            'UpdateStreamWarmThroughput': None,  # needs ON_DEMAND: tested above
        }
        self.assertEqual(set(calls), operations, 'every operation of the model has a call here')
        calls['DeleteResourcePolicy'] = dict(ResourceARN=arn)
        order = sorted(operations, key=lambda op: (op in ('DeleteResourcePolicy', 'SplitShard', 'DeleteStream'),
                                                   op != 'CreateStream',
                                                   CONSUMER_ORDER[0] if op in CONSUMER_ORDER else op,
                                                   CONSUMER_ORDER.index(op) if op in CONSUMER_ORDER else 0))
        consumer_arn = None
        for op in order:
            params = calls[op]
            if op == 'SubscribeToShard':
                # A real subscription: boto3 reads its initial-response event before it returns.
                with self.subTest(operation=op):
                    self.assertIsNotNone(consumer_arn, 'RegisterStreamConsumer ran first')
                    r = self.c.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId=S0,
                                                  StartingPosition={'Type': 'TRIM_HORIZON'})
                    self.assertEqual(r['ResponseMetadata']['HTTPHeaders'].get('content-type'),
                                     'application/vnd.amazon.eventstream')
                    r['EventStream'].close()
                continue
            if op == 'SplitShard':
                harness.wait_exists(self.c, name)
                shard = [s for s in harness.all_shards(self.c, name)
                         if 'EndingSequenceNumber' not in s['SequenceNumberRange']][0]
                low, high = (int(shard['HashKeyRange'][k]) for k in ('StartingHashKey', 'EndingHashKey'))
                params = dict(StreamName=name, ShardToSplit=shard['ShardId'], NewStartingHashKey=str((low + high) // 2))
            if op == 'DeleteStream':
                harness.wait_exists(self.c, name + '-new')
            if op in ('UpdateShardCount', 'MergeShards', 'UpdateStreamMode', 'UpdateMaxRecordSize',
                      'RegisterStreamConsumer'):
                harness.wait_exists(self.c, name)
            if params is None:
                continue
            with self.subTest(operation=op):
                out = self.call(op, **params)
                if op == 'RegisterStreamConsumer':
                    consumer_arn = out['Consumer']['ConsumerARN']


# ======================================================================================== errors
class ErrorsTest(ServerTestCase):
    label = 'errors'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.loose = cls.server.client(validate=False)
        cls.name = harness.unique_name('errs')
        harness.create_stream(cls.c, cls.name, 2)

    def test_unknown_stream(self):
        missing = harness.unique_name('missing')
        e = self.assert_error('ResourceNotFoundException', self.c.describe_stream,
                              StreamName=missing)
        self.assertIn(missing, e.response['Error']['Message'])
        for fn, kw in [
                (self.c.describe_stream_summary, {}),
                (self.c.put_record, {'Data': b'x', 'PartitionKey': 'a'}),
                (self.c.put_records, {'Records': [{'Data': b'x', 'PartitionKey': 'a'}]}),
                (self.c.get_shard_iterator, {'ShardId': S0, 'ShardIteratorType': 'LATEST'}),
                (self.c.list_shards, {}),
                (self.c.delete_stream, {}),
                (self.c.add_tags_to_stream, {'Tags': {'a': 'b'}}),
                (self.c.list_tags_for_stream, {}),
                (self.c.increase_stream_retention_period, {'RetentionPeriodHours': 48}),
                (self.c.split_shard, {'ShardToSplit': S0, 'NewStartingHashKey': '10'})]:
            with self.subTest(op=fn.__name__):
                self.assert_error('ResourceNotFoundException', fn, StreamName=missing, **kw)

    def test_create_existing_stream(self):
        e = self.assert_error('ResourceInUseException', self.c.create_stream,
                              StreamName=self.name, ShardCount=1)
        self.assertIn(self.name, e.response['Error']['Message'])

    def test_bad_json_body(self):
        status, hdrs, body = self.server.raw('ListStreams', b'{bad')
        self.assertEqual(status, 400, body)
        self.assertEqual(harness.error_type(json.loads(body)), 'SerializationException')
        self.assertTrue(hdrs.get('x-amzn-requestid'))

    def test_unknown_operation(self):
        status, hdrs, body = self.server.raw('Kinesis_20131202.Nope', b'{}')
        self.assertEqual(status, 400, body)
        self.assertEqual(harness.error_type(json.loads(body)), 'UnknownOperationException')

    def test_missing_required_member(self):
        status, _, body = self.server.raw('PutRecord', json.dumps(
            {'StreamName': self.name, 'Data': base64.b64encode(b'x').decode()}))
        self.assertEqual(status, 400, body)
        obj = json.loads(body)
        self.assertEqual(harness.error_type(obj), 'ValidationException')
        self.assertIn('partitionKey', obj['message'])

    def test_partition_key_length(self):
        e = self.assert_error('ValidationException', self.c.put_record, StreamName=self.name,
                              Data=b'x', PartitionKey='k' * 257)
        self.assertIn('Member must have length less than or equal to 256',
                      e.response['Error']['Message'])
        self.assert_error('ValidationException', self.loose.put_record, StreamName=self.name,
                          Data=b'x', PartitionKey='')
        self.assertEqual(self.c.put_record(StreamName=self.name, Data=b'x',
                                           PartitionKey='k' * 256)['ShardId'][:8], 'shardId-')

    def test_put_records_501(self):
        ok = self.c.put_records(StreamName=self.name, Records=[
            {'Data': b'x', 'PartitionKey': 'k'} for _ in range(500)])
        self.assertEqual(ok['FailedRecordCount'], 0)
        e = self.assert_error('ValidationException', self.c.put_records, StreamName=self.name,
                              Records=[{'Data': b'x', 'PartitionKey': 'k'} for _ in range(501)])
        msg = e.response['Error']['Message']
        self.assertTrue(msg.startswith('1 validation error detected: Value'), msg)
        self.assertIn('records', msg)
        self.assertIn('Member must have length less than or equal to 500', msg)

    def test_record_too_large(self):
        # Data + partition key <= 1 MiB (kinesis-api.md section 6). The model's blob limit is now
        # 10 MiB, so this is a semantic check: ValidationException (brief) or InvalidArgument.
        big = b'\x01' * (1024 * 1024 + 1)
        codes = ('ValidationException', 'InvalidArgumentException')
        self.assert_error(codes, self.c.put_record, StreamName=self.name, Data=big,
                          PartitionKey='a')
        self.assert_error(codes, self.c.put_records, StreamName=self.name,
                          Records=[{'Data': big, 'PartitionKey': 'a'}])
        # Nothing was written.
        for sh in (S0, S1):
            for x in self.read(self.name, sh):
                self.assertLessEqual(len(x['Data']), 1024 * 1024)

    def test_bad_iterator(self):
        good = self.c.get_shard_iterator(StreamName=self.name, ShardId=S0,
                                         ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        for it in ('garbage', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==', 'x' * 512,
                   good[:len(good) // 2]):
            with self.subTest(iterator=it[:20]):
                self.assert_error('InvalidArgumentException', self.c.get_records,
                                  ShardIterator=it)

    def test_get_records_limit_out_of_range(self):
        it = self.c.get_shard_iterator(StreamName=self.name, ShardId=S0,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        self.assert_error(('InvalidArgumentException', 'ValidationException'),
                          self.c.get_records, ShardIterator=it, Limit=10001)
        self.assert_error('ValidationException', self.loose.get_records, ShardIterator=it,
                          Limit=0)
        self.c.get_records(ShardIterator=it, Limit=10000)

    def test_nonexistent_shard(self):
        self.assert_error('ResourceNotFoundException', self.c.get_shard_iterator,
                          StreamName=self.name, ShardId='shardId-000000000099',
                          ShardIteratorType='TRIM_HORIZON')

    def test_stream_name_too_long(self):
        e = self.assert_error('ValidationException', self.c.create_stream,
                              StreamName='n' * 129, ShardCount=1)
        self.assertIn('Member must have length less than or equal to 128',
                      e.response['Error']['Message'])
        self.assert_error('ValidationException', self.c.describe_stream, StreamName='n' * 129)
        u = harness.unique_name('x')
        ok = 'n' * (128 - len(u)) + u
        self.assertEqual(len(ok), 128)
        harness.create_stream(self.c, ok, 1)
        self.c.delete_stream(StreamName=ok)

    def test_stream_name_bad_pattern(self):
        e = self.assert_error('ValidationException', self.c.create_stream,
                              StreamName='bad name!', ShardCount=1)
        msg = e.response['Error']['Message']
        self.assertIn('Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+', msg)
        self.assertEqual(msg, "1 validation error detected: Value 'bad name!' at 'streamName' "
                              "failed to satisfy constraint: Member must satisfy regular "
                              "expression pattern: [a-zA-Z0-9_.-]+")

    def test_shard_count_zero(self):
        self.assert_error('ValidationException', self.loose.create_stream,
                          StreamName=harness.unique_name('zero'), ShardCount=0)

    def test_retention_out_of_range(self):
        self.assert_error('InvalidArgumentException', self.c.decrease_stream_retention_period,
                          StreamName=self.name, RetentionPeriodHours=23)
        self.assert_error('InvalidArgumentException', self.c.increase_stream_retention_period,
                          StreamName=self.name, RetentionPeriodHours=8761)
        self.assertEqual(self.c.describe_stream_summary(StreamName=self.name)[
            'StreamDescriptionSummary']['RetentionPeriodHours'], 24)

    def test_explicit_hash_key_out_of_range(self):
        self.assert_error('InvalidArgumentException', self.c.put_record, StreamName=self.name,
                          Data=b'x', PartitionKey='a', ExplicitHashKey=str(2 ** 128))

    def test_iterator_type_parameter_combinations(self):
        for kw in ({'ShardIteratorType': 'AT_SEQUENCE_NUMBER'},
                   {'ShardIteratorType': 'AFTER_SEQUENCE_NUMBER'},
                   {'ShardIteratorType': 'AT_TIMESTAMP'}):
            with self.subTest(**kw):
                self.assert_error('InvalidArgumentException', self.c.get_shard_iterator,
                                  StreamName=self.name, ShardId=S0, **kw)
        self.assert_error(('InvalidArgumentException', 'ValidationException'),
                          self.c.get_shard_iterator, StreamName=self.name, ShardId=S0,
                          ShardIteratorType='BOGUS')

    def test_sequence_number_of_another_shard(self):
        r = self.c.put_record(StreamName=self.name, Data=b'x', PartitionKey='pk-1')
        self.assertEqual(r['ShardId'], S1)
        self.assert_error('InvalidArgumentException', self.c.get_shard_iterator,
                          StreamName=self.name, ShardId=S0,
                          ShardIteratorType='AT_SEQUENCE_NUMBER',
                          StartingSequenceNumber=r['SequenceNumber'])

    def test_list_shards_token_and_name(self):
        r = self.c.list_shards(StreamName=self.name, MaxResults=1)
        self.assertIn('NextToken', r)
        self.assert_error('InvalidArgumentException', self.c.list_shards, StreamName=self.name,
                          NextToken=r['NextToken'])
        self.assert_error('InvalidArgumentException', self.c.list_shards)

    def test_zz_server_still_up(self):
        # Runs last in this class (unittest orders tests by name).
        self.assertTrue(self.server.alive(), self.server.log_tail())
        r = self.c.list_streams()
        self.assertIn(self.name, r['StreamNames'])


# ============================================================================== special servers
class ExpiredIteratorTest(ServerTestCase):
    label = 'ttl'
    extra_args = ('--iterator-ttl-ms', '200')

    def test_iterator_expires(self):
        name = self.new_stream(1)
        self.c.put_record(StreamName=name, Data=b'x', PartitionKey='a')
        # A fresh iterator works (only judged when both calls took well under the 200 ms TTL,
        # so a loaded machine cannot make this flaky).
        t0 = time.monotonic()
        fresh = self.c.get_shard_iterator(StreamName=name, ShardId=S0,
                                          ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        try:
            got = [x['Data'] for x in self.c.get_records(ShardIterator=fresh)['Records']]
        except ClientError as e:
            got = e.response['Error']['Code']
        if time.monotonic() - t0 < 0.15:
            self.assertEqual(got, [b'x'])
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        time.sleep(0.5)  # the one sleep: the TTL is 200 ms
        self.assert_error('ExpiredIteratorException', self.c.get_records, ShardIterator=it)


class AuthTest(ServerTestCase):
    label = 'auth'
    extra_args = ('--access-key', harness.ACCESS_KEY, '--secret-key', harness.SECRET_KEY)

    def code_of(self, status, body):
        self.assertEqual(status, 400, body)
        return harness.error_type(json.loads(body)), json.loads(body).get('message', '')

    def test_right_keys_work(self):
        name = self.new_stream(1)
        self.c.put_record(StreamName=name, Data=b'signed', PartitionKey='a')
        self.assertEqual([x['Data'] for x in self.read(name, S0)], [b'signed'])
        # The scope must name the server's region (us-east-1 here), as AWS's endpoints require.
        other = self.server.client(region='eu-west-1')
        e = self.assert_error('InvalidSignatureException', other.list_streams)
        self.assertIn("Credential should be scoped to a valid region, not 'eu-west-1'", e.response['Error']['Message'])
        # The AWS CLI signs too.
        self.assertIn(name, self.server.cli('list-streams')['StreamNames'])

    def test_wrong_secret(self):
        bad = self.server.client(secret_key='x' + harness.SECRET_KEY[1:])
        e = self.assert_error('InvalidSignatureException', bad.list_streams)
        self.assertIn('The request signature we calculated does not match',
                      e.response['Error']['Message'])

    def test_unknown_access_key(self):
        bad = self.server.client(access_key='AKIDUNKNOWN0000000000')
        e = self.assert_error('UnrecognizedClientException', bad.list_streams)
        self.assertEqual(e.response['Error']['Message'],
                         'The security token included in the request is invalid.')

    def test_unsigned_request(self):
        status, _, body = self.server.raw('ListStreams', b'{}', sign=False)
        code, msg = self.code_of(status, body)
        self.assertEqual(code, 'MissingAuthenticationTokenException')
        self.assertEqual(msg, 'Missing Authentication Token')

    def test_stdlib_signer_and_unsigned_headers(self):
        status, _, body = self.server.raw('ListStreams', b'{}', sign=True)
        self.assertEqual(status, 200, body)
        # Headers outside SignedHeaders do not matter.
        status, _, body = self.server.raw('ListStreams', b'{}', sign=True, headers={
            'User-Agent': 'something-else/1.0', 'amz-sdk-invocation-id': 'abc'})
        self.assertEqual(status, 200, body)

    def test_tampered_body(self):
        hdrs = {'Content-Type': harness.JSON_CT, 'X-Amz-Target': 'Kinesis_20131202.ListStreams',
                'Host': self.server.host_header}
        hdrs.update(harness.sigv4_headers('POST', '/', '', hdrs, b'{}', harness.ACCESS_KEY,
                                          harness.SECRET_KEY, 'us-east-1', 'kinesis'))
        status, _, body = harness.http_post(self.server.port, '/', b'{"Limit": 1}', hdrs)
        self.assertEqual(self.code_of(status, body)[0], 'InvalidSignatureException')

    def test_clock_skew(self):
        now = datetime.datetime.now(UTC)
        for delta, text in ((-10, 'Signature expired'), (10, 'Signature not yet current')):
            d = (now + datetime.timedelta(minutes=delta)).strftime('%Y%m%dT%H%M%SZ')
            status, _, body = self.server.raw('ListStreams', b'{}', sign=True, amz_date=d)
            code, msg = self.code_of(status, body)
            self.assertEqual(code, 'InvalidSignatureException', delta)
            self.assertIn(text, msg)
        # Within the 5-minute window is fine.
        d = (now - datetime.timedelta(minutes=3)).strftime('%Y%m%dT%H%M%SZ')
        status, _, body = self.server.raw('ListStreams', b'{}', sign=True, amz_date=d)
        self.assertEqual(status, 200, body)

    def test_incomplete_signature(self):
        d = datetime.datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')
        status, _, body = self.server.raw('ListStreams', b'{}', sign=False, headers={
            'X-Amz-Date': d,
            'Authorization': 'AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/kinesis/aws4_request'
                             % (harness.ACCESS_KEY, d[:8])})
        self.assertEqual(self.code_of(status, body)[0], 'IncompleteSignatureException')


class ThroughputLimitsTest(ServerTestCase):
    label = 'limits'
    extra_args = ('--enforce-limits',)

    def new_stream(self, shards=1, prefix=None, **kw):
        # Control-plane limits apply too: poll DescribeStream slowly.
        name = harness.unique_name(prefix or 'limits')
        self.c.create_stream(StreamName=name, ShardCount=shards, **kw)
        harness.wait_exists(self.c, name, delay=0.5, attempts=60)
        return name

    def test_put_records_over_1000_per_second(self):
        name = self.new_stream(1, prefix='limits-put')
        failed_entries, ok = [], 0
        start = time.monotonic()
        for b in range(10):
            r = self.c.put_records(StreamName=name, Records=[
                {'Data': b'r', 'PartitionKey': 'b%d-%d' % (b, i)} for i in range(500)])
            self.assertEqual(r['ResponseMetadata']['HTTPStatusCode'], 200)
            self.assertEqual(len(r['Records']), 500)
            bad = [e for e in r['Records'] if 'ErrorCode' in e]
            self.assertEqual(r['FailedRecordCount'], len(bad))
            for e in r['Records']:
                if 'ErrorCode' not in e:
                    self.assert_seq(e['SequenceNumber'])
                    ok += 1
            failed_entries.extend(bad)
            if bad:
                break
        elapsed = time.monotonic() - start
        self.assertTrue(failed_entries, 'no entry throttled after %d records in %.2f s'
                        % (ok, elapsed))
        for e in failed_entries:
            self.assertEqual(e['ErrorCode'], 'ProvisionedThroughputExceededException')
            self.assertTrue(e.get('ErrorMessage'))
            self.assertNotIn('SequenceNumber', e)
        # About 1000 records/s were let through (allow a window boundary and some burst).
        self.assertLessEqual(ok, 1000 * (elapsed + 1) + 1000, elapsed)

    def test_get_records_over_5_per_second(self):
        name = self.new_stream(1, prefix='limits-get')
        self.c.put_record(StreamName=name, Data=b'x', PartitionKey='a')
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        successes, throttled = 0, None
        start = time.monotonic()
        for _ in range(30):
            try:
                it = self.c.get_records(ShardIterator=it)['NextShardIterator']
                successes += 1
            except ClientError as e:
                throttled = e
                break
        elapsed = time.monotonic() - start
        self.assertIsNotNone(throttled, '%d GetRecords in %.2f s, none throttled'
                             % (successes, elapsed))
        self.assertEqual(throttled.response['Error']['Code'],
                         'ProvisionedThroughputExceededException')
        self.assertEqual(throttled.response['ResponseMetadata']['HTTPStatusCode'], 400)
        self.assertIsInstance(throttled, self.c.exceptions.ProvisionedThroughputExceededException)
        self.assertGreaterEqual(successes, 1)
        self.assertLessEqual(successes, 5 * (int(elapsed) + 2))


if __name__ == '__main__':
    unittest.main()
