"""Pipelines as code with reference data and input preprocessors, against the real binary.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_pipeline_reference

  - A pipeline file's `reference_data: {TABLE: {bucket, key, schema}}`: an application created with
    a table (created without code, the table added, then its code) LEFT JOINs it; re-apply is "No
    changes"; a new key is a "reloaded" change that apply makes with ReferenceDataSourceUpdates (new
    records see the new object); dropping the table with the join deletes it after the code update;
    adding it back to a running application adds it before the code that joins it.
  - Before anything changes, code that joins a column the table's schema lacks (or a table the file
    does not declare) is refused at the file's line; bad reference_data / preprocessor keys too.
  - A CloudFormation template: AWS::KinesisAnalytics::Application with an input preprocessor that is
    an inline-Python AWS::Lambda::Function (!GetAtt Fn.Arn; the server runs the file apply writes),
    ::ApplicationReferenceDataSource and ::ApplicationOutput attached to it: records go through the
    function (Ok and Dropped) and the join to the output stream.
  - A pipeline file's `input: {preprocessor: {lambda: ARN}}` added, changed and removed in place.
"""
import json
import os
import tempfile
import time
import unittest

import harness
import test_analytics as kda
import test_firehose as fh
from test_pipeline import PipelineTestBase

WAIT_S = 20.0
FN = 'arn:aws:lambda:us-east-1:000000000000:function:'


def join_sql(manager=False):
    """Orders LEFT JOIN STORES; with `manager` the table's third column too."""
    m = (', "manager" INTEGER', ', r."manager"') if manager else ('', '')
    return ('''CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "amount" DOUBLE, "region" VARCHAR(8)%s);
      CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
        SELECT STREAM s."store_id", s."amount", r."region"%s
        FROM "SOURCE_SQL_STREAM_001" AS s LEFT JOIN "STORES" AS r ON s."store_id" = r."store_id";
''' % m)


JOIN_SQL = join_sql()

PLAIN_SQL = '''CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "amount" DOUBLE);
      CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
        SELECT STREAM "store_id", "amount" FROM "SOURCE_SQL_STREAM_001";
'''

REFERENCE = '''    reference_data:
      STORES:
        bucket: refs
        key: {key}
        schema:
          format: CSV
          record_delimiter: "\\n"
          column_delimiter: ","
          columns: [{{name: store_id, type: VARCHAR(16)}}, {{name: region, type: VARCHAR(8)}}{extra}]
'''


def enrich_pipeline(sql, reference_key=None, preprocessor=None, manager=False):
    """Streams orders -> enriched and the application enrich between them."""
    text = ('name: enrich-pipeline\n'
            'streams:\n  orders: {shards: 1}\n  enriched: {shards: 1}\n'
            'applications:\n  enrich:\n'
            '    input:\n      stream: orders\n')
    if preprocessor:
        text += '      preprocessor: {lambda: "%s%s"}\n' % (FN, preprocessor)
    text += ('      schema:\n        format: JSON\n'
             '        columns: [{name: store_id, type: VARCHAR(16)}, {name: amount, type: DOUBLE, mapping: $.amount}]\n')
    if reference_key:
        text += REFERENCE.format(key=reference_key, extra=', {name: manager, type: INTEGER}' if manager else '')
    text += '    sql: |\n      ' + sql + '    outputs:\n      - {name: DEST, stream: enriched}\n'
    return text


class PipelineReferenceBase(PipelineTestBase):
    def write(self, name, text):
        path = os.path.join(self.work, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def put_object(self, bucket, key, data):
        path = os.path.join(self.server.data_dir, 'bucket', bucket, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)

    def put(self, stream, docs):
        resp = self.k.put_records(StreamName=stream, Records=[
            {'Data': json.dumps(d).encode(), 'PartitionKey': 'pk'} for d in docs])
        self.assertEqual(resp['FailedRecordCount'], 0, resp)

    def rows(self, stream):
        return [json.loads(r['Data']) for _, r in kda.read_stream(self.k, stream)]

    def wait_rows(self, stream, pred, what):
        deadline = time.monotonic() + WAIT_S
        while True:
            rows = self.rows(stream)
            if pred(rows):
                return rows
            if time.monotonic() > deadline:
                self.fail('%s not seen in %s within %.0f s; rows: %s\nserver log:\n%s'
                          % (what, stream, WAIT_S, rows, self.server.log_tail()))
            time.sleep(0.2)

    def wait_row_of(self, stream, key, value):
        """The one row whose `key` is `value`."""
        rows = self.wait_rows(stream, lambda rs: any(r.get(key) == value for r in rs), '%s=%s' % (key, value))
        mine = [r for r in rows if r.get(key) == value]
        self.assertEqual(len(mine), 1, rows)
        return mine[0]

    def destroy(self, path):
        self.eddy('destroy', path)
        self.wait_gone()
        self.assertEqual(self.server_state(), ({}, {}, {}))


class ReferenceDataPipelineTest(PipelineReferenceBase):
    def test_reference_table_created_reloaded_removed_readded(self):
        self.put_object('refs', 'stores-v1.csv', b'store_1,north\nstore_2,south\n')
        path = self.write('enrich.yaml', enrich_pipeline(JOIN_SQL, 'stores-v1.csv'))
        self.addCleanup(self.destroy, path)

        p = self.eddy('plan', path)
        self.assertIn('+ create application enrich', p.stdout)
        self.assertIn('3 to create', p.stdout)
        self.assertEqual(self.server_state(), ({}, {}, {}), 'plan changed the server')
        self.eddy('apply', path)
        detail = self.app('enrich')
        self.assertEqual(detail['ApplicationStatus'], 'RUNNING')
        self.assertIn('LEFT JOIN "STORES"', detail['ApplicationCode'])
        # Created without code (version 1), the table added (2), then the code that joins it (3).
        self.assertEqual(detail['ApplicationVersionId'], 3)
        refs = detail['ReferenceDataSourceDescriptions']
        self.assertEqual(len(refs), 1, refs)
        self.assertEqual(refs[0]['TableName'], 'STORES')
        self.assertEqual(refs[0]['S3ReferenceDataSourceDescription']['BucketARN'], 'arn:aws:s3:::refs')
        self.assertEqual(refs[0]['S3ReferenceDataSourceDescription']['FileKey'], 'stores-v1.csv')
        self.assertEqual(refs[0]['ReferenceSchema']['RecordFormat']['RecordFormatType'], 'CSV')
        self.assertEqual([c['Name'] for c in refs[0]['ReferenceSchema']['RecordColumns']], ['store_id', 'region'])

        self.put('orders', [{'store_id': 'store_1', 'amount': 1.5}, {'store_id': 'store_9', 'amount': 2.5},
                            {'store_id': 'store_2', 'amount': 3.5}])
        rows = self.wait_rows('enriched', lambda rs: len(rs) >= 3, '3 joined rows')
        self.assertEqual(rows, [{'store_id': 'store_1', 'amount': 1.5, 'region': 'north'},
                                {'store_id': 'store_9', 'amount': 2.5, 'region': None},
                                {'store_id': 'store_2', 'amount': 3.5, 'region': 'south'}])

        before = self.server_state()
        self.assertIn('No changes', self.eddy('apply', path).stdout)
        self.eddy('plan', path, '--exit-code', expect=0)
        self.assertEqual(self.server_state(), before)

        # Another object under another key: a reload, in place.
        self.put_object('refs', 'stores-v2.csv', b'store_1,west\nstore_9,east\n')
        self.write('enrich.yaml', enrich_pipeline(JOIN_SQL, 'stores-v2.csv'))
        p = self.eddy('plan', path)
        self.assertIn('~ update application enrich: reference table STORES <- s3://refs/stores-v2.csv; reloaded',
                      p.stdout)
        self.assertNotIn('code changed', p.stdout)
        self.assertIn('1 to update', p.stdout)
        self.eddy('plan', path, '--exit-code', expect=2)
        self.assertEqual(self.server_state(), before, 'plan changed the server')
        self.eddy('apply', path)
        detail = self.app('enrich')
        self.assertEqual(detail['ApplicationStatus'], 'RUNNING')
        self.assertGreater(detail['ApplicationVersionId'], before[1]['enrich'][1])
        self.assertEqual([r['S3ReferenceDataSourceDescription']['FileKey']
                          for r in detail['ReferenceDataSourceDescriptions']], ['stores-v2.csv'])
        self.put('orders', [{'store_id': 'store_1', 'amount': 10.0}, {'store_id': 'store_9', 'amount': 20.0},
                            {'store_id': 'store_2', 'amount': 30.0}])
        self.assertEqual(self.wait_row_of('enriched', 'amount', 10.0)['region'], 'west')
        self.assertEqual(self.wait_row_of('enriched', 'amount', 20.0)['region'], 'east')
        self.assertIsNone(self.wait_row_of('enriched', 'amount', 30.0)['region'])
        self.assertIn('No changes', self.eddy('apply', path).stdout)

        # A third column and code that selects it: the schema update and the code in one update.
        self.put_object('refs', 'stores-v3.csv', b'store_1,west,7\nstore_2,south,8\n')
        self.write('enrich.yaml', enrich_pipeline(join_sql(manager=True), 'stores-v3.csv', manager=True))
        p = self.eddy('plan', path)
        self.assertIn('reference table STORES <- s3://refs/stores-v3.csv (schema changed); reloaded', p.stdout)
        self.assertIn('code changed', p.stdout)
        self.eddy('apply', path)
        refs = self.app('enrich')['ReferenceDataSourceDescriptions']
        self.assertEqual([c['Name'] for c in refs[0]['ReferenceSchema']['RecordColumns']], ['store_id', 'region', 'manager'])
        self.put('orders', [{'store_id': 'store_2', 'amount': 50.0}])
        self.assertEqual(self.wait_row_of('enriched', 'amount', 50.0),
                         {'store_id': 'store_2', 'amount': 50.0, 'region': 'south', 'manager': 8})
        self.assertIn('No changes', self.eddy('apply', path).stdout)

        # The join and the table go: the code is updated first, then the table deleted.
        self.write('enrich.yaml', enrich_pipeline(PLAIN_SQL))
        p = self.eddy('plan', path)
        self.assertIn('~ update application enrich: code changed', p.stdout)
        self.assertIn('remove reference table STORES', p.stdout)
        self.eddy('apply', path)
        detail = self.app('enrich')
        self.assertEqual(detail['ApplicationStatus'], 'RUNNING')
        self.assertEqual(detail.get('ReferenceDataSourceDescriptions', []), [])
        self.assertNotIn('JOIN', detail['ApplicationCode'])
        self.put('orders', [{'store_id': 'store_1', 'amount': 100.0}])
        self.assertEqual(self.wait_row_of('enriched', 'amount', 100.0), {'store_id': 'store_1', 'amount': 100.0})
        self.assertIn('No changes', self.eddy('apply', path).stdout)

        # Back to a running application without a table: it is added before the code that joins it.
        self.write('enrich.yaml', enrich_pipeline(JOIN_SQL, 'stores-v1.csv'))
        p = self.eddy('plan', path)
        self.assertIn('add reference table STORES <- s3://refs/stores-v1.csv', p.stdout)
        self.assertIn('code changed', p.stdout)
        self.eddy('apply', path)
        self.assertEqual(self.app('enrich')['ApplicationStatus'], 'RUNNING')
        self.put('orders', [{'store_id': 'store_2', 'amount': 1000.0}])
        self.assertEqual(self.wait_row_of('enriched', 'amount', 1000.0),
                         {'store_id': 'store_2', 'amount': 1000.0, 'region': 'south'})
        self.assertIn('No changes', self.eddy('apply', path).stdout)

        self.destroy(path)


class ReferenceValidationTest(PipelineReferenceBase):
    def assert_rejected(self, name, text, needle, message):
        """plan and apply fail at the line and column of `needle`, and change nothing."""
        path = self.write(name, text)
        before = text[:text.index(needle)]
        where = '%s:%d:%d:' % (path, before.count('\n') + 1, len(before) - before.rfind('\n'))
        for verb in ('plan', 'apply'):
            p = self.eddy(verb, path, expect=1)
            self.assertIn(where + ' ' + message, p.stderr)
            self.assertIn('nothing was changed on the server', p.stderr)
        self.assertEqual(self.server_state(), ({}, {}, {}))

    def test_join_of_a_column_the_table_lacks(self):
        self.put_object('refs', 'stores-v1.csv', b'store_1,north\n')
        text = enrich_pipeline(JOIN_SQL.replace('r."region"', 'r."manager"'), 'stores-v1.csv')
        self.assert_rejected('nocolumn.yaml', text, 'r."manager"', "application 'enrich': invalid SQL: ")

    def test_join_of_a_column_the_table_lacks_on_a_running_application(self):
        self.put_object('refs', 'stores-v1.csv', b'store_1,north\n')
        path = self.write('running.yaml', enrich_pipeline(JOIN_SQL, 'stores-v1.csv'))
        self.addCleanup(self.destroy, path)
        self.eddy('apply', path)
        before = self.server_state()
        # The code joins "manager", which the reference schema of the file does not have.
        text = enrich_pipeline(join_sql(manager=True), 'stores-v1.csv')
        self.write('running.yaml', text)
        p = self.eddy('apply', path, expect=1)
        line = text[:text.index('r."manager"')].count('\n') + 1
        self.assertIn('%s:%d:' % (path, line), p.stderr)
        self.assertIn('nothing was changed on the server', p.stderr)
        self.assertEqual(self.server_state(), before)

    def test_join_of_an_undeclared_table(self):
        self.assert_rejected('notable.yaml', enrich_pipeline(JOIN_SQL), '"STORES" AS r',
                             "application 'enrich': invalid SQL: ")

    def test_bad_reference_data_and_preprocessor_keys(self):
        text = enrich_pipeline(JOIN_SQL, 'stores.csv').replace('        key: stores.csv\n', '        path: stores.csv\n')
        self.assert_rejected('refkey.yaml', text, 'path: stores.csv', "unknown key 'path'")
        text = enrich_pipeline(JOIN_SQL, 'stores.csv', preprocessor='clean').replace('{lambda:', '{function:')
        self.assert_rejected('prekey.yaml', text, 'function:', "unknown key 'function'")


# Lowers and renames the fields of an order ({"Store": "STORE_1", "amt": "2.5"} -> {"store_id":
# "store_1", "amount": 2.5}); an order with "test": true is Dropped.
CLEAN_CODE = '''import base64, json
def handler(event, context):
    out = []
    for r in event['records']:
        doc = json.loads(base64.b64decode(r['data']))
        if doc.get('test'):
            out.append({'recordId': r['recordId'], 'result': 'Dropped'})
            continue
        doc = {'store_id': doc['Store'].lower(), 'amount': float(doc['amt'])}
        out.append({'recordId': r['recordId'], 'result': 'Ok', 'data': base64.b64encode(json.dumps(doc).encode()).decode()})
    return {'records': out}
'''

TEMPLATE = '''AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Orders:
    Type: AWS::Kinesis::Stream
    Properties: {Name: orders, ShardCount: 1}
  Enriched:
    Type: AWS::Kinesis::Stream
    Properties: {Name: enriched, ShardCount: 1}
  RefBucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: refs}
  Role:
    Type: AWS::IAM::Role
  Clean:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
%s
  App:
    Type: AWS::KinesisAnalytics::Application
    Properties:
      ApplicationName: enrich
      ApplicationCode: |
        %s
      Inputs:
        - NamePrefix: SOURCE_SQL_STREAM
          KinesisStreamsInput: {ResourceARN: !GetAtt Orders.Arn, RoleARN: !GetAtt Role.Arn}
          InputParallelism: {Count: 1}
          InputProcessingConfiguration:
            InputLambdaProcessor: {ResourceARN: !GetAtt Clean.Arn, RoleARN: !GetAtt Role.Arn}
          InputSchema:
            RecordFormat: {RecordFormatType: JSON, MappingParameters: {JSONMappingParameters: {RecordRowPath: "$"}}}
            RecordEncoding: UTF-8
            RecordColumns:
              - {Name: store_id, Mapping: $.store_id, SqlType: VARCHAR(16)}
              - {Name: amount, Mapping: $.amount, SqlType: DOUBLE}
  Stores:
    Type: AWS::KinesisAnalytics::ApplicationReferenceDataSource
    Properties:
      ApplicationName: !Ref App
      ReferenceDataSource:
        TableName: STORES
        S3ReferenceDataSource: {BucketARN: !GetAtt RefBucket.Arn, FileKey: stores.csv, ReferenceRoleARN: !GetAtt Role.Arn}
        ReferenceSchema:
          RecordFormat:
            RecordFormatType: CSV
            MappingParameters: {CSVMappingParameters: {RecordRowDelimiter: "\\n", RecordColumnDelimiter: ","}}
          RecordEncoding: UTF-8
          RecordColumns: [{Name: store_id, SqlType: VARCHAR(16)}, {Name: region, SqlType: VARCHAR(8)}]
  Out:
    Type: AWS::KinesisAnalytics::ApplicationOutput
    Properties:
      ApplicationName: !Ref App
      Output:
        Name: DEST
        KinesisStreamsOutput: {ResourceARN: !GetAtt Enriched.Arn, RoleARN: !GetAtt Role.Arn}
        DestinationSchema: {RecordFormatType: JSON}
''' % ('\n'.join('          ' + line for line in CLEAN_CODE.splitlines()), JOIN_SQL.strip().replace('\n      ', '\n        '))

# The same application as a KinesisAnalyticsV2 one (SQL-1_0), preprocessed by the "upper" function.
TEMPLATE_V2 = '''Resources:
  Orders:
    Type: AWS::Kinesis::Stream
    Properties: {Name: orders, ShardCount: 1}
  Enriched:
    Type: AWS::Kinesis::Stream
    Properties: {Name: enriched, ShardCount: 1}
  App:
    Type: AWS::KinesisAnalyticsV2::Application
    Properties:
      ApplicationName: enrich
      RuntimeEnvironment: SQL-1_0
      ServiceExecutionRole: arn:aws:iam::000000000000:role/any
      ApplicationConfiguration:
        ApplicationCodeConfiguration:
          CodeContentType: PLAINTEXT
          CodeContent:
            TextContent: |
              %s
        SqlApplicationConfiguration:
          Inputs:
            - NamePrefix: SOURCE_SQL_STREAM
              KinesisStreamsInput: {ResourceARN: !GetAtt Orders.Arn}
              InputProcessingConfiguration:
                InputLambdaProcessor: {ResourceARN: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:upper"}
              InputSchema:
                RecordFormat: {RecordFormatType: JSON, MappingParameters: {JSONMappingParameters: {RecordRowPath: "$"}}}
                RecordColumns:
                  - {Name: store_id, Mapping: $.store_id, SqlType: VARCHAR(16)}
                  - {Name: amount, Mapping: $.amount, SqlType: DOUBLE}
  Stores:
    Type: AWS::KinesisAnalyticsV2::ApplicationReferenceDataSource
    Properties:
      ApplicationName: !Ref App
      ReferenceDataSource:
        TableName: STORES
        S3ReferenceDataSource: {BucketARN: arn:aws:s3:::refs, FileKey: stores.csv}
        ReferenceSchema:
          RecordFormat:
            RecordFormatType: CSV
            MappingParameters: {CSVMappingParameters: {RecordRowDelimiter: "\\n", RecordColumnDelimiter: ","}}
          RecordColumns: [{Name: store_id, SqlType: VARCHAR(16)}, {Name: region, SqlType: VARCHAR(8)}]
  Out:
    Type: AWS::KinesisAnalyticsV2::ApplicationOutput
    Properties:
      ApplicationName: !Ref App
      Output:
        Name: DEST
        KinesisStreamsOutput: {ResourceARN: !GetAtt Enriched.Arn}
        DestinationSchema: {RecordFormatType: JSON}
''' % JOIN_SQL.strip().replace('\n      ', '\n              ')

# Functions of the pipeline file's preprocessor: upper-cases store_id, or appends "!" to it.
UPPER_CODE = '''import base64, json
def handler(event, context):
    out = []
    for r in event['records']:
        doc = json.loads(base64.b64decode(r['data']))
        doc['store_id'] = doc['store_id'] %s
        out.append({'recordId': r['recordId'], 'result': 'Ok', 'data': base64.b64encode(json.dumps(doc).encode()).decode()})
    return {'records': out}
'''


class PreprocessorPipelineTest(PipelineReferenceBase):
    @classmethod
    def setUpClass(cls):
        # The server runs the file apply writes beside the template (.eddy/lambda/Clean/index.py),
        # and the pipeline file's functions written here.
        cls.work = tempfile.mkdtemp(prefix='eddy-pipeline-ref-')
        cls.clean = os.path.join(cls.work, '.eddy', 'lambda', 'Clean', 'index.py')
        functions = {'Clean': cls.clean}
        for name, expr in (('upper', '.upper()'), ('exclaim', "+ '!'")):
            functions[name] = os.path.join(cls.work, name + '.py')
            with open(functions[name], 'w') as f:
                f.write(UPPER_CODE % expr)
        args = [a for name, file in sorted(functions.items()) for a in ('--lambda', '%s=python:%s#handler' % (name, file))]
        cls.server = harness.EddyServer(args, label='pipeline-pre').start()
        cls.k = cls.server.client()
        cls.ka = kda.analytics_client(cls.server)
        cls.fh = fh.firehose_client(cls.server)

    def test_template_preprocessor_reference_table_and_output(self):
        self.put_object('refs', 'stores.csv', b'store_1,north\nstore_2,south\n')
        path = self.write('enrich.template.yaml', TEMPLATE)
        self.addCleanup(self.destroy, path)
        p = self.eddy('plan', path)
        self.assertIn('+ create application enrich', p.stdout)
        self.assertEqual(self.server_state(), ({}, {}, {}), 'plan changed the server')

        p = self.eddy('apply', path)
        self.assertIn('eddy serve --lambda Clean=python:%s#handler' % self.clean, p.stdout)
        with open(self.clean) as f:
            self.assertEqual(f.read(), CLEAN_CODE)
        detail = self.app('enrich')
        self.assertEqual(detail['ApplicationStatus'], 'RUNNING')
        pre = detail['InputDescriptions'][0]['InputProcessingConfigurationDescription']['InputLambdaProcessorDescription']
        self.assertEqual(pre['ResourceARN'], FN + 'Clean')
        self.assertEqual([(r['TableName'], r['S3ReferenceDataSourceDescription']['FileKey'])
                          for r in detail['ReferenceDataSourceDescriptions']], [('STORES', 'stores.csv')])
        self.assertEqual([(o['Name'], o['KinesisStreamsOutputDescription']['ResourceARN'])
                          for o in detail['OutputDescriptions']], [('DEST', kda.stream_arn('enriched'))])
        before = self.server_state()
        self.assertIn('No changes', self.eddy('apply', path).stdout)
        self.assertEqual(self.server_state(), before)

        self.put('orders', [{'Store': 'STORE_1', 'amt': '1.5'}, {'Store': 'STORE_2', 'amt': '2', 'test': True},
                            {'Store': 'Store_2', 'amt': '3.25'}, {'Store': 'STORE_7', 'amt': '4'}])
        rows = self.wait_rows('enriched', lambda rs: len(rs) >= 3, '3 preprocessed, joined rows')
        time.sleep(0.5)  # the Dropped record must not show up late
        self.assertEqual(self.rows('enriched'), [{'store_id': 'store_1', 'amount': 1.5, 'region': 'north'},
                                                 {'store_id': 'store_2', 'amount': 3.25, 'region': 'south'},
                                                 {'store_id': 'store_7', 'amount': 4.0, 'region': None}], rows)

        # Another FileKey in the template: the table is reloaded in place.
        self.put_object('refs', 'stores-v2.csv', b'store_7,east\n')
        self.write('enrich.template.yaml', TEMPLATE.replace('FileKey: stores.csv', 'FileKey: stores-v2.csv'))
        p = self.eddy('plan', path)
        self.assertIn('~ update application enrich: reference table STORES <- s3://refs/stores-v2.csv; reloaded', p.stdout)
        self.eddy('apply', path)
        self.put('orders', [{'Store': 'STORE_7', 'amt': '5'}])
        self.assertEqual(self.wait_row_of('enriched', 'amount', 5.0), {'store_id': 'store_7', 'amount': 5.0, 'region': 'east'})
        self.assertIn('No changes', self.eddy('apply', path).stdout)
        self.destroy(path)

    def test_v2_template_reference_data_source(self):
        self.put_object('refs', 'stores.csv', b'store_1,north\n')
        path = self.write('enrich-v2.template.yaml', TEMPLATE_V2)
        self.addCleanup(self.destroy, path)
        self.eddy('apply', path)
        detail = self.app('enrich')
        self.assertEqual(detail['ApplicationStatus'], 'RUNNING')
        pre = detail['InputDescriptions'][0]['InputProcessingConfigurationDescription']['InputLambdaProcessorDescription']
        self.assertEqual(pre['ResourceARN'], FN + 'upper')
        self.assertEqual([(r['TableName'], r['S3ReferenceDataSourceDescription']['FileKey'])
                          for r in detail['ReferenceDataSourceDescriptions']], [('STORES', 'stores.csv')])
        self.assertIn('No changes', self.eddy('apply', path).stdout)
        # upper makes "Store_1" "STORE_1", which stores.csv does not hold; stores-upper.csv does.
        self.put('orders', [{'store_id': 'Store_1', 'amount': 1.0}])
        self.assertEqual(self.wait_row_of('enriched', 'amount', 1.0), {'store_id': 'STORE_1', 'amount': 1.0, 'region': None})
        self.put_object('refs', 'stores-upper.csv', b'STORE_1,north\n')
        self.write('enrich-v2.template.yaml', TEMPLATE_V2.replace('FileKey: stores.csv', 'FileKey: stores-upper.csv'))
        self.eddy('apply', path)
        self.put('orders', [{'store_id': 'store_1', 'amount': 2.0}])
        self.assertEqual(self.wait_row_of('enriched', 'amount', 2.0), {'store_id': 'STORE_1', 'amount': 2.0, 'region': 'north'})
        self.destroy(path)

    def test_pipeline_file_preprocessor_added_changed_removed(self):
        path = self.write('pre.yaml', enrich_pipeline(PLAIN_SQL))
        self.addCleanup(self.destroy, path)
        self.eddy('apply', path)
        self.assertNotIn('InputProcessingConfigurationDescription', self.app('enrich')['InputDescriptions'][0])
        self.put('orders', [{'store_id': 'a', 'amount': 1.0}])
        self.assertEqual(self.wait_row_of('enriched', 'amount', 1.0)['store_id'], 'a')

        steps = [('upper', 'none -> %supper' % FN, 2.0, 'B'),
                 ('exclaim', '%supper -> %sexclaim' % (FN, FN), 3.0, 'c!'),
                 (None, '%sexclaim -> none' % FN, 4.0, 'd')]
        for function, change, amount, expected in steps:
            with self.subTest(preprocessor=function):
                self.write('pre.yaml', enrich_pipeline(PLAIN_SQL, preprocessor=function))
                p = self.eddy('plan', path)
                self.assertIn('~ update application enrich: input preprocessor ' + change, p.stdout)
                self.assertNotIn('code changed', p.stdout)
                version = self.app('enrich')['ApplicationVersionId']
                self.eddy('apply', path)
                detail = self.app('enrich')
                self.assertEqual(detail['ApplicationStatus'], 'RUNNING')
                self.assertGreater(detail['ApplicationVersionId'], version)
                pre = detail['InputDescriptions'][0].get('InputProcessingConfigurationDescription')
                if function:
                    self.assertEqual(pre['InputLambdaProcessorDescription']['ResourceARN'], FN + function)
                else:
                    self.assertIsNone(pre)
                self.assertIn('No changes', self.eddy('apply', path).stdout)
                self.put('orders', [{'store_id': expected.lower().rstrip('!'), 'amount': amount}])
                self.assertEqual(self.wait_row_of('enriched', 'amount', amount)['store_id'], expected)
        self.destroy(path)


if __name__ == '__main__':
    unittest.main()
