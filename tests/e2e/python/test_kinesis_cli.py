"""End-to-end tests of eddy through the AWS CLI (`aws` on PATH; v1 here, v2 also handled).

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kinesis_cli
"""

import base64
import json
import os
import subprocess
import time
import unittest

import harness
from harness import shard_id

S0, S1, S2 = (shard_id(i) for i in range(3))


def cli_major_version():
    out = subprocess.run(['aws', '--version'], capture_output=True, text=True, timeout=60)
    text = (out.stdout + out.stderr).strip()
    # "aws-cli/1.45.11 Python/3.11.7 ..." or "aws-cli/2.x ..."
    return int(text.split('/')[1].split('.')[0])


class CliTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.major = cli_major_version()
        cls.server = harness.EddyServer(label='cli').start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def cli(self, *args, **kw):
        return self.server.cli(*args, **kw)

    def data_args(self, text):
        """--data for put-record. CLI v1 sends the given string's bytes as the blob (base64 on the
        wire); v2 expects base64 input unless --cli-binary-format raw-in-base64-out."""
        if self.major >= 2:
            return ['--cli-binary-format', 'raw-in-base64-out', '--data', text]
        return ['--data', text]

    def test_stream_workflow(self):
        name = harness.unique_name('cli')
        self.assertIsNone(self.cli('create-stream', '--stream-name', name, '--shard-count', '1'))
        self.cli('wait', 'stream-exists', '--stream-name', name)

        listed = self.cli('list-streams')
        self.assertIn(name, listed['StreamNames'])

        summary = self.cli('describe-stream-summary', '--stream-name', name)[
            'StreamDescriptionSummary']
        self.assertEqual(summary['StreamName'], name)
        self.assertEqual(summary['StreamStatus'], 'ACTIVE')
        self.assertEqual(summary['OpenShardCount'], 1)
        self.assertEqual(summary['RetentionPeriodHours'], 24)
        self.assertTrue(summary['StreamARN'].endswith(':stream/' + name))

        put = self.cli('put-record', '--stream-name', name, '--partition-key', 'pk',
                       *self.data_args('hello from the cli'))
        self.assertEqual(put['ShardId'], S0)
        self.assertRegex(put['SequenceNumber'], harness.SEQ_RE)

        # Binary data from a file (fileb:// sends the bytes unchanged in v1 and v2).
        blob = bytes(range(256))
        path = os.path.join(self.server.root, 'blob.bin')
        with open(path, 'wb') as f:
            f.write(blob)
        put2 = self.cli('put-record', '--stream-name', name, '--partition-key', 'pk2',
                        '--data', 'fileb://' + path)
        self.assertGreater(int(put2['SequenceNumber']), int(put['SequenceNumber']))

        put3 = self.cli('put-records', '--stream-name', name, '--records', json.dumps([
            {'Data': base64.b64encode(b'batch-1').decode() if self.major >= 2 else 'batch-1',
             'PartitionKey': 'b1'},
            {'Data': base64.b64encode(b'batch-2').decode() if self.major >= 2 else 'batch-2',
             'PartitionKey': 'b2'}]))
        self.assertEqual(put3['FailedRecordCount'], 0)
        self.assertEqual(len(put3['Records']), 2)

        it = self.cli('get-shard-iterator', '--stream-name', name, '--shard-id', S0,
                      '--shard-iterator-type', 'TRIM_HORIZON')['ShardIterator']
        self.assertTrue(it)
        got = self.cli('get-records', '--shard-iterator', it)
        recs = got['Records']
        # The CLI prints blobs base64-encoded.
        self.assertEqual([base64.b64decode(r['Data']) for r in recs],
                         [b'hello from the cli', blob, b'batch-1', b'batch-2'])
        self.assertEqual([r['PartitionKey'] for r in recs], ['pk', 'pk2', 'b1', 'b2'])
        self.assertEqual(recs[0]['SequenceNumber'], put['SequenceNumber'])
        self.assertEqual([r['SequenceNumber'] for r in recs[2:]],
                         [r['SequenceNumber'] for r in put3['Records']])
        ts = recs[0]['ApproximateArrivalTimestamp']
        if isinstance(ts, (int, float)):  # v1 prints the wire value (epoch seconds)
            self.assertLess(abs(ts - time.time()), 300)
        else:
            self.assertIsInstance(ts, str)
        self.assertIn('NextShardIterator', got)
        self.assertEqual(got['MillisBehindLatest'], 0)

        shards = self.cli('list-shards', '--stream-name', name)['Shards']
        self.assertEqual([s['ShardId'] for s in shards], [S0])
        self.assertEqual(shards[0]['HashKeyRange'],
                         {'StartingHashKey': '0',
                          'EndingHashKey': '340282366920938463463374607431768211455'})

        self.assertIsNone(self.cli('split-shard', '--stream-name', name, '--shard-to-split', S0,
                                   '--new-starting-hash-key',
                                   '170141183460469231731687303715884105728'))
        self.cli('wait', 'stream-exists', '--stream-name', name)
        shards = {s['ShardId']: s for s in
                  self.cli('list-shards', '--stream-name', name)['Shards']}
        self.assertEqual(sorted(shards), [S0, S1, S2])
        self.assertIn('EndingSequenceNumber', shards[S0]['SequenceNumberRange'])
        self.assertEqual(shards[S1]['ParentShardId'], S0)
        self.assertEqual(shards[S2]['ParentShardId'], S0)
        self.assertEqual(shards[S1]['HashKeyRange']['EndingHashKey'],
                         '170141183460469231731687303715884105727')
        self.assertEqual(shards[S2]['HashKeyRange']['StartingHashKey'],
                         '170141183460469231731687303715884105728')
        # describe-stream paginates (the CLI follows ExclusiveStartShardId itself).
        desc = self.cli('describe-stream', '--stream-name', name)['StreamDescription']
        self.assertEqual(sorted(s['ShardId'] for s in desc['Shards']), [S0, S1, S2])

        self.assertIsNone(self.cli('delete-stream', '--stream-name', name))
        self.cli('wait', 'stream-not-exists', '--stream-name', name)
        p = self.cli('describe-stream-summary', '--stream-name', name, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b'ResourceNotFoundException', p.stderr)
        self.assertNotIn(name, self.cli('list-streams')['StreamNames'])

    def test_cli_errors(self):
        p = self.cli('describe-stream', '--stream-name', harness.unique_name('missing'),
                     check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b'ResourceNotFoundException', p.stderr)
        p = self.cli('create-stream', '--stream-name', 'bad name!', '--shard-count', '1',
                     check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b'ValidationException', p.stderr)

    def test_list_streams_pagination(self):
        prefix = harness.unique_name('clipg')
        names = ['%s-%d' % (prefix, i) for i in range(3)]
        for n in names:
            self.cli('create-stream', '--stream-name', n, '--shard-count', '1')
        for n in names:
            self.cli('wait', 'stream-exists', '--stream-name', n)
        # --page-size 1 forces the CLI to follow NextToken across pages.
        listed = self.cli('list-streams', '--page-size', '1')
        for n in names:
            self.assertIn(n, listed['StreamNames'])
        self.assertEqual(len(listed['StreamNames']), len(set(listed['StreamNames'])))
        first = self.cli('list-streams', '--max-items', '1')
        self.assertEqual(len(first['StreamNames']), 1)
        self.assertIn('NextToken', first)


if __name__ == '__main__':
    unittest.main()
