# Over 800 lines: its classes share the fixtures (servers, objects, clients) of one feature.
"""Reference data of SQL applications (dev/app-add-reference-data): a table read from an S3 object
that the application's code joins with its stream, through both control planes.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_analytics_reference
Each class starts its own server (port 0, private data dir); one also starts s3rver (npm).

Semantics checked:
  - v1 (kinesisanalytics): AddApplicationReferenceDataSource answers {}, DeleteApplicationReferenceDataSource
    {}, UpdateApplication's ReferenceDataSourceUpdates change the table's name, object and schema;
    DescribeApplication lists ReferenceDataSourceDescriptions (ReferenceId "1.1", with ReferenceRoleARN).
  - v2 (kinesisanalyticsv2): CreateApplication takes SqlApplicationConfiguration.ReferenceDataSources;
    AddApplicationReferenceDataSource answers ApplicationARN, ApplicationVersionId and
    ReferenceDataSourceDescriptions; Delete answers ApplicationARN and ApplicationVersionId; the
    descriptions have no ReferenceRoleARN.
  - The object s3://NAME/KEY is the file <bucket-dir>/NAME/KEY (default <data-dir>/bucket), or the
    object of an S3-compatible store with --s3-endpoint. It is read when the application starts and
    again each time UpdateApplication relaunches it; a change of the object alone is not seen before.
  - A missing or unparseable object does not stop the application: it stays RUNNING with the last
    good copy of the table (across restarts too) or an empty one, a WARNING row Reference_Load_Error
    is among its error rows (GET /eddy/v1/applications/NAME/errors, `eddy apps logs`), and the raw
    DescribeApplication's EddyReferenceData ([{TableName, Rows, SkippedRecords, Digest (SHA-256 of
    the bytes the table holds), LoadedAt (epoch ms), Error?}]) says why. It is not a fault (no EddyFault).
  - Errors: a second source -> InvalidArgumentException; a BucketARN that is not arn:aws:s3:::NAME or a
    FileKey with '..' -> InvalidArgumentException; code naming a table that does not exist ->
    CodeValidationException; a stale version -> ConcurrentModificationException; an unknown
    ReferenceId -> ResourceNotFoundException. A refused request changes nothing (same version).
"""

import hashlib
import json
import os
import subprocess
import tempfile
import time
import unittest
import urllib.request

from botocore.exceptions import ClientError

import harness
import test_analytics as kda
import test_analytics_v2 as kv2
from test_firehose_s3 import ROOT, free_port

V1 = 'KinesisAnalytics_20150814.'
V2 = 'KinesisAnalytics_20180523.'

# dev/app-add-reference-data, as tests/sql/reference_join.test runs it: the ticker stream LEFT JOINed
# with a CSV table of company names.
INPUT_SCHEMA = kda._json_schema([('TICKER_SYMBOL', 'VARCHAR(4)'), ('SECTOR', 'VARCHAR(12)'),
                                 ('CHANGE', 'DOUBLE'), ('PRICE', 'DOUBLE')])


def ticker_code(table='CompanyName', comment=''):
    """The developer guide's code joining `table`; `comment` makes another text of the same code (an
    UpdateApplication that changes nothing but relaunches the application, as KDA reloads then)."""
    return ('CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (\n'
            '    ticker_symbol VARCHAR(4),\n'
            '    "Company" varchar(20),\n'
            '    sector VARCHAR(12),\n'
            '    change DOUBLE,\n'
            '    price DOUBLE);\n\n'
            'CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"\n'
            '   SELECT STREAM ticker_symbol, "c"."Company", sector, change, price\n'
            '   FROM "SOURCE_SQL_STREAM_001" LEFT JOIN "%s" as "c"\n'
            '   ON "SOURCE_SQL_STREAM_001".ticker_symbol = "c"."Ticker";\n%s'
            % (table, ('-- %s\n' % comment) if comment else ''))


# Code that joins nothing: what a reference source may be deleted under.
PLAIN_CODE = ('CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), price DOUBLE);\n'
              'CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"\n'
              '   SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001";\n')


def csv_schema(delimiter=','):
    return {'RecordFormat': {'RecordFormatType': 'CSV', 'MappingParameters': {'CSVMappingParameters': {
        'RecordRowDelimiter': '\n', 'RecordColumnDelimiter': delimiter}}},
        'RecordEncoding': 'UTF-8',
        'RecordColumns': [{'Name': 'Ticker', 'SqlType': 'VARCHAR(4)'},
                          {'Name': 'Company', 'SqlType': 'VARCHAR(20)'}]}


COMPANIES = b'AMZN,Amazon\nASD,SomeCompanyA\nMMB,SomeCompanyB\nWAS,SomeCompanyC\n'
COMPANY_OF = {'AMZN': 'Amazon', 'ASD': 'SomeCompanyA', 'MMB': 'SomeCompanyB', 'WAS': 'SomeCompanyC'}
# Tickers each batch sends: three of the table, one it does not hold and a null one (which matches
# nothing): the LEFT JOIN gives those two a null Company.
TICKERS = ['AMZN', 'QXZ', 'WAS', None, 'MMB']


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def ref_source(bucket, key, table='CompanyName', schema=None, role=kda.ROLE):
    s3 = {'BucketARN': 'arn:aws:s3:::' + bucket, 'FileKey': key}
    if role:
        s3['ReferenceRoleARN'] = role
    return {'TableName': table, 'S3ReferenceDataSource': s3, 'ReferenceSchema': schema or csv_schema()}


def ref_description(bucket, key, table='CompanyName', schema=None, role=kda.ROLE, ref_id='1.1'):
    """ReferenceDataSourceDescriptions' entry for ref_source(...)."""
    s3 = {'BucketARN': 'arn:aws:s3:::' + bucket, 'FileKey': key}
    if role:
        s3['ReferenceRoleARN'] = role
    return {'ReferenceId': ref_id, 'TableName': table, 'S3ReferenceDataSourceDescription': s3,
            'ReferenceSchema': schema or csv_schema()}


class ReferenceCase(kda.AnalyticsTestCase):
    """An eddy server whose bucket directory holds the objects (put_object writes them)."""
    label = 'kda-ref'
    bucket = 'refs'

    # ------------------------------------------------------------------------------- objects
    def object_path(self, key):
        return os.path.join(self.server.data_dir, 'bucket', self.bucket, key)

    def put_object(self, key, data):
        path = self.object_path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + '.tmp', 'wb') as f:
            f.write(data)
        os.replace(path + '.tmp', path)

    def delete_object(self, key):
        os.unlink(self.object_path(key))

    def assert_error(self, codes, fn, *args, **kw):
        """As AnalyticsTestCase.assert_error, the modeled exception class taken from the client whose
        method fn is (v1 or v2)."""
        if isinstance(codes, str):
            codes = (codes,)
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        resp = cm.exception.response
        code = resp['Error']['Code']
        self.assertIn(code, codes, 'error %r: %s' % (code, resp['Error'].get('Message')))
        self.assertEqual(resp['ResponseMetadata']['HTTPStatusCode'], 400, 'HTTP status for %s' % code)
        client = getattr(fn, '__self__', None)
        modeled = getattr(client.exceptions, code, None) if hasattr(client, 'exceptions') else None
        if modeled is not None:
            self.assertIsInstance(cm.exception, modeled)
        return cm.exception

    # ------------------------------------------------------------------------------- describe
    def raw_detail(self, name, target=V1):
        """DescribeApplication over raw JSON: members boto3 drops (EddyReferenceData, EddyFault) kept."""
        st, body, _ = self.server.json_call(target + 'DescribeApplication', {'ApplicationName': name})
        self.assertEqual(st, 200, body)
        return body['ApplicationDetail']

    def loaded(self, name, target=V1):
        """EddyReferenceData of the raw DescribeApplication: its single table's load."""
        detail = self.raw_detail(name, target)
        self.assertIn('EddyReferenceData', detail, 'a running application with a reference source says what it '
                                                  'loaded: %s' % json.dumps(detail)[:2000])
        loads = detail['EddyReferenceData']
        self.assertEqual(len(loads), 1, loads)
        load = loads[0]
        self.assertEqual(set(load) - {'Error'}, {'TableName', 'Rows', 'SkippedRecords', 'Digest', 'LoadedAt'}, load)
        self.assertIsInstance(load['LoadedAt'], int, load)
        self.assertLess(abs(time.time() * 1000 - load['LoadedAt']), 300_000, 'LoadedAt is epoch ms: %s' % load)
        return load

    def assert_loaded(self, name, table, rows, data, skipped=0, target=V1):
        """The last launch loaded `data` (the object's bytes) as `rows` rows of `table`, no error."""
        load = self.loaded(name, target)
        self.assertNotIn('Error', load, 'a good object loads without an error: %s' % load)
        self.assertEqual((load['TableName'], load['Rows'], load['SkippedRecords'], load['Digest']),
                         (table, rows, skipped, sha256(data)), load)
        return load

    def assert_kept(self, name, table, key, rows, data, target=V1):
        """The last launch could not use the object `key`: the table holds the last good copy, `data`."""
        load = self.loaded(name, target)
        self.assertIn('Error', load, 'EddyReferenceData says why the object was not loaded: %s' % load)
        self.assertIn(key, load['Error'], load)
        self.assertEqual((load['TableName'], load['Rows'], load['Digest']), (table, rows, sha256(data)),
                         'the table keeps the last good copy of the object: %s' % load)
        return load

    def errors(self, name):
        """The application's latest error rows (what `eddy apps logs` prints)."""
        url = '%s/eddy/v1/applications/%s/errors' % (self.server.endpoint, name)
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())

    def load_warnings(self, name):
        return [e for e in self.errors(name) if e.get('ERROR_NAME') == 'Reference_Load_Error']

    def wait_load_warning(self, name, key, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            rows = [e for e in self.load_warnings(name) if key in e.get('MESSAGE', '')]
            if rows:
                return rows
            if time.monotonic() > deadline:
                self.fail('no Reference_Load_Error row naming %s within %.0f s: %s\n%s'
                          % (key, timeout, self.errors(name), self.server.log_tail(20)))
            time.sleep(0.2)

    def assert_running_without_fault(self, name):
        detail = self.raw_detail(name)
        self.assertEqual(detail['ApplicationStatus'], 'RUNNING', detail.get('EddyFault'))
        self.assertNotIn('EddyFault', detail, 'a reference object that cannot be read is a warning, not a fault')

    # ------------------------------------------------------------------------------- the ticker app
    def create_ticker_app(self, src, dst, key, name=None, start=True):
        """The guide's steps: an application with the ticker input and the output, then its reference
        source (v1), then the code that joins it; started from TRIM_HORIZON."""
        name = name or self.uniq('tickers')
        self.create_app(name, '', [kda.kinesis_input('SOURCE_SQL_STREAM', src, INPUT_SCHEMA)],
                        [kda.kinesis_output('DESTINATION_SQL_STREAM', dst)])
        added = self.ka.add_application_reference_data_source(
            ApplicationName=name, CurrentApplicationVersionId=1,
            ReferenceDataSource=ref_source(self.bucket, key))
        added.pop('ResponseMetadata')
        self.assertEqual(added, {}, 'v1 AddApplicationReferenceDataSource answers an empty object')
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=2,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ticker_code()})
        if start:
            self.start_app(name)
        return name

    def put_batch(self, stream, tag, tickers=TICKERS):
        """One record per ticker, SECTOR = `tag` (which batch), PRICE = its index in the batch."""
        records = [{'TICKER_SYMBOL': t, 'SECTOR': tag, 'CHANGE': 0.5, 'PRICE': float(i)}
                   for i, t in enumerate(tickers)]
        resp = self.k.put_records(StreamName=stream, Records=[
            {'Data': json.dumps(r).encode(), 'PartitionKey': 'p'} for r in records])
        self.assertEqual(resp['FailedRecordCount'], 0, resp)

    def batch_companies(self, stream, tag, tickers=TICKERS):
        """Waits for batch `tag`'s rows; returns [(ticker, Company)] in the batch's order. Each record
        gives one row (LEFT JOIN, a table with one row per ticker)."""
        rows = self.wait_rows(stream, lambda rs: len([r for r in rs if r.get('SECTOR') == tag]) >= len(tickers),
                              what='the %d rows of batch %s' % (len(tickers), tag))
        mine = [r for r in rows if r.get('SECTOR') == tag]
        self.assertEqual(len(mine), len(tickers), 'batch %s: one row per record: %s' % (tag, mine))
        for r in mine:
            self.assertEqual(set(r), {'TICKER_SYMBOL', 'Company', 'SECTOR', 'CHANGE', 'PRICE'}, r)
        mine.sort(key=lambda r: r['PRICE'])
        self.assertEqual([r['TICKER_SYMBOL'] for r in mine], list(tickers), mine)
        return [(r['TICKER_SYMBOL'], r['Company']) for r in mine]

    def expect_companies(self, stream, tag, table, tickers=TICKERS):
        """Batch `tag`'s rows name each ticker's company in `table` (a dict), null for others."""
        self.assertEqual(self.batch_companies(stream, tag, tickers),
                         [(t, table.get(t)) for t in tickers], 'batch %s' % tag)


# ================================================================================== v1
class TestReferenceDataV1(ReferenceCase):
    label = 'kda-ref-v1'

    def test_left_join_names_companies_and_reloads_on_update(self):
        src = self.new_stream(1, 'ticks')
        dst = self.new_stream(1, 'named')
        key = self.uniq('tables') + '/tickers.csv'
        self.put_object(key, COMPANIES)
        name = self.create_ticker_app(src, dst, key, start=False)

        # Described as stored, v1's shape (with ReferenceRoleARN), before it runs.
        detail = self.describe(name)
        self.assertEqual(detail['ApplicationVersionId'], 3)
        self.assertEqual(detail['ReferenceDataSourceDescriptions'], [ref_description(self.bucket, key)])
        self.assertNotIn('EddyReferenceData', self.raw_detail(name), 'nothing is loaded before it runs')
        self.start_app(name)
        first = self.assert_loaded(name, 'CompanyName', 4, COMPANIES)

        self.put_batch(src, 'P1')
        self.expect_companies(dst, 'P1', COMPANY_OF)
        self.assertEqual(self.load_warnings(name), [])

        # A new object alone changes nothing: KDA reads it when the application starts or is updated.
        renamed = {'AMZN': 'Amazon.com Inc', 'QXZ': 'Quixotic'}
        second_bytes = b'AMZN,Amazon.com Inc\nQXZ,Quixotic\n'
        self.put_object(key, second_bytes)
        self.put_batch(src, 'P2')
        self.expect_companies(dst, 'P2', COMPANY_OF)
        self.assertEqual(self.loaded(name)['Digest'], sha256(COMPANIES))

        # An UpdateApplication (here of the code) relaunches it, reading the object again.
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=3,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ticker_code(comment='reloaded')})
        self.wait_status(name, 'RUNNING')
        second = self.assert_loaded(name, 'CompanyName', 2, second_bytes)
        self.assertGreaterEqual(second['LoadedAt'], first['LoadedAt'])
        self.put_batch(src, 'P3')
        self.expect_companies(dst, 'P3', renamed)

        # Another table name, object, column delimiter and role in one update, with code that joins the
        # new name: described as updated, and the new rows use that table.
        psv_key = key.replace('tickers.csv', 'v3/tickers.psv')
        psv = b'WAS|Washington Co\nMMB|Mumbai Bank\nAMZN|Amazon (psv)\n'
        self.put_object(psv_key, psv)
        role = 'arn:aws:iam::000000000000:role/reader'
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=4, ApplicationUpdate={
            'ApplicationCodeUpdate': ticker_code('Companies'),
            'ReferenceDataSourceUpdates': [{
                'ReferenceId': '1.1', 'TableNameUpdate': 'Companies',
                'S3ReferenceDataSourceUpdate': {'FileKeyUpdate': psv_key, 'ReferenceRoleARNUpdate': role},
                'ReferenceSchemaUpdate': csv_schema('|')}]})
        self.wait_status(name, 'RUNNING')
        detail = self.describe(name)
        self.assertEqual(detail['ApplicationVersionId'], 5)
        self.assertEqual(detail['ReferenceDataSourceDescriptions'],
                         [ref_description(self.bucket, psv_key, 'Companies', csv_schema('|'), role)])
        self.assert_loaded(name, 'Companies', 3, psv)
        self.put_batch(src, 'P4')
        self.expect_companies(dst, 'P4', {'WAS': 'Washington Co', 'MMB': 'Mumbai Bank', 'AMZN': 'Amazon (psv)'})

        # The rows written before each relaunch are not written again with the later tables.
        self.expect_companies(dst, 'P1', COMPANY_OF)
        self.expect_companies(dst, 'P2', COMPANY_OF)
        self.expect_companies(dst, 'P3', renamed)
        self.assertEqual(self.load_warnings(name), [])
        self.assert_running_without_fault(name)

    def test_missing_object_keeps_the_last_good_table_with_a_warning(self):
        src = self.new_stream(1, 'ticks')
        dst = self.new_stream(1, 'named')
        key = self.uniq('tables') + '/tickers.csv'
        self.put_object(key, COMPANIES)
        name = self.create_ticker_app(src, dst, key)
        self.assert_loaded(name, 'CompanyName', 4, COMPANIES)
        self.put_batch(src, 'P1')
        self.expect_companies(dst, 'P1', COMPANY_OF)

        # The object is deleted, then the application is updated (which reloads it): it runs on with
        # the table it had, and says why in EddyReferenceData and a WARNING error row.
        self.delete_object(key)
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=3,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ticker_code(comment='no object')})
        self.assert_running_without_fault(name)
        self.assert_kept(name, 'CompanyName', key, 4, COMPANIES)
        warnings = self.wait_load_warning(name, key)
        self.assertEqual(warnings[-1]['ERROR_LEVEL'], 'WARNING', warnings)
        self.assertIn('CompanyName', warnings[-1]['MESSAGE'])
        # `eddy apps logs` prints the same row.
        p = subprocess.run([self.server.binary, 'apps', 'logs', name, '--endpoint', self.server.endpoint],
                           capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors='replace'))
        logged = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
        self.assertIn(warnings[-1], logged)
        self.put_batch(src, 'P2')
        self.expect_companies(dst, 'P2', COMPANY_OF)
        self.assert_running_without_fault(name)

        # Once the object is back (another one), the next update loads it and the error is gone.
        back = b'AMZN,Back Again\n'
        self.put_object(key, back)
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=4,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ticker_code(comment='back')})
        self.wait_status(name, 'RUNNING')
        self.assert_loaded(name, 'CompanyName', 1, back)
        self.put_batch(src, 'P3')
        self.expect_companies(dst, 'P3', {'AMZN': 'Back Again'})

    def test_added_while_running_and_read_again_by_a_start(self):
        src = self.new_stream(1, 'ticks')
        dst = self.new_stream(1, 'named')
        key = self.uniq('tables') + '/tickers.csv'
        self.put_object(key, COMPANIES)
        name = self.uniq('running')
        self.create_app(name, PLAIN_CODE, [kda.kinesis_input('SOURCE_SQL_STREAM', src, INPUT_SCHEMA)],
                        [kda.kinesis_output('DESTINATION_SQL_STREAM', dst)])
        self.start_app(name)
        self.assertNotIn('EddyReferenceData', self.raw_detail(name), 'no reference source, nothing loaded')
        # Added to the running application: it relaunches with the table loaded (the code does not join
        # it yet), then the code that joins it.
        self.ka.add_application_reference_data_source(ApplicationName=name, CurrentApplicationVersionId=1,
                                                      ReferenceDataSource=ref_source(self.bucket, key))
        self.wait_status(name, 'RUNNING')
        self.assert_loaded(name, 'CompanyName', 4, COMPANIES)
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=2,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ticker_code()})
        self.wait_status(name, 'RUNNING')
        self.put_batch(src, 'P1')
        self.expect_companies(dst, 'P1', COMPANY_OF)

        # StopApplication, a new object, StartApplication: the start reads it.
        self.stop_app(name)
        fresh = b'MMB,Fresh Start\n'
        self.put_object(key, fresh)
        self.ka.start_application(ApplicationName=name, InputConfigurations=kda.starting('LAST_STOPPED_POINT'))
        self.wait_status(name, 'RUNNING')
        self.assert_loaded(name, 'CompanyName', 1, fresh)
        self.put_batch(src, 'P2')
        self.expect_companies(dst, 'P2', {'MMB': 'Fresh Start'})
        self.expect_companies(dst, 'P1', COMPANY_OF)
        self.assertEqual(self.load_warnings(name), [])

    def test_missing_object_at_the_first_start_gives_an_empty_table(self):
        src = self.new_stream(1, 'ticks')
        dst = self.new_stream(1, 'named')
        key = self.uniq('tables') + '/never-written.csv'
        name = self.create_ticker_app(src, dst, key)
        self.assert_running_without_fault(name)
        load = self.loaded(name)
        self.assertIn(key, load.get('Error', ''), load)
        self.assertEqual((load['TableName'], load['Rows']), ('CompanyName', 0), load)
        self.wait_load_warning(name, key)
        self.put_batch(src, 'P1')
        self.expect_companies(dst, 'P1', {})  # LEFT JOIN with an empty table: every Company null

    def test_what_is_refused_changes_nothing(self):
        src = self.new_stream(1, 'ticks')
        name = self.uniq('refused')
        self.create_app(name, '', [kda.kinesis_input('SOURCE_SQL_STREAM', src, INPUT_SCHEMA)])

        def add(version=1, **source):
            return self.ka.add_application_reference_data_source(
                ApplicationName=name, CurrentApplicationVersionId=version,
                ReferenceDataSource=dict(ref_source(self.bucket, 'tickers.csv'), **source))

        # Not an ARN at all: the model's pattern (arn:.*) refuses it before eddy's own check.
        self.assert_error(('InvalidArgumentException', 'ValidationException'), add,
                          S3ReferenceDataSource={'BucketARN': 'refs', 'FileKey': 'tickers.csv',
                                                 'ReferenceRoleARN': kda.ROLE})
        for arn in ('arn:aws:s3:::', 'arn:aws:s3:::refs/tables', 'arn:aws:s3:us-east-1:000000000000:refs',
                    'arn:aws:kinesis:::refs'):
            with self.subTest(BucketARN=arn):
                self.assert_error('InvalidArgumentException', add,
                                  S3ReferenceDataSource={'BucketARN': arn, 'FileKey': 'tickers.csv',
                                                         'ReferenceRoleARN': kda.ROLE})
        for file_key in ('../tickers.csv', 'tables/../../tickers.csv', 'tables/..'):
            with self.subTest(FileKey=file_key):
                self.assert_error('InvalidArgumentException', add,
                                  S3ReferenceDataSource={'BucketARN': 'arn:aws:s3:::refs', 'FileKey': file_key,
                                                         'ReferenceRoleARN': kda.ROLE})
        self.assert_error('ResourceNotFoundException', self.ka.add_application_reference_data_source,
                          ApplicationName=self.uniq('nope'), CurrentApplicationVersionId=1,
                          ReferenceDataSource=ref_source(self.bucket, 'tickers.csv'))
        self.assert_error('ConcurrentModificationException', add, version=2)
        self.assertEqual(self.version(name), 1)
        self.assertEqual(self.describe(name)['ReferenceDataSourceDescriptions'], [])

        add()
        self.assertEqual(self.version(name), 2)
        # At most one reference data source per application.
        self.assert_error('InvalidArgumentException', add, version=2, TableName='Other')
        # Code naming a table that does not exist; the one that does is fine.
        e = self.assert_error('CodeValidationException', self.ka.update_application, ApplicationName=name,
                              CurrentApplicationVersionId=2,
                              ApplicationUpdate={'ApplicationCodeUpdate': ticker_code('NoSuchTable')})
        self.assertIn('NoSuchTable', e.response['Error']['Message'])
        self.assertRegex(e.response['Error']['Message'], kda.LINE_COL_RE)
        e = self.assert_error('CodeValidationException', self.ka.create_application,
                              ApplicationName=self.uniq('nocode'), ApplicationCode=ticker_code(),
                              Inputs=[kda.kinesis_input('SOURCE_SQL_STREAM', src, INPUT_SCHEMA)])
        self.assertIn('CompanyName', e.response['Error']['Message'])

        def update(version=2, **change):
            return self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=version,
                                              ApplicationUpdate={'ReferenceDataSourceUpdates': [
                                                  dict({'ReferenceId': '1.1'}, **change)]})
        self.assert_error('InvalidArgumentException', update,
                          S3ReferenceDataSourceUpdate={'BucketARNUpdate': 'arn:aws:s3:::refs/x'})
        self.assert_error('InvalidArgumentException', update,
                          S3ReferenceDataSourceUpdate={'FileKeyUpdate': 'a/../../../etc/passwd'})
        self.assert_error('ResourceNotFoundException', update, ReferenceId='9.9', TableNameUpdate='X')
        self.assert_error('ConcurrentModificationException', update, version=1, TableNameUpdate='X')
        self.assert_error('ResourceNotFoundException', self.ka.delete_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=2, ReferenceId='9.9')
        self.assert_error('ConcurrentModificationException', self.ka.delete_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=1, ReferenceId='1.1')
        self.assertEqual(self.version(name), 2)
        self.assertEqual(self.describe(name)['ReferenceDataSourceDescriptions'],
                         [ref_description(self.bucket, 'tickers.csv')])

        # With code that joins it, the table can be neither renamed nor deleted alone.
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=2,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ticker_code()})
        self.assert_error('CodeValidationException', update, version=3, TableNameUpdate='Renamed')
        self.assert_error('CodeValidationException', self.ka.delete_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=3, ReferenceId='1.1')
        self.assertEqual(self.version(name), 3)
        # Under code that joins nothing it goes: {} and a new version, then it is unknown.
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=3,
                                   ApplicationUpdate={'ApplicationCodeUpdate': PLAIN_CODE})
        gone = self.ka.delete_application_reference_data_source(ApplicationName=name, CurrentApplicationVersionId=4,
                                                                ReferenceId='1.1')
        gone.pop('ResponseMetadata')
        self.assertEqual(gone, {})
        self.assertEqual(self.version(name), 5)
        self.assertEqual(self.describe(name)['ReferenceDataSourceDescriptions'], [])
        self.assert_error('ResourceNotFoundException', self.ka.delete_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=5, ReferenceId='1.1')


# ================================================================================== v2
# A JSON table (tests/sql/reference_join.test): one record has a manager that is not an INTEGER (it
# is skipped), store_2 and store_3 appear twice, one record has a null id.
STORES = b''.join(json.dumps(r).encode() + b'\n' for r in [
    {'id': 'store_1', 'city': 'Lisbon', 'manager': 7},
    {'id': 'store_2', 'city': 'Porto', 'manager': 'not a number'},
    {'id': 'store_2', 'city': 'Braga', 'manager': 9},
    {'id': 'store_3', 'city': 'Faro', 'manager': 11},
    {'id': 'store_3', 'city': 'Evora', 'manager': 12},
    {'id': None, 'city': 'Nowhere', 'manager': 0}])
STORES_SCHEMA = {
    'RecordFormat': {'RecordFormatType': 'JSON', 'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
    'RecordEncoding': 'UTF-8',
    'RecordColumns': [{'Name': 'store_id', 'Mapping': '$.id', 'SqlType': 'VARCHAR(16)'},
                      {'Name': 'city', 'Mapping': '$.city', 'SqlType': 'VARCHAR(16)'},
                      {'Name': 'manager_id', 'Mapping': '$.manager', 'SqlType': 'INTEGER'}]}
SALES_SCHEMA = kda._json_schema([('store_id', 'VARCHAR(16)'), ('batch', 'VARCHAR(8)'), ('sales', 'REAL')])
STORES_CODE = (
    'CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("store_id" VARCHAR(16), "batch" VARCHAR(8), '
    '"city" VARCHAR(16), "manager_id" INTEGER);\n'
    'CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"\n'
    '  SELECT STREAM s."store_id", s."batch", st."city", st."manager_id"\n'
    '  FROM "SOURCE_SQL_STREAM_001" AS s JOIN "STORES" AS st ON s."store_id" = st."store_id";\n')


def v2_source(bucket, key, table='STORES', schema=None):
    return {'TableName': table, 'S3ReferenceDataSource': {'BucketARN': 'arn:aws:s3:::' + bucket, 'FileKey': key},
            'ReferenceSchema': schema or STORES_SCHEMA}


class TestReferenceDataV2(ReferenceCase):
    label = 'kda-ref-v2'

    @classmethod
    def connect(cls):
        super().connect()
        cls.v2 = kv2.v2_client(cls.server)

    def v2_detail(self, name):
        return self.v2.describe_application(ApplicationName=name)['ApplicationDetail']

    def v2_refs(self, detail):
        return (detail['ApplicationConfigurationDescription']['SqlApplicationConfigurationDescription']
                ['ReferenceDataSourceDescriptions'])

    def put_sales(self, stream, batch, stores):
        resp = self.k.put_records(StreamName=stream, Records=[
            {'Data': json.dumps({'store_id': s, 'batch': batch, 'sales': 1.5}).encode(), 'PartitionKey': 'p'}
            for s in stores])
        self.assertEqual(resp['FailedRecordCount'], 0, resp)

    def batch_rows(self, stream, batch, n):
        """Batch `batch`'s joined rows, sorted, once `n` of them are there. The tests send the records
        that must give no row first, on one shard: a row of theirs would be there before these."""
        def pick(rows):
            return sorted((r['store_id'], r['city'], r['manager_id']) for r in rows if r['batch'] == batch)
        rows = self.wait_rows(stream, lambda rs: len(pick(rs)) >= n, what='%d rows of batch %s' % (n, batch))
        return pick(rows)

    def test_create_with_a_json_table_inner_join_and_a_malformed_object(self):
        src = self.new_stream(1, 'sales')
        dst = self.new_stream(1, 'stores')
        key = self.uniq('stores') + '/stores.json'
        self.put_object(key, STORES)
        name = self.uniq('v2-stores')
        created = self.v2.create_application(
            ApplicationName=name, RuntimeEnvironment='SQL-1_0', ServiceExecutionRole=kda.ROLE,
            ApplicationConfiguration={
                'ApplicationCodeConfiguration': {'CodeContentType': 'PLAINTEXT',
                                                 'CodeContent': {'TextContent': STORES_CODE}},
                'SqlApplicationConfiguration': {
                    'Inputs': [kv2.sql_input('SOURCE_SQL_STREAM', src, SALES_SCHEMA)],
                    'Outputs': [kv2.sql_output('DESTINATION_SQL_STREAM', dst)],
                    'ReferenceDataSources': [v2_source(self.bucket, key)]}})['ApplicationDetail']
        self.assertEqual((created['ApplicationStatus'], created['ApplicationVersionId']), ('READY', 1))
        described = [{'ReferenceId': '1.1', 'TableName': 'STORES', 'ReferenceSchema': STORES_SCHEMA,
                      'S3ReferenceDataSourceDescription': {'BucketARN': 'arn:aws:s3:::' + self.bucket, 'FileKey': key}}]
        self.assertEqual(self.v2_refs(created), described)
        self.assertEqual(self.v2_refs(self.v2_detail(name)), described)
        # The v1 API sees the same source.
        self.assertEqual(self.describe(name)['ReferenceDataSourceDescriptions'], described)

        self.v2.start_application(ApplicationName=name, RunConfiguration={'SqlRunConfigurations': [{
            'InputId': '1.1', 'InputStartingPositionConfiguration': {'InputStartingPosition': 'TRIM_HORIZON'}}]})
        self.wait_status(name, 'RUNNING')
        self.assert_loaded(name, 'STORES', 5, STORES, skipped=1, target=V2)
        # INNER JOIN: store_9 and a null store give nothing; store_3 gives a row per match; store_2's
        # record with a bad manager was skipped, its other one matches.
        self.put_sales(src, 'b1', ['store_9', None, 'store_3', 'store_2', 'store_1'])
        joined = [('store_1', 'Lisbon', 7), ('store_2', 'Braga', 9), ('store_3', 'Evora', 12), ('store_3', 'Faro', 11)]
        self.assertEqual(self.batch_rows(dst, 'b1', 4), joined)

        # A v2 UpdateApplication of the source (another object, unparseable) while it runs: it runs on
        # with the last good table, and says why.
        bad_key = key.replace('stores.json', 'broken.json')
        self.put_object(bad_key, b'this is not JSON {')
        updated = self.v2.update_application(
            ApplicationName=name, CurrentApplicationVersionId=1, ApplicationConfigurationUpdate={
                'SqlApplicationConfigurationUpdate': {'ReferenceDataSourceUpdates': [{
                    'ReferenceId': '1.1', 'S3ReferenceDataSourceUpdate': {'FileKeyUpdate': bad_key}}]}})
        detail = updated['ApplicationDetail']
        self.assertEqual((detail['ApplicationVersionId'], detail['ApplicationStatus']), (2, 'RUNNING'))
        self.assertEqual(self.v2_refs(detail)[0]['S3ReferenceDataSourceDescription']['FileKey'], bad_key)
        self.assert_running_without_fault(name)
        self.assert_kept(name, 'STORES', bad_key, 5, STORES, target=V2)
        self.wait_load_warning(name, bad_key)
        self.put_sales(src, 'b2', ['store_1', 'store_2'])
        self.assertEqual(self.batch_rows(dst, 'b2', 2), [('store_1', 'Lisbon', 7), ('store_2', 'Braga', 9)])

        # A good object and a new schema (city only from $.town) through v2: loaded at once.
        towns = b'{"id": "store_1", "town": "Sintra", "manager": 70}\n'
        schema = json.loads(json.dumps(STORES_SCHEMA))
        schema['RecordColumns'][1]['Mapping'] = '$.town'
        self.put_object(bad_key, towns)
        detail = self.v2.update_application(
            ApplicationName=name, CurrentApplicationVersionId=2, ApplicationConfigurationUpdate={
                'SqlApplicationConfigurationUpdate': {'ReferenceDataSourceUpdates': [{
                    'ReferenceId': '1.1', 'ReferenceSchemaUpdate': schema}]}})['ApplicationDetail']
        self.assertEqual(self.v2_refs(detail)[0]['ReferenceSchema'], schema)
        self.assert_loaded(name, 'STORES', 1, towns, target=V2)
        self.put_sales(src, 'b3', ['store_2', 'store_1'])
        self.assertEqual(self.batch_rows(dst, 'b3', 1), [('store_1', 'Sintra', 70)])
        self.assertEqual(self.batch_rows(dst, 'b1', 4), joined, 'earlier rows are not written again')

    def test_add_update_delete_answers_and_errors(self):
        src = self.new_stream(1, 'sales')
        name = self.uniq('v2-shapes')
        self.v2.create_application(
            ApplicationName=name, RuntimeEnvironment='SQL-1_0', ServiceExecutionRole=kda.ROLE,
            ApplicationConfiguration={'SqlApplicationConfiguration': {
                'Inputs': [kv2.sql_input('SOURCE_SQL_STREAM', src, SALES_SCHEMA)]}})
        added = self.v2.add_application_reference_data_source(
            ApplicationName=name, CurrentApplicationVersionId=1, ReferenceDataSource=v2_source(self.bucket, 's.json'))
        added.pop('ResponseMetadata')
        self.assertEqual(added, {
            'ApplicationARN': kda.app_arn(name), 'ApplicationVersionId': 2,
            'ReferenceDataSourceDescriptions': [{
                'ReferenceId': '1.1', 'TableName': 'STORES', 'ReferenceSchema': STORES_SCHEMA,
                'S3ReferenceDataSourceDescription': {'BucketARN': 'arn:aws:s3:::refs', 'FileKey': 's.json'}}]})
        self.assert_error('InvalidArgumentException', self.v2.add_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=2,
                          ReferenceDataSource=v2_source(self.bucket, 'other.json', 'OTHER'))
        self.assert_error('ConcurrentModificationException', self.v2.add_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=1,
                          ReferenceDataSource=v2_source(self.bucket, 'other.json', 'OTHER'))

        def update(version, **change):
            return self.v2.update_application(
                ApplicationName=name, CurrentApplicationVersionId=version, ApplicationConfigurationUpdate={
                    'SqlApplicationConfigurationUpdate': {'ReferenceDataSourceUpdates': [
                        dict({'ReferenceId': '1.1'}, **change)]}})
        self.assert_error('ResourceNotFoundException', update, 2, ReferenceId='2.1', TableNameUpdate='T')
        self.assert_error('ConcurrentModificationException', update, 1, TableNameUpdate='T')
        self.assert_error('InvalidArgumentException', update, 2,
                          S3ReferenceDataSourceUpdate={'BucketARNUpdate': 'arn:aws:s3:::refs/sub'})
        self.assert_error('InvalidArgumentException', update, 2, S3ReferenceDataSourceUpdate={'FileKeyUpdate': '../s'})
        self.assertEqual(self.v2_detail(name)['ApplicationVersionId'], 2)
        detail = update(2, TableNameUpdate='SHOPS', S3ReferenceDataSourceUpdate={
            'BucketARNUpdate': 'arn:aws:s3:::other-bucket', 'FileKeyUpdate': 'dir/shops.json'})['ApplicationDetail']
        self.assertEqual(detail['ApplicationVersionId'], 3)
        self.assertEqual(self.v2_refs(detail), [{
            'ReferenceId': '1.1', 'TableName': 'SHOPS', 'ReferenceSchema': STORES_SCHEMA,
            'S3ReferenceDataSourceDescription': {'BucketARN': 'arn:aws:s3:::other-bucket', 'FileKey': 'dir/shops.json'}}])

        self.assert_error('ResourceNotFoundException', self.v2.delete_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=3, ReferenceId='7.1')
        self.assert_error('ConcurrentModificationException', self.v2.delete_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=2, ReferenceId='1.1')
        gone = self.v2.delete_application_reference_data_source(ApplicationName=name, CurrentApplicationVersionId=3,
                                                                ReferenceId='1.1')
        gone.pop('ResponseMetadata')
        self.assertEqual(gone, {'ApplicationARN': kda.app_arn(name), 'ApplicationVersionId': 4})
        self.assertEqual(self.v2_refs(self.v2_detail(name)), [])
        self.assert_error('ResourceNotFoundException', self.v2.delete_application_reference_data_source,
                          ApplicationName=name, CurrentApplicationVersionId=4, ReferenceId='1.1')

        # CreateApplication refuses what Add refuses, and creates nothing.
        def create(sources, code=None, app=None):
            conf = {'SqlApplicationConfiguration': {
                'Inputs': [kv2.sql_input('SOURCE_SQL_STREAM', src, SALES_SCHEMA)], 'ReferenceDataSources': sources}}
            if code:
                conf['ApplicationCodeConfiguration'] = {'CodeContentType': 'PLAINTEXT',
                                                        'CodeContent': {'TextContent': code}}
            return self.v2.create_application(ApplicationName=app or self.uniq('v2-bad'), RuntimeEnvironment='SQL-1_0',
                                              ServiceExecutionRole=kda.ROLE, ApplicationConfiguration=conf)
        before = {a['ApplicationName'] for a in self.v2.list_applications()['ApplicationSummaries']}
        self.assert_error('InvalidArgumentException', create,
                          [v2_source(self.bucket, 'a.json'), v2_source(self.bucket, 'b.json', 'OTHER')])
        self.assert_error('InvalidArgumentException', create,
                          [dict(v2_source(self.bucket, 'a.json'), S3ReferenceDataSource={
                              'BucketARN': 'arn:aws:s3:::refs/a', 'FileKey': 'a.json'})])
        self.assert_error('InvalidArgumentException', create,
                          [dict(v2_source(self.bucket, 'a.json'), S3ReferenceDataSource={
                              'BucketARN': 'arn:aws:s3:::refs', 'FileKey': 'x/../../a.json'})])
        self.assert_error('CodeValidationException', create, [v2_source(self.bucket, 'a.json', 'SHOPS')], STORES_CODE)
        self.assertEqual({a['ApplicationName'] for a in self.v2.list_applications()['ApplicationSummaries']}, before)

    def test_a_v1_source_described_by_v2_has_no_role(self):
        src = self.new_stream(1, 'ticks')
        name = self.uniq('v1-made')
        self.create_app(name, '', [kda.kinesis_input('SOURCE_SQL_STREAM', src, INPUT_SCHEMA)])
        self.ka.add_application_reference_data_source(ApplicationName=name, CurrentApplicationVersionId=1,
                                                      ReferenceDataSource=ref_source(self.bucket, 'tickers.csv'))
        self.assertEqual(self.describe(name)['ReferenceDataSourceDescriptions'],
                         [ref_description(self.bucket, 'tickers.csv')])
        self.assertEqual(self.v2_refs(self.raw_detail(name, V2)),
                         [ref_description(self.bucket, 'tickers.csv', role=None)])


# ================================================================================== S3
class TestReferenceDataFromS3(ReferenceCase):
    """--s3-endpoint: the objects are read from an S3-compatible store (s3rver), not the bucket
    directory."""
    label = 'kda-ref-s3'

    @classmethod
    def setUpClass(cls):
        import boto3
        cls.s3dir = tempfile.mkdtemp(prefix='eddy-s3rver-ref-')
        port = free_port()
        env = dict(os.environ, NODE_OPTIONS='--openssl-legacy-provider')
        cls.s3rver = subprocess.Popen(
            [os.path.join(ROOT, 'node_modules', '.bin', 's3rver'), '-d', cls.s3dir, '-p', str(port),
             '-a', '127.0.0.1', '--configure-bucket', cls.bucket, '--silent'],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:%d' % port, region_name='us-east-1',
                              aws_access_key_id='S3RVER', aws_secret_access_key='S3RVER')
        deadline = time.monotonic() + 20
        while True:
            try:
                cls.s3.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline or cls.s3rver.poll() is not None:
                    cls.s3rver.kill()
                    cls.s3rver.wait()
                    raise
                time.sleep(0.1)
        try:
            cls.server = harness.EddyServer(['--s3-endpoint', 'http://127.0.0.1:%d' % port,
                                             '--s3-access-key', 'S3RVER', '--s3-secret-key', 'S3RVER'],
                                            label=cls.label).start()
            cls.connect()
        except Exception:
            cls.s3rver.kill()
            cls.s3rver.wait()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.s3rver.kill()
            cls.s3rver.wait()

    def put_s3(self, key, data):
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def test_table_from_s3_reloads_on_update_and_survives_a_deleted_object(self):
        src = self.new_stream(1, 'ticks')
        dst = self.new_stream(1, 'named')
        key = 'tables/%s/tickers (v1).csv' % self.uniq('t')
        self.put_s3(key, COMPANIES)
        # The bucket directory's object of the same name is not what a server with --s3-endpoint reads.
        self.put_object(key, b'AMZN,From The Bucket Dir\n')
        name = self.create_ticker_app(src, dst, key)
        self.assert_loaded(name, 'CompanyName', 4, COMPANIES)
        self.put_batch(src, 'P1')
        self.expect_companies(dst, 'P1', COMPANY_OF)

        newer = b'AMZN,Amazon S3\nQXZ,Quixotic\n'
        self.put_s3(key, newer)
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=3,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ticker_code(comment='newer')})
        self.wait_status(name, 'RUNNING')
        self.assert_loaded(name, 'CompanyName', 2, newer)
        self.put_batch(src, 'P2')
        self.expect_companies(dst, 'P2', {'AMZN': 'Amazon S3', 'QXZ': 'Quixotic'})

        self.s3.delete_object(Bucket=self.bucket, Key=key)
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=4,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ticker_code(comment='deleted')})
        self.assert_running_without_fault(name)
        load = self.assert_kept(name, 'CompanyName', key, 2, newer)
        self.assertIn('NoSuchKey', load['Error'])
        self.wait_load_warning(name, key)
        self.put_batch(src, 'P3')
        self.expect_companies(dst, 'P3', {'AMZN': 'Amazon S3', 'QXZ': 'Quixotic'})


# ================================================================================== restarts
class TestReferenceDataAcrossRestarts(ReferenceCase):
    label = 'kda-ref-restart'

    def restart_server(self):
        self.server.restart()
        type(self).connect()

    def test_a_restart_keeps_the_application_running_with_its_table(self):
        src = self.new_stream(1, 'ticks')
        dst = self.new_stream(1, 'named')
        key = 'tickers.csv'
        self.put_object(key, COMPANIES)
        name = self.create_ticker_app(src, dst, key)
        before = self.assert_loaded(name, 'CompanyName', 4, COMPANIES)
        self.put_batch(src, 'P1')
        self.expect_companies(dst, 'P1', COMPANY_OF)

        # A restart launches it again: the object is read again.
        self.restart_server()
        self.wait_status(name, 'RUNNING')
        again = self.assert_loaded(name, 'CompanyName', 4, COMPANIES)
        self.assertGreater(again['LoadedAt'], before['LoadedAt'])
        self.put_batch(src, 'P2')
        self.expect_companies(dst, 'P2', COMPANY_OF)

        # Without the object, a restart keeps the table the application had: its last good copy.
        self.delete_object(key)
        self.restart_server()
        self.wait_status(name, 'RUNNING')
        self.assert_running_without_fault(name)
        self.assert_kept(name, 'CompanyName', key, 4, COMPANIES)
        self.wait_load_warning(name, key)
        self.put_batch(src, 'P3')
        self.expect_companies(dst, 'P3', COMPANY_OF)
        # The restarts wrote no row twice.
        self.expect_companies(dst, 'P1', COMPANY_OF)
        self.expect_companies(dst, 'P2', COMPANY_OF)


if __name__ == '__main__':
    unittest.main()
