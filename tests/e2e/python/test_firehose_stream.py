"""Firehose delivery into an eddy stream (eddy's own destination: an HttpEndpointDestination whose
Url is a Kinesis stream ARN): records arrive one per stream record, exactly once across kill -9,
refusals go to the backup bucket after the retry duration; and UpdateDestination switching targets.
Seed for the crash rounds: EDDY_CRASH_SEED=<int>."""
import base64
import json
import os
import unittest

import harness
from test_firehose import ROLE, CrashBase, FirehoseTestCase, firehose_client, stream_arn


def stream_dest(target, backup_bucket, interval=1, retry=300, newline=False):
    d = {'EndpointConfiguration': {'Url': stream_arn(target), 'Name': 'eddy stream'},
         'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': interval},
         'RetryOptions': {'DurationInSeconds': retry},
         'S3Configuration': {'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + backup_bucket,
                             'ErrorOutputPrefix': 'failed/!{firehose:error-output-type}/'}}
    if newline:
        d['ProcessingConfiguration'] = {'Enabled': True, 'Processors': [{'Type': 'AppendDelimiterToRecord'}]}
    return d


def stream_records(client, name):
    """Every record of every shard of `name`, in shard order."""
    out = []
    for s in harness.all_shards(client, name):
        recs, _ = harness.read_shard(client, name, s['ShardId'])
        out.extend(recs)
    return out


class TestStreamDestination(FirehoseTestCase):
    label = 'fh-stream-dest'

    def test_direct_put_records_become_stream_records(self):
        target = harness.create_stream(self.k, self.uniq('out'), 2)
        name = self.uniq('ds')
        self.fh.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration=stream_dest(
            target, self.uniq('bkt'), newline=True))
        data = [json.dumps({'i': i}).encode() for i in range(120)]
        self.fh.put_record_batch(DeliveryStreamName=name, Records=[{'Data': d} for d in data])
        recs = self.wait_for(lambda: stream_records(self.k, target), lambda r: len(r) >= 120, what='stream records')
        self.assertEqual(sorted(r['Data'] for r in recs), sorted(d + b'\n' for d in data))
        keys = {r['PartitionKey'] for r in recs}
        self.assertEqual(len(keys), 120, 'one partition key per source position')
        self.assertTrue(all(k.startswith(name + ':0-') for k in keys), sorted(keys)[:3])
        self.assertEqual({len(stream_records_of_shard) > 0 for stream_records_of_shard in
                          [harness.read_shard(self.k, target, s['ShardId'])[0] for s in harness.all_shards(self.k, target)]},
                         {True}, 'records spread over both shards')
        desc = self.fh.describe_delivery_stream(DeliveryStreamName=name)['DeliveryStreamDescription']
        d = desc['Destinations'][0]['HttpEndpointDestinationDescription']
        self.assertEqual(d['EndpointConfiguration']['Url'], stream_arn(target))

    def test_stream_source_to_stream_destination(self):
        src = harness.create_stream(self.k, self.uniq('src'), 2)
        target = harness.create_stream(self.k, self.uniq('out'), 1)
        name = self.uniq('ds')
        self.fh.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(src), 'RoleARN': ROLE},
            HttpEndpointDestinationConfiguration=stream_dest(target, self.uniq('bkt')))
        data = [('rec-%03d' % i).encode() for i in range(200)]
        for start in range(0, 200, 100):
            self.k.put_records(StreamName=src, Records=[{'Data': d, 'PartitionKey': d.decode()} for d in data[start:start + 100]])
        recs = self.wait_for(lambda: stream_records(self.k, target), lambda r: len(r) >= 200, what='stream records')
        self.assertEqual(sorted(r['Data'] for r in recs), data)

    def test_missing_target_is_refused_at_creation(self):
        err = self.assert_client_error(lambda: self.fh.create_delivery_stream(
            DeliveryStreamName=self.uniq('ds'), HttpEndpointDestinationConfiguration=stream_dest('no-such-stream', 'b')))
        self.assertEqual(err['Code'], 'InvalidArgumentException')
        self.assertIn('no-such-stream', err['Message'])

    def test_deleted_target_backs_records_up_after_the_retry_duration(self):
        target = harness.create_stream(self.k, self.uniq('out'), 1)
        name, bucket = self.uniq('ds'), self.uniq('bkt')
        self.fh.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration=stream_dest(
            target, bucket, retry=1))
        self.k.delete_stream(StreamName=target)
        harness.wait_not_exists(self.k, target)
        self.fh.put_record_batch(DeliveryStreamName=name, Records=[{'Data': b'a'}, {'Data': b'b'}])
        objs = self.wait_for(lambda: self.objects(bucket), lambda o: o, what='backup object')
        key, body = next(iter(objs.items()))
        self.assertTrue(key.startswith('failed/kinesis-stream-failed/'), key)
        rows = [json.loads(l) for l in body.decode().splitlines()]
        self.assertEqual(sorted(base64.b64decode(r['rawData']) for r in rows), [b'a', b'b'])
        self.assertEqual(rows[0]['errorCode'], 'Kinesis.ResourceNotFound')

    def test_update_destination_switches_target_and_kind(self):
        first = harness.create_stream(self.k, self.uniq('one'), 1)
        second = harness.create_stream(self.k, self.uniq('two'), 1)
        name, bucket = self.uniq('ds'), self.uniq('bkt')
        self.fh.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration=stream_dest(
            first, bucket))
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'to-first'})
        self.wait_for(lambda: stream_records(self.k, first), lambda r: len(r) == 1, what='first record')
        self.fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId='1',
                                   DestinationId='destinationId-000000000001',
                                   HttpEndpointDestinationUpdate={'EndpointConfiguration': {'Url': stream_arn(second)}})
        desc = self.fh.describe_delivery_stream(DeliveryStreamName=name)['DeliveryStreamDescription']
        self.assertEqual(desc['VersionId'], '2')
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'to-second'})
        recs = self.wait_for(lambda: stream_records(self.k, second), lambda r: len(r) == 1, what='second record')
        self.assertEqual(recs[0]['Data'], b'to-second')
        self.assertEqual(len(stream_records(self.k, first)), 1)
        # to another kind of destination: the S3-style bucket
        self.fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId='2',
                                   DestinationId='destinationId-000000000001',
                                   ExtendedS3DestinationUpdate={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + bucket,
                                                                'Prefix': 'objects/',
                                                                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 1}})
        desc = self.fh.describe_delivery_stream(DeliveryStreamName=name)['DeliveryStreamDescription']
        self.assertIn('ExtendedS3DestinationDescription', desc['Destinations'][0])
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'to-bucket'})
        objs = self.wait_for(lambda: self.objects(bucket), lambda o: o, what='bucket object')
        self.assertEqual(list(objs.values()), [b'to-bucket'])
        # a missing stream is refused, and the version stays
        err = self.assert_client_error(lambda: self.fh.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId='3', DestinationId='destinationId-000000000001',
            HttpEndpointDestinationUpdate={'EndpointConfiguration': {'Url': stream_arn('gone')},
                                           'S3Update': {'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + bucket}}))
        self.assertEqual(err['Code'], 'InvalidArgumentException')
        desc = self.fh.describe_delivery_stream(DeliveryStreamName=name)['DeliveryStreamDescription']
        self.assertEqual(desc['VersionId'], '3')

    def assert_client_error(self, fn):
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            fn()
        return cm.exception.response['Error']


class TestCrashStreamDestination(CrashBase):
    """kill -9 while a stream source is delivered into a stream: every record exactly once."""
    label = 'fh-crash-sd'

    def put_one_batch(self, client, records):
        resp = client.put_records(StreamName=self.src, Records=[
            {'Data': r, 'PartitionKey': r[:24].decode()} for r in records])
        return (resp['FailedRecordCount'] == 0 and
                all('SequenceNumber' in x for x in resp['Records'])) or resp

    # The "bucket" of the crash rounds is the target stream.
    def lines(self, bucket, gz=False):
        return [(bucket, [r['Data'] for r in stream_records(self.k, bucket)])]

    def objects(self, bucket):
        return {}

    def test_kill9_every_record_exactly_once_in_the_target_stream(self):
        self.src = harness.create_stream(self.k, self.uniq('src'), 2)
        self.target = harness.create_stream(self.k, self.uniq('out'), 2)
        self.ds_name = self.uniq('ksd')
        self.fh.create_delivery_stream(
            DeliveryStreamName=self.ds_name, DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(self.src), 'RoleARN': ROLE},
            HttpEndpointDestinationConfiguration=stream_dest(self.target, self.uniq('bkt')))
        self.crash_rounds(self.target, lambda: self.server.client(connect_timeout=2, read_timeout=20))


if __name__ == '__main__':
    unittest.main()
