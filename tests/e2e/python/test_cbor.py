"""End-to-end tests of eddy's CBOR protocol (application/x-amz-cbor-1.1), as the AWS Java SDKs speak
it to Kinesis by default: same X-Amz-Target values, CBOR map bodies, blobs as CBOR byte strings,
timestamps as epoch milliseconds. The Java SDKs (v1 SdkCborGenerator, v2 likewise) write request
timestamps as CBOR tag 1 wrapping the epoch-millisecond integer; plain integers are tested too.

Needs cbor2, which is installed for Debian's interpreter:
    EDDY_BIN=/path/to/eddy /usr/bin/python3 -m unittest -v test_cbor
"""

import base64
import json
import time
import unittest

import cbor2

import harness
from harness import CBOR_CT, shard_id

S0, S1 = shard_id(0), shard_id(1)

# cbor2 maps tag 1 to a datetime in *seconds*; a server answering Java-style (tag 1 + millis) would
# make it fail with "year out of range". Decode tag 1 as a plain CBORTag with the pure-Python decoder
# so both tagged and untagged millisecond timestamps can be checked.
try:
    import cbor2.decoder as _pydec

    _pydec.semantic_decoders[1] = lambda self: self.set_shareable(cbor2.CBORTag(1, self._decode()))
    _loads = _pydec.loads
except (ImportError, AttributeError):  # other cbor2 versions: C decoder
    _loads = cbor2.loads


def cbor_loads(data):
    return _loads(data)


def millis(value):
    """A CBOR timestamp from the server: epoch milliseconds, untagged or in tag 1."""
    if isinstance(value, cbor2.CBORTag):
        assert value.tag == 1, value
        value = value.value
    assert isinstance(value, (int, float)) and not isinstance(value, bool), repr(value)
    return value


class CborTestCase(unittest.TestCase):
    extra_args = ()
    label = 'cbor'

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(cls.extra_args, label=cls.label).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def call(self, op, payload, raw_body=None, **kw):
        """CBOR request; returns (status, decoded body or None, headers)."""
        body = raw_body if raw_body is not None else cbor2.dumps(payload)
        status, hdrs, data = self.server.raw(op, body, content_type=CBOR_CT, **kw)
        if not data:
            return status, None, hdrs
        self.assertTrue(hdrs.get('content-type', '').startswith(CBOR_CT),
                        'response content-type %r for %s (status %d)'
                        % (hdrs.get('content-type'), op, status))
        return status, cbor_loads(data), hdrs

    def ok(self, op, payload):
        status, body, _ = self.call(op, payload)
        self.assertEqual(status, 200, '%s -> %r' % (op, body))
        return body

    def error(self, op, payload=None, raw_body=None, code=None, **kw):
        status, body, hdrs = self.call(op, payload, raw_body=raw_body, **kw)
        self.assertEqual(status, 400, body)
        self.assertIsInstance(body, dict, 'error body must be a CBOR map')
        self.assertIn('message', body)
        self.assertIsInstance(body['message'], str)
        self.assertTrue(hdrs.get('x-amzn-requestid'))
        if code is not None:
            self.assertEqual(harness.error_type(body), code, body)
        return body

    def create(self, shards=1):
        name = harness.unique_name('cbor')
        body = self.ok('CreateStream', {'StreamName': name, 'ShardCount': shards})
        self.assertIn(body, (None, {}))
        for _ in range(150):
            d = self.ok('DescribeStream', {'StreamName': name})['StreamDescription']
            if d['StreamStatus'] == 'ACTIVE':
                return name
            time.sleep(0.2)
        self.fail('stream %s never became ACTIVE' % name)

    def iterator(self, name, shard=S0, **kw):
        req = {'StreamName': name, 'ShardId': shard}
        req.update(kw)
        return self.ok('GetShardIterator', req)['ShardIterator']

    def read_all(self, name, shard=S0, **kw):
        it = self.iterator(name, shard, **kw)
        out = []
        for _ in range(100):
            r = self.ok('GetRecords', {'ShardIterator': it})
            out.extend(r['Records'])
            it = r.get('NextShardIterator')
            if not it or (not r['Records'] and r['MillisBehindLatest'] == 0):
                return out
        self.fail('not caught up')


class CborApiTest(CborTestCase):

    def test_create_and_describe(self):
        name = self.create(2)
        d = self.ok('DescribeStream', {'StreamName': name})['StreamDescription']
        self.assertEqual(d['StreamName'], name)
        self.assertEqual(d['StreamStatus'], 'ACTIVE')
        self.assertIs(d['HasMoreShards'], False)
        self.assertEqual(d['RetentionPeriodHours'], 24)
        self.assertTrue(d['StreamARN'].endswith(':stream/' + name))
        created = millis(d['StreamCreationTimestamp'])
        self.assertLess(abs(created - time.time() * 1000), 300000,
                        'StreamCreationTimestamp %r is not epoch milliseconds' % created)
        self.assertEqual([s['ShardId'] for s in d['Shards']], [S0, S1])
        self.assertEqual(d['Shards'][1]['HashKeyRange'],
                         {'StartingHashKey': '170141183460469231731687303715884105728',
                          'EndingHashKey': '340282366920938463463374607431768211455'})
        s = self.ok('DescribeStreamSummary', {'StreamName': name})['StreamDescriptionSummary']
        self.assertEqual(s['OpenShardCount'], 2)
        self.assertLess(abs(millis(s['StreamCreationTimestamp']) - created), 1000)
        names = self.ok('ListStreams', {})['StreamNames']
        self.assertIn(name, names)
        shards = self.ok('ListShards', {'StreamName': name})['Shards']
        self.assertEqual([x['ShardId'] for x in shards], [S0, S1])

    def test_put_get_binary_round_trip(self):
        name = self.create(2)
        blob = bytes(range(256)) * 3
        r = self.ok('PutRecord', {'StreamName': name, 'Data': blob, 'PartitionKey': 'a'})
        self.assertEqual(r['ShardId'], S0)
        self.assertRegex(r['SequenceNumber'], harness.SEQ_RE)
        batch = [{'Data': b'\x00\xffcbor-%d' % i, 'PartitionKey': 'a'} for i in range(5)]
        batch.append({'Data': b'to-shard-1', 'PartitionKey': 'pk-1'})
        pr = self.ok('PutRecords', {'StreamName': name, 'Records': batch})
        self.assertEqual(pr['FailedRecordCount'], 0)
        self.assertEqual(len(pr['Records']), 6)
        self.assertEqual([x['ShardId'] for x in pr['Records']], [S0] * 5 + [S1])
        recs = self.read_all(name, S0, ShardIteratorType='TRIM_HORIZON')
        self.assertEqual([x['Data'] for x in recs], [blob] + [b['Data'] for b in batch[:5]])
        for x in recs:
            self.assertIsInstance(x['Data'], bytes, 'Data must be a CBOR byte string')
            self.assertEqual(x['PartitionKey'], 'a')
            ts = millis(x['ApproximateArrivalTimestamp'])
            self.assertLess(abs(ts - time.time() * 1000), 300000,
                            'ApproximateArrivalTimestamp %r is not epoch milliseconds' % ts)
        self.assertEqual(recs[0]['SequenceNumber'], r['SequenceNumber'])
        self.assertEqual([x['SequenceNumber'] for x in recs[1:]],
                         [x['SequenceNumber'] for x in pr['Records'][:5]])
        self.assertEqual([x['Data'] for x in self.read_all(name, S1,
                                                           ShardIteratorType='TRIM_HORIZON')],
                         [b'to-shard-1'])
        page = self.ok('GetRecords', {'ShardIterator': self.iterator(
            name, S0, ShardIteratorType='TRIM_HORIZON'), 'Limit': 2})
        self.assertEqual(len(page['Records']), 2)
        self.assertIsInstance(page['MillisBehindLatest'], int)
        self.assertIsInstance(page['NextShardIterator'], str)

    def test_cbor_and_json_see_the_same_records(self):
        name = self.create(1)
        self.ok('PutRecord', {'StreamName': name, 'Data': b'\x01from-cbor\xfe', 'PartitionKey': 'k'})
        status, body, _ = self.server.json_call('PutRecord', {
            'StreamName': name, 'PartitionKey': 'k',
            'Data': base64.b64encode(b'\x02from-json\xfd').decode()})
        self.assertEqual(status, 200, body)
        via_cbor = self.read_all(name, ShardIteratorType='TRIM_HORIZON')
        self.assertEqual([x['Data'] for x in via_cbor], [b'\x01from-cbor\xfe', b'\x02from-json\xfd'])
        status, it, _ = self.server.json_call('GetShardIterator', {
            'StreamName': name, 'ShardId': S0, 'ShardIteratorType': 'TRIM_HORIZON'})
        status, page, _ = self.server.json_call('GetRecords', {'ShardIterator': it['ShardIterator']})
        self.assertEqual(status, 200, page)
        self.assertEqual([base64.b64decode(x['Data']) for x in page['Records']],
                         [b'\x01from-cbor\xfe', b'\x02from-json\xfd'])
        # The same instant: JSON in seconds, CBOR in milliseconds.
        for j, c in zip(page['Records'], via_cbor):
            self.assertLess(abs(j['ApproximateArrivalTimestamp'] * 1000
                                - millis(c['ApproximateArrivalTimestamp'])), 1.5)

    def test_shard_iterator_types_and_at_timestamp_millis(self):
        name = self.create(1)
        seqs = [self.ok('PutRecord', {'StreamName': name, 'Data': b'r%d' % i,
                                      'PartitionKey': 'a'})['SequenceNumber'] for i in range(6)]
        recs = self.read_all(name, ShardIteratorType='TRIM_HORIZON')
        self.assertEqual([x['SequenceNumber'] for x in recs], seqs)
        arrivals = [millis(x['ApproximateArrivalTimestamp']) for x in recs]

        def first(**kw):
            r = self.ok('GetRecords', {'ShardIterator': self.iterator(name, **kw)})
            return r['Records']

        self.assertEqual(first(ShardIteratorType='AT_SEQUENCE_NUMBER',
                               StartingSequenceNumber=seqs[3])[0]['Data'], b'r3')
        self.assertEqual(first(ShardIteratorType='AFTER_SEQUENCE_NUMBER',
                               StartingSequenceNumber=seqs[3])[0]['Data'], b'r4')
        self.assertEqual(first(ShardIteratorType='LATEST'), [])
        for k in (0, 2, 5):
            t = int(arrivals[k])
            want = [i for i, a in enumerate(arrivals) if a >= t][0]
            for label, ts in (('int millis', t), ('float millis', float(t)),
                              ('tag 1 + int millis (Java SDK)', cbor2.CBORTag(1, t))):
                with self.subTest(record=k, encoding=label):
                    got = first(ShardIteratorType='AT_TIMESTAMP', Timestamp=ts)
                    self.assertTrue(got, 'AT_TIMESTAMP %r returned nothing: read as seconds?' % t)
                    self.assertEqual(got[0]['SequenceNumber'], seqs[want])
        early = int(arrivals[0]) - 60000
        self.assertEqual(first(ShardIteratorType='AT_TIMESTAMP', Timestamp=early)[0]['Data'], b'r0')

    def test_errors(self):
        name = self.create(1)
        missing = harness.unique_name('missing')
        body = self.error('DescribeStream', {'StreamName': missing},
                          code='ResourceNotFoundException')
        self.assertIn(missing, body['message'])
        self.error('PutRecord', {'StreamName': missing, 'Data': b'x', 'PartitionKey': 'a'},
                   code='ResourceNotFoundException')
        body = self.error('PutRecords', {'StreamName': name, 'Records': [
            {'Data': b'x', 'PartitionKey': 'a'}] * 501}, code='ValidationException')
        self.assertIn('Member must have length less than or equal to 500', body['message'])
        self.error('GetRecords', {'ShardIterator': 'garbage-iterator'},
                   code='InvalidArgumentException')
        self.error('GetShardIterator', {'StreamName': name, 'ShardId': 'shardId-000000000099',
                                        'ShardIteratorType': 'TRIM_HORIZON'},
                   code='ResourceNotFoundException')
        self.error('CreateStream', {'StreamName': 'bad name!', 'ShardCount': 1},
                   code='ValidationException')
        self.error('Kinesis_20131202.Nope', {}, code='UnknownOperationException')
        for raw in (b'\xff\xff\xff', b'\x1c', b'\xbf\x61a', b'\xa1\x63ab', b'{"json": "not cbor"}'):
            with self.subTest(body=raw):
                self.error('ListStreams', raw_body=raw, code='SerializationException')
        # Still serving.
        self.assertIn(name, self.ok('ListStreams', {})['StreamNames'])

    def test_empty_output_operations(self):
        name = self.create(1)
        for op, payload in (
                ('AddTagsToStream', {'StreamName': name, 'Tags': {'k': 'v'}}),
                ('IncreaseStreamRetentionPeriod', {'StreamName': name, 'RetentionPeriodHours': 48}),
                ('DeleteStream', {'StreamName': name})):
            with self.subTest(op=op):
                self.assertIn(self.ok(op, payload), (None, {}))


class CborAuthTest(CborTestCase):
    label = 'cbor-auth'
    extra_args = ('--access-key', harness.ACCESS_KEY, '--secret-key', harness.SECRET_KEY)

    def test_signed_cbor_accepted_unsigned_refused(self):
        # The signature covers the raw CBOR bytes (SHA-256 of the body).
        self.assertIn('StreamNames', self.ok('ListStreams', {'Limit': 5}))
        self.error('ListStreams', {'Limit': 5}, sign=False,
                   code='MissingAuthenticationTokenException')
        self.error('ListStreams', {'Limit': 5}, secret_key='wrong-secret',
                   code='InvalidSignatureException')


if __name__ == '__main__':
    unittest.main()
