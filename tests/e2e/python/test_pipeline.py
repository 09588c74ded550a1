"""Pipelines as code against the real binary: `eddy plan | apply | destroy` with a pipeline file
(examples/sales-revenue/pipeline.yaml) and with the same pipeline as a CloudFormation template
written as `cdk synth` emits it (pipeline_data/SalesPipelineStack.template.json): apply, re-apply
(no change), plan after an edit (nothing changes), apply the edit, destroy. Bad files (YAML syntax,
unknown key, dangling Ref, invalid SQL) fail with the file's line and leave the server unchanged;
a server-side failure part-way says what was and was not done. The trades-max example runs."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
import test_analytics as kda
import test_firehose as fh

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
EXAMPLES = os.path.join(ROOT, 'examples')
CDK_TEMPLATE = os.path.join(HERE, 'pipeline_data', 'SalesPipelineStack.template.json')


class PipelineTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label='pipeline').start()
        cls.k = cls.server.client()
        cls.ka = kda.analytics_client(cls.server)
        cls.fh = fh.firehose_client(cls.server)
        cls.work = tempfile.mkdtemp(prefix='eddy-pipeline-')

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def eddy(self, *args, expect=0):
        p = subprocess.run([harness.eddy_bin()] + list(args) + ['--endpoint', self.server.endpoint],
                           capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, expect, 'eddy %s\nstdout:\n%s\nstderr:\n%s' % (' '.join(args), p.stdout, p.stderr))
        return p

    def server_state(self):
        """Everything the server holds, to check that a command changed nothing."""
        streams = {s: self.k.describe_stream_summary(StreamName=s)['StreamDescriptionSummary']['OpenShardCount']
                   for s in self.k.list_streams()['StreamNames']}
        apps = {}
        for a in self.ka.list_applications()['ApplicationSummaries']:
            d = self.ka.describe_application(ApplicationName=a['ApplicationName'])['ApplicationDetail']
            apps[a['ApplicationName']] = (d['ApplicationStatus'], d['ApplicationVersionId'])
        deliveries = {}
        for n in self.fh.list_delivery_streams()['DeliveryStreamNames']:
            deliveries[n] = self.fh.describe_delivery_stream(DeliveryStreamName=n)['DeliveryStreamDescription']['VersionId']
        return streams, apps, deliveries

    def app(self, name):
        return self.ka.describe_application(ApplicationName=name)['ApplicationDetail']

    def destination(self, name):
        d = self.fh.describe_delivery_stream(DeliveryStreamName=name)['DeliveryStreamDescription']
        return d['Destinations'][0]['ExtendedS3DestinationDescription']

    def wait_gone(self):
        for _ in range(150):
            if not self.k.list_streams()['StreamNames']:
                return
            time.sleep(0.1)
        self.fail('streams still listed after destroy: %s' % self.k.list_streams()['StreamNames'])

    def check_sales_pipeline_running(self, shards=2):
        summary = self.k.describe_stream_summary(StreamName='sales')['StreamDescriptionSummary']
        self.assertEqual(summary['StreamStatus'], 'ACTIVE')
        self.assertEqual(summary['OpenShardCount'], shards)
        self.assertEqual(self.k.describe_stream_summary(StreamName='sales-by-category')['StreamDescriptionSummary']['StreamStatus'], 'ACTIVE')
        for name in ('sales-revenue', 'sales-by-category'):
            self.assertEqual(self.app(name)['ApplicationStatus'], 'RUNNING')
        out = self.app('sales-revenue')['OutputDescriptions']
        self.assertEqual(out[0]['Name'], 'DEST_SQL_STREAM_BY_STORE_ID')
        self.assertTrue(out[0]['KinesisFirehoseOutputDescription']['ResourceARN'].endswith(':deliverystream/sales-revenue'))
        dest = self.destination('sales-revenue')
        self.assertEqual(dest['BucketARN'], 'arn:aws:s3:::sales-results')
        return dest


class PipelineFileTest(PipelineTestBase):
    def test_apply_reapply_edit_destroy(self):
        src = os.path.join(self.work, 'sales')
        shutil.copytree(os.path.join(EXAMPLES, 'sales-revenue'), src)
        path = os.path.join(src, 'pipeline.yaml')

        p = self.eddy('plan', path)
        self.assertIn('+ create stream sales: 2 shards', p.stdout)
        self.assertIn('5 to create', p.stdout)
        self.assertEqual(self.server_state(), ({}, {}, {}), 'plan changed the server')

        p = self.eddy('apply', path)
        self.assertIn('[5/5] done', p.stdout)
        dest = self.check_sales_pipeline_running()
        self.assertEqual(dest['Prefix'], 'sales_revenue/')
        self.assertEqual(self.app('sales-revenue')['InputDescriptions'][0]['InputSchema']['RecordColumns'][3],
                         {'Name': 'sales', 'Mapping': '$.sales', 'SqlType': 'REAL'})

        before = self.server_state()
        p = self.eddy('apply', path)
        self.assertIn('No changes', p.stdout)
        self.assertEqual(self.server_state(), before)
        self.eddy('plan', path, '--exit-code', expect=0)  # for CI: 0 no changes, 2 changes

        # The records flow: a sale reaches the drill-down's input (the application reads it).
        self.k.put_record(StreamName='sales', PartitionKey='store_1',
                          Data=json.dumps({'store_id': 'store_1', 'category': 'Books', 'sales': 12.5}).encode())

        with open(path) as f:
            text = f.read()
        text = text.replace('    shards: 2', '    shards: 4')
        text = text.replace('prefix: sales_revenue/', 'prefix: revenue_v2/')
        text = text.replace('interval_seconds: 60', 'interval_seconds: 30')
        text = text.replace('SUM("sales") AS "revenue"', 'MAX("sales") AS "revenue"')
        text = text.replace('"STREAM_PUMP"', '"REVENUE_PUMP"')  # a renamed pump cannot keep its window state
        text = text.replace('  sales-revenue:\n    description:', '  sales-revenue:\n    parallelism: 2\n    description:')
        with open(path, 'w') as f:
            f.write(text)
        p = self.eddy('plan', path)
        self.assertIn('~ update stream sales: shards 2 -> 4 (reshard)', p.stdout)
        self.assertRegex(p.stdout, r'~ update delivery stream sales-revenue: .*Prefix "sales_revenue/" -> "revenue_v2/"')
        self.assertIn('~ update application sales-revenue: parallelism the server\'s -> 2', p.stdout)
        self.assertIn('code changed', p.stdout)
        self.assertIn('3 to update', p.stdout)
        self.assertEqual(self.server_state(), before, 'plan changed the server')
        self.eddy('plan', path, '--exit-code', expect=2)

        version = self.app('sales-revenue')['ApplicationVersionId']
        p = self.eddy('apply', path)
        self.assertIn('warning: application sales-revenue: pump STREAM_PUMP is gone: its saved state was dropped', p.stdout)
        dest = self.check_sales_pipeline_running(shards=4)
        self.assertEqual(dest['Prefix'], 'revenue_v2/')
        self.assertEqual(dest['BufferingHints']['IntervalInSeconds'], 30)
        detail = self.app('sales-revenue')
        self.assertIn('MAX("sales")', detail['ApplicationCode'])
        self.assertGreater(detail['ApplicationVersionId'], version)
        self.assertIn('parallelism 2 (its own)', self.eddy('apps', 'describe', 'sales-revenue').stdout)
        self.assertIn('No changes', self.eddy('apply', path).stdout)

        p = self.eddy('destroy', path)
        self.assertIn('5 to delete', p.stdout)
        self.wait_gone()
        self.assertEqual(self.server_state(), ({}, {}, {}))
        self.assertIn('Nothing to destroy', self.eddy('destroy', path).stdout)


    def test_named_pipeline_deletes_what_the_file_dropped(self):
        src = os.path.join(self.work, 'named')
        shutil.copytree(os.path.join(EXAMPLES, 'sales-revenue'), src)
        path = os.path.join(src, 'pipeline.yaml')
        self.eddy('apply', path)
        harness.create_stream(self.k, 'bystander', 1)  # not the pipeline's: never touched

        with open(path) as f:
            text = f.read()
        self.assertIn('name: sales-revenue', text)
        text = re.sub(r'  sales-by-category:  .*\n    shards: 1\n', '', text)   # the drill-down's stream
        text = text[:text.index('  sales-by-category:\n')]                     # and its application
        with open(path, 'w') as f:
            f.write(text)
        p = self.eddy('plan', path)
        self.assertIn('- delete application sales-by-category: no longer in the file', p.stdout)
        self.assertIn('- delete stream sales-by-category: no longer in the file', p.stdout)
        self.assertNotIn('bystander', p.stdout)
        self.assertIn('2 to delete', p.stdout)

        self.eddy('apply', path)
        streams, apps, deliveries = self.server_state()
        self.assertEqual(sorted(apps), ['sales-revenue'])
        for _ in range(150):
            if sorted(self.k.list_streams()['StreamNames']) == ['bystander', 'sales']:
                break
            time.sleep(0.1)
        self.assertEqual(sorted(self.k.list_streams()['StreamNames']), ['bystander', 'sales'])
        self.assertIn('No changes', self.eddy('apply', path).stdout)

        self.eddy('destroy', path)
        for _ in range(150):
            if self.k.list_streams()['StreamNames'] == ['bystander']:
                break
            time.sleep(0.1)
        self.assertEqual(self.k.list_streams()['StreamNames'], ['bystander'])
        self.k.delete_stream(StreamName='bystander')
        self.wait_gone()


    def test_stream_source_and_stream_destination(self):
        path = os.path.join(self.work, 'copy.yaml')
        with open(path, 'w') as f:
            f.write('streams:\n  raw: {}\n  copy: {shards: 2}\n'
                    'delivery_streams:\n  copier:\n    source: {stream: raw}\n'
                    '    destination: {stream: copy, buffering: {size_mb: 1, interval_seconds: 0}, backup_bucket: failed}\n')
        self.eddy('apply', path)
        d = self.fh.describe_delivery_stream(DeliveryStreamName='copier')['DeliveryStreamDescription']
        self.assertEqual(d['DeliveryStreamType'], 'KinesisStreamAsSource')
        self.assertIn('No changes', self.eddy('apply', path).stdout)
        self.k.put_record(StreamName='raw', PartitionKey='k', Data=b'{"n": 1}')
        got = []
        for _ in range(100):
            got = [r['Data'] for s in harness.all_shards(self.k, 'copy')
                   for r in harness.read_shard(self.k, 'copy', s['ShardId'])[0]]
            if got:
                break
            time.sleep(0.1)
        self.assertEqual(got, [b'{"n": 1}'])
        self.eddy('destroy', path)
        self.wait_gone()


class CdkTemplateTest(PipelineTestBase):
    def test_cdk_synth_template_apply_reapply_edit_destroy(self):
        path = os.path.join(self.work, 'SalesPipelineStack.template.json')
        shutil.copy(CDK_TEMPLATE, path)

        p = self.eddy('plan', path)
        for skipped in ('AnalyticsRoleF9B5C7D2 (AWS::IAM::Role)', 'AnalyticsRoleDefaultPolicy4D6E3A21 (AWS::IAM::Policy)',
                        'AppLogGroup5E6B1C0D (AWS::Logs::LogGroup)', 'CDKMetadata (AWS::CDK::Metadata)'):
            self.assertIn('skipped ' + skipped, p.stdout)
        self.assertIn('5 to create', p.stdout)
        self.assertEqual(self.server_state(), ({}, {}, {}))

        p = self.eddy('apply', path)
        self.check_sales_pipeline_running()
        self.assertIn('output SalesStreamArn = arn:aws:kinesis:us-east-1:000000000000:stream/sales', p.stdout)
        self.assertIn('output ResultsLocation = s3://sales-results/sales_revenue/', p.stdout)

        before = self.server_state()
        self.assertIn('No changes', self.eddy('apply', path).stdout)
        self.assertEqual(self.server_state(), before)

        with open(path) as f:
            t = json.load(f)
        res = t['Resources']
        res['SalesStream8D2B6E1B']['Properties']['ShardCount'] = 3
        res['RevenueDeliveryB3E0F6A8']['Properties']['ExtendedS3DestinationConfiguration']['BufferingHints']['SizeInMBs'] = 2
        res['CategoryApplication']['Properties']['ApplicationCode'] = \
            res['CategoryApplication']['Properties']['ApplicationCode'].replace('COUNT(*)', 'COUNT("sales")')
        with open(path, 'w') as f:
            json.dump(t, f, indent=1)
        p = self.eddy('plan', path)
        self.assertIn('~ update stream sales: shards 2 -> 3 (reshard)', p.stdout)
        self.assertIn('~ update delivery stream sales-revenue: BufferingHints', p.stdout)
        self.assertIn('~ update application sales-by-category: code changed', p.stdout)
        self.assertEqual(self.server_state(), before)

        self.eddy('apply', path)
        self.check_sales_pipeline_running(shards=3)
        self.assertEqual(self.destination('sales-revenue')['BufferingHints']['SizeInMBs'], 2)
        self.assertIn('COUNT("sales")', self.app('sales-by-category')['ApplicationCode'])
        self.assertIn('No changes', self.eddy('apply', path).stdout)

        self.eddy('destroy', path)
        self.wait_gone()
        self.assertEqual(self.server_state(), ({}, {}, {}))

    def test_template_parameters_and_the_example_template(self):
        path = os.path.join(EXAMPLES, 'sales-revenue', 'template.yaml')
        p = self.eddy('plan', path, '--param', 'ShardCount=3', '--param', 'StreamName=orders')
        self.assertIn('+ create stream orders: 3 shards', p.stdout)
        self.assertIn('+ create stream orders-by-category: 1 shard', p.stdout)
        p = self.eddy('plan', path, '--param', 'Nope=1', expect=1)
        self.assertIn('the template has no parameter Nope', p.stderr)


LAMBDA_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Upper:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt UpperRole.Arn
      Code:
        ZipFile: |
          import base64
          def handler(event, context):
              out = []
              for r in event['records']:
                  data = base64.b64decode(r['data']).decode().upper() + '\\n'
                  out.append({'recordId': r['recordId'], 'result': 'Ok', 'data': base64.b64encode(data.encode()).decode()})
              return {'records': out}
  UpperRole:
    Type: AWS::IAM::Role
  Shouting:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: shouting
      ExtendedS3DestinationConfiguration:
        BucketARN: arn:aws:s3:::shouted
        RoleARN: !GetAtt UpperRole.Arn
        BufferingHints: {SizeInMBs: 1, IntervalInSeconds: 0}
        ProcessingConfiguration:
          Enabled: true
          Processors:
            - Type: Lambda
              Parameters:
                - {ParameterName: LambdaArn, ParameterValue: !GetAtt Upper.Arn}
"""


class LambdaTemplateTest(PipelineTestBase):
    @classmethod
    def setUpClass(cls):
        # What runs is the server's decision: the operator names the file apply writes.
        cls.work = tempfile.mkdtemp(prefix='eddy-pipeline-')
        code = os.path.join(cls.work, '.eddy', 'lambda', 'Upper', 'index.py')
        cls.server = harness.EddyServer(['--lambda', 'Upper=python:%s#handler' % code], label='pipeline').start()
        cls.k = cls.server.client()
        cls.ka = kda.analytics_client(cls.server)
        cls.fh = fh.firehose_client(cls.server)

    def test_inline_python_lambda_is_a_firehose_transform(self):
        path = os.path.join(self.work, 'lambda.yaml')
        with open(path, 'w') as f:
            f.write(LAMBDA_TEMPLATE)
        code = os.path.join(self.work, '.eddy', 'lambda', 'Upper', 'index.py')
        p = self.eddy('apply', path)
        self.assertIn('skipped Upper (AWS::Lambda::Function): no function is deployed', p.stdout)
        self.assertIn('eddy serve --lambda Upper=python:%s#handler' % code, p.stdout)
        self.assertTrue(os.path.isfile(code))
        self.fh.put_record_batch(DeliveryStreamName='shouting', Records=[{'Data': b'hello'}, {'Data': b'world'}])
        bucket = os.path.join(self.server.data_dir, 'bucket', 'shouted')
        content = ''
        for _ in range(100):
            files = [os.path.join(d, f) for d, _, fs in os.walk(bucket) for f in fs]
            content = ''.join(open(f).read() for f in sorted(files))
            if content.count('\n') >= 2:
                break
            time.sleep(0.1)
        self.assertEqual(content, 'HELLO\nWORLD\n')
        self.assertIn('No changes', self.eddy('apply', path).stdout)
        self.eddy('destroy', path)


class JobPipelineTest(PipelineTestBase):
    def test_cpp_job_apply_reapply_redeploy_destroy(self):
        library = os.path.join(os.path.dirname(harness.eddy_bin()), 'examples', 'trades-max', 'libtrades_max.so')
        self.assertTrue(os.path.exists(library), '%s is missing: build eddy (it builds the example job too)' % library)
        with open(os.path.join(EXAMPLES, 'trades-max', 'job.yaml')) as f:
            text = f.read()
        text = re.sub(r'job: \S+', 'job: ' + library, text)
        path = os.path.join(self.work, 'job.yaml')
        with open(path, 'w') as f:
            f.write(text)

        p = self.eddy('plan', path)
        self.assertIn('+ create application trades-max-job: C++ job ' + library, p.stdout)
        self.eddy('apply', path)
        self.assertEqual(self.app('trades-max-job')['ApplicationStatus'], 'RUNNING')
        self.assertIn('No changes', self.eddy('apply', path).stdout)

        base = 1612085400  # 2021-01-31 09:30:00 UTC, one trade a second for 200 s
        records = [{'Data': json.dumps({'EVENT_TIME': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(base + i)) + '.000',
                                        'TICKER': 'AMZN', 'PRICE': float(i % 50)}).encode(), 'PartitionKey': 'AMZN'}
                   for i in range(200)]
        for start in range(0, len(records), 100):
            self.assertEqual(self.k.put_records(StreamName='trades', Records=records[start:start + 100])['FailedRecordCount'], 0)
        lines = []
        for _ in range(100):
            lines = [r['Data'].decode() for s in harness.all_shards(self.k, 'trades-max')
                     for r in harness.read_shard(self.k, 'trades-max', s['ShardId'])[0]]
            if lines:
                break
            time.sleep(0.1)
        self.assertTrue(lines, 'the job wrote nothing to trades-max')
        self.assertRegex(lines[0], r'^2021-01-31 09:30:00\.000 ==> AMZN : Stock Value: 29$')

        with open(path, 'w') as f:
            f.write(text.replace('windowSizeSeconds: "90"', 'windowSizeSeconds: "120"')
                    .replace('  trades-max-job:\n', '  trades-max-job:\n    parallelism: 1\n'))
        p = self.eddy('plan', path)
        self.assertIn('~ update application trades-max-job: parallelism the server\'s -> 1', p.stdout)
        self.assertIn('job library or property groups changed', p.stdout)
        version = self.app('trades-max-job')['ApplicationVersionId']
        self.eddy('apply', path)
        self.assertGreater(self.app('trades-max-job')['ApplicationVersionId'], version)
        self.assertEqual(self.app('trades-max-job')['ApplicationStatus'], 'RUNNING')
        self.assertIn('No changes', self.eddy('apply', path).stdout)
        self.assertIn('parallelism 1 (its own)', self.eddy('apps', 'describe', 'trades-max-job').stdout)

        self.eddy('destroy', path)
        self.wait_gone()
        self.assertEqual(self.server_state(), ({}, {}, {}))

    def test_a_job_that_does_not_load_is_refused_before_anything_changes(self):
        path = os.path.join(self.work, 'badjob.yaml')
        with open(os.path.join(self.work, 'libnot.so'), 'w') as f:
            f.write('not a library')
        with open(path, 'w') as f:
            f.write('streams:\n  trades: {}\napplications:\n  j:\n    job: libnot.so\n')
        p = self.eddy('apply', path, expect=1)
        self.assertRegex(p.stderr, re.escape(path) + r":5:10: application 'j': the C\+\+ job cannot be loaded")
        self.assertEqual(self.server_state(), ({}, {}, {}))


class BadFileTest(PipelineTestBase):
    def write(self, name, text):
        path = os.path.join(self.work, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def pipeline_text(self):
        with open(os.path.join(EXAMPLES, 'sales-revenue', 'pipeline.yaml')) as f:
            text = f.read()
        shutil.copy(os.path.join(EXAMPLES, 'sales-revenue', 'category.sql'), os.path.join(self.work, 'category.sql'))
        return text

    def line_of(self, text, needle):
        return text[:text.index(needle)].count('\n') + 1

    def assert_rejected(self, path, line, message):
        for verb in ('plan', 'apply'):
            p = self.eddy(verb, path, expect=1)
            self.assertRegex(p.stderr, r'%s:%d(:\d+)?: ' % (re.escape(path), line), p.stderr)
            self.assertIn(message, p.stderr)
            self.assertIn('nothing was changed on the server', p.stderr)
        self.assertEqual(self.server_state(), ({}, {}, {}))

    def test_yaml_syntax_error(self):
        text = self.pipeline_text().replace('buffering: {size_mb: 1, interval_seconds: 60}', 'buffering: {size_mb: 1, interval_seconds: 60')
        path = self.write('syntax.yaml', text)
        p = self.eddy('apply', path, expect=1)
        self.assertRegex(p.stderr, re.escape(path) + r':\d+:\d+: YAML syntax error')
        self.assertEqual(self.server_state(), ({}, {}, {}))

    def test_unknown_key(self):
        text = self.pipeline_text().replace('    retention_hours: 24', '    retention: 24')
        self.assert_rejected(self.write('unknown.yaml', text), self.line_of(text, 'retention: 24'),
                             "unknown key 'retention' in stream 'sales'")

    def test_invalid_sql(self):
        text = self.pipeline_text().replace('SUM("sales") AS "revenue"', 'SUM("salez") AS "revenue"')
        self.assert_rejected(self.write('sql.yaml', text), self.line_of(text, 'SUM("salez")'),
                             "application 'sales-revenue': invalid SQL")

    def test_dangling_ref_in_template(self):
        with open(os.path.join(EXAMPLES, 'sales-revenue', 'template.yaml')) as f:
            text = f.read()
        text = text.replace('ApplicationName: !Ref RevenueApplication', 'ApplicationName: !Ref RevenueApp')
        self.assert_rejected(self.write('dangling.yaml', text), self.line_of(text, '!Ref RevenueApp\n'),
                             "Ref to 'RevenueApp', which is neither a parameter nor a resource of this template")

    def test_failure_part_way_says_what_was_done(self):
        text = re.sub(r'      bucket: sales-results.*\n', '      http_endpoint: {url: "ftp://nowhere"}\n', self.pipeline_text())
        text = text.replace('      prefix: sales_revenue/\n', '').replace('      error_prefix: errors/\n', '')
        self.assertIn('ftp://nowhere', text)
        path = self.write('partial.yaml', text)
        self.addCleanup(self.wait_gone)
        self.addCleanup(self.eddy, 'destroy', path)
        p = self.eddy('apply', path, expect=1)
        self.assertIn('apply stopped part-way', p.stderr)
        self.assertIn('failed: create delivery stream sales-revenue', p.stderr)
        done = p.stderr.split('done (these changes were made):')[1].split('not done')[0]
        self.assertIn('create stream sales: 2 shards', done)
        self.assertIn('create stream sales-by-category', done)
        not_done = p.stderr.split('not done (these changes were not attempted):')[1]
        self.assertIn('create application sales-revenue', not_done)
        self.assertIn('create application sales-by-category', not_done)
        streams, apps, deliveries = self.server_state()
        self.assertEqual(sorted(streams), ['sales', 'sales-by-category'])
        self.assertEqual((apps, deliveries), ({}, {}))


class TradesExampleTest(PipelineTestBase):
    def test_trades_max_pipeline_and_template(self):
        for name in ('pipeline.yaml', 'template.yaml'):
            path = os.path.join(EXAMPLES, 'trades-max', name)
            self.eddy('apply', path)
            self.assertEqual(self.app('trades-max')['ApplicationStatus'], 'RUNNING')
            self.assertIn('No changes', self.eddy('apply', path).stdout)
            # 200 s of trades, one a second: the first HOP windows (60 s slide, 90 s size) close.
            base = 1612085400  # 2021-01-31 09:30:00 UTC
            records = []
            for i in range(200):
                t = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(base + i)) + '.000000'
                records.append({'Data': json.dumps({'EVENT_TIME': t, 'TICKER': 'AMZN', 'PRICE': float(i % 50)}).encode(),
                                'PartitionKey': 'AMZN'})
            for start in range(0, len(records), 100):
                self.assertEqual(self.k.put_records(StreamName='trades', Records=records[start:start + 100])['FailedRecordCount'], 0)
            rows = []
            for _ in range(100):
                rows = []
                for shard in harness.all_shards(self.k, 'max-prices'):
                    recs, _ = harness.read_shard(self.k, 'max-prices', shard['ShardId'])
                    rows.extend(json.loads(r['Data']) for r in recs)
                if rows:
                    break
                time.sleep(0.1)
            self.assertTrue(rows, 'no max-prices rows')
            # The first window, [09:29:00, 09:30:30), holds the trades of 09:30:00-09:30:29 (prices 0-29).
            self.assertEqual(rows[0], {'TICKER': 'AMZN', 'MAX_PRICE': 29.0, 'WINDOW_START': '2021-01-31 09:29:00.000',
                                       'WINDOW_END': '2021-01-31 09:30:30.000'})
            self.eddy('destroy', path)
            self.wait_gone()


if __name__ == '__main__':
    unittest.main()
