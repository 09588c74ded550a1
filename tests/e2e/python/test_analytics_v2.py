"""The KDA v2 / Managed Service for Apache Flink control plane (`kinesisanalyticsv2`) driven by
boto3 and the AWS CLI: a SQL-1_0 application (the sales seed) with a custom parallelism, whose
rows equal the same application made with the v1 API; the trades seed's C++ job deployed as a
FLINK application from a bucket directory (S3ContentLocation) with EnvironmentProperties, whose
lines equal the same computation in Flink SQL, also across an UpdateApplication with a new
library (ZipFileContentUpdate) and parallelism while it runs; and the errors of what eddy does not
run."""
import hashlib
import json
import os
import random
import shutil
import unittest

import harness
import test_analytics as kda
import test_checkpoint as cp
import test_jobs

ROLE = kda.ROLE
TRADES_GROUP = [{'PropertyGroupId': 'TradesMax',
                 'PropertyMap': {'inputStreamName': 'trades', 'outputStreamName': 'job-out',
                                 'startingPosition': 'TRIM_HORIZON'}}]


def v2_client(server, validate=True):
    import boto3
    from botocore.config import Config
    cfg = Config(retries={'total_max_attempts': 1}, read_timeout=60, connect_timeout=10,
                 parameter_validation=validate)
    return boto3.client('kinesisanalyticsv2', endpoint_url=server.endpoint, region_name=harness.REGION,
                        aws_access_key_id=harness.ACCESS_KEY, aws_secret_access_key=harness.SECRET_KEY,
                        config=cfg)


def sql_input(prefix, stream, schema):
    return {'NamePrefix': prefix, 'KinesisStreamsInput': {'ResourceARN': kda.stream_arn(stream)},
            'InputSchema': schema}


def sql_output(name, stream):
    return {'Name': name, 'KinesisStreamsOutput': {'ResourceARN': kda.stream_arn(stream)},
            'DestinationSchema': {'RecordFormatType': 'JSON'}}


class AnalyticsV2Test(cp.PipelineCase, unittest.TestCase):
    def connect(self):
        super().connect()
        self.v2 = v2_client(self.server)

    def cli(self, *args, check=True):
        return kda.analytics_cli(self.server, *args, check=check, service='kinesisanalyticsv2')

    def cli_and_body(self, *args):
        """Runs `aws kinesisanalyticsv2 <args> --debug`; returns (the printed JSON or None, the JSON
        body of the server's response). The CLI prints only members its model has: Debian 12's AWS
        CLI 2.9.19 does not know OperationId (botocore 1.34.134 added it)."""
        p = self.cli(*args, '--debug', check=False)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors='replace')[-3000:])
        out = p.stdout.decode().strip()
        return (json.loads(out) if out else None), harness.cli_response_body(p.stderr)

    def call(self, operation, **params):
        """self.v2's `operation`; response members this botocore's model lacks (OperationId before
        botocore 1.34.134) are read from the raw response (harness.call)."""
        return harness.call(self.server, self.v2, operation, **params)

    def assert_error(self, code, fn, **kw):
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as ctx:
            fn(**kw)
        self.assertEqual(ctx.exception.response['Error']['Code'], code, ctx.exception.response)
        return ctx.exception.response['Error']['Message']

    def detail(self, name):
        return self.v2.describe_application(ApplicationName=name)['ApplicationDetail']

    def test_sql_application_equals_v1_and_takes_parallelism(self):
        rng = random.Random(7)
        src = harness.create_stream(self.k, 'sales', 2)
        for name in ('v2-out', 'v1-out'):
            harness.create_stream(self.k, name, 1)
        created = self.v2.create_application(
            ApplicationName='sales-v2', RuntimeEnvironment='SQL-1_0', ServiceExecutionRole=ROLE,
            ApplicationDescription='revenue per store',
            ApplicationConfiguration={
                'ApplicationCodeConfiguration': {'CodeContentType': 'PLAINTEXT',
                                                 'CodeContent': {'TextContent': cp.SALES_SQL}},
                'SqlApplicationConfiguration': {
                    'Inputs': [sql_input('SALES', src, cp.SALES_SCHEMA)],
                    'Outputs': [sql_output('DEST', 'v2-out')]},
                'FlinkApplicationConfiguration': {
                    'ParallelismConfiguration': {'ConfigurationType': 'CUSTOM', 'Parallelism': 2}}})
        d = created['ApplicationDetail']
        self.assertEqual(d['RuntimeEnvironment'], 'SQL-1_0')
        self.assertEqual(d['ApplicationStatus'], 'READY')
        self.assertEqual(d['ApplicationVersionId'], 1)
        self.assertEqual(d['ServiceExecutionRole'], ROLE)
        conf = d['ApplicationConfigurationDescription']
        code = conf['ApplicationCodeConfigurationDescription']
        self.assertEqual(code['CodeContentType'], 'PLAINTEXT')
        self.assertEqual(code['CodeContentDescription']['TextContent'], cp.SALES_SQL)
        self.assertEqual(code['CodeContentDescription']['CodeMD5'], hashlib.md5(cp.SALES_SQL.encode()).hexdigest())
        sql = conf['SqlApplicationConfigurationDescription']
        self.assertEqual(sql['InputDescriptions'][0]['InputId'], '1.1')
        self.assertEqual(sql['InputDescriptions'][0]['InAppStreamNames'], ['SALES_001'])
        self.assertEqual(sql['OutputDescriptions'][0]['OutputId'], '1.1')
        par = conf['FlinkApplicationConfigurationDescription']['ParallelismConfigurationDescription']
        self.assertEqual((par['ConfigurationType'], par['Parallelism']), ('CUSTOM', 2))

        # The AWS CLI starts it, as `aws kinesisanalyticsv2 start-application` does against AWS.
        self.cli('start-application', '--application-name', 'sales-v2', '--run-configuration', json.dumps(
            {'SqlRunConfigurations': [{'InputId': '1.1',
                                       'InputStartingPositionConfiguration': {'InputStartingPosition': 'TRIM_HORIZON'}}]}))
        self.wait_running('sales-v2')
        self.put(src, [cp.sale(rng) for _ in range(1500)], 'store_id')
        # The v1 API sees the same application; its twin made with v1 gives the same rows.
        self.assertEqual(self.ka.describe_application(ApplicationName='sales-v2')['ApplicationDetail']
                         ['ApplicationStatus'], 'RUNNING')
        self.create_sales('sales-v1', src, 'v1-out')
        self.put(src, [cp.sale(rng) for _ in range(1500)], 'store_id')
        v2_rows = self.settled('v2-out')

        # A parallelism change while it runs: a new version, running on from its checkpoint.
        updated = self.call(
            'UpdateApplication', ApplicationName='sales-v2', CurrentApplicationVersionId=1,
            ApplicationConfigurationUpdate={'FlinkApplicationConfigurationUpdate': {
                'ParallelismConfigurationUpdate': {'ConfigurationTypeUpdate': 'CUSTOM', 'ParallelismUpdate': 1}}})
        self.assertIn('OperationId', updated)
        d = updated['ApplicationDetail']
        self.assertEqual(d['ApplicationVersionId'], 2)
        self.assertEqual(d['ApplicationStatus'], 'RUNNING')
        par = d['ApplicationConfigurationDescription']['FlinkApplicationConfigurationDescription'][
            'ParallelismConfigurationDescription']
        self.assertEqual((par['Parallelism'], par['CurrentParallelism']), (1, 1))
        self.put(src, [cp.sale(rng) for _ in range(1500)], 'store_id')
        v2_rows = self.settled('v2-out')
        self.assertGreater(len(v2_rows), 3)
        self.assertEqual(v2_rows, self.settled('v1-out'))

        listed = self.cli('list-applications')['ApplicationSummaries']
        by_name = {a['ApplicationName']: a for a in listed}
        self.assertEqual(by_name['sales-v2']['RuntimeEnvironment'], 'SQL-1_0')
        self.assertEqual(by_name['sales-v2']['ApplicationVersionId'], 2)
        self.assertEqual(by_name['sales-v1']['RuntimeEnvironment'], 'SQL-1_0')
        page = self.v2.list_applications(Limit=1)
        self.assertEqual([a['ApplicationName'] for a in page['ApplicationSummaries']], ['sales-v1'])
        rest = self.v2.list_applications(Limit=1, NextToken=page['NextToken'])
        self.assertEqual([a['ApplicationName'] for a in rest['ApplicationSummaries']], ['sales-v2'])
        self.assertNotIn('NextToken', rest)

        self.assertIn('OperationId', self.call('StopApplication', ApplicationName='sales-v2'))
        self.assertEqual(self.detail('sales-v2')['ApplicationStatus'], 'READY')
        created_at = self.detail('sales-v2')['CreateTimestamp']
        self.v2.delete_application(ApplicationName='sales-v2', CreateTimestamp=created_at)
        self.assert_error('ResourceNotFoundException', self.v2.describe_application, ApplicationName='sales-v2')

    def test_cpp_job_from_a_bucket_equals_flink_sql_across_an_update(self):
        rng = random.Random(11)
        lib = test_jobs.job_library()
        bucket = os.path.join(self.server.data_dir, 'bucket', 'jobs')
        os.makedirs(os.path.join(bucket, 'v1'))
        shutil.copy(lib, os.path.join(bucket, 'v1', 'trades-max.so'))
        src = harness.create_stream(self.k, 'trades', 2)
        for name in ('job-out', 'sql-out'):
            harness.create_stream(self.k, name, 1)
        # Created with the AWS CLI, as docs/sql-applications.md shows.
        d = self.cli('create-application', '--application-name', 'trades-job', '--runtime-environment', 'FLINK-1_20',
                     '--service-execution-role', ROLE, '--application-configuration', json.dumps({
                         'ApplicationCodeConfiguration': {
                             'CodeContentType': 'ZIPFILE',
                             'CodeContent': {'S3ContentLocation': {'BucketARN': 'arn:aws:s3:::jobs',
                                                                   'FileKey': 'v1/trades-max.so'}}},
                         'EnvironmentProperties': {'PropertyGroups': TRADES_GROUP},
                         'FlinkApplicationConfiguration': {
                             'CheckpointConfiguration': {'ConfigurationType': 'CUSTOM', 'CheckpointInterval': 500,
                                                         'CheckpointingEnabled': True},
                             'ParallelismConfiguration': {'ConfigurationType': 'CUSTOM', 'Parallelism': 2}}}),
                     )['ApplicationDetail']
        self.assertEqual(d['ApplicationStatus'], 'READY')  # CreateApplication does not start it
        conf = d['ApplicationConfigurationDescription']
        code = conf['ApplicationCodeConfigurationDescription']
        with open(lib, 'rb') as f:
            library = f.read()
        self.assertEqual(code['CodeContentType'], 'ZIPFILE')
        self.assertEqual(code['CodeContentDescription']['CodeMD5'], hashlib.md5(library).hexdigest())
        self.assertEqual(code['CodeContentDescription']['CodeSize'], len(library))
        self.assertEqual(code['CodeContentDescription']['S3ApplicationCodeLocationDescription'],
                         {'BucketARN': 'arn:aws:s3:::jobs', 'FileKey': 'v1/trades-max.so'})
        self.assertEqual(conf['EnvironmentPropertyDescriptions']['PropertyGroupDescriptions'], TRADES_GROUP)
        flink = conf['FlinkApplicationConfigurationDescription']
        self.assertEqual(flink['CheckpointConfigurationDescription']['CheckpointInterval'], 500)
        self.assertEqual(flink['ParallelismConfigurationDescription']['Parallelism'], 2)
        self.assertNotIn('SqlApplicationConfigurationDescription', conf)

        printed, body = self.cli_and_body('start-application', '--application-name', 'trades-job')
        self.assertIn('OperationId', body)
        if printed is not None:  # a CLI whose model has OperationId prints what the server sent
            self.assertEqual(printed, body)
        self.wait_running('trades-job')
        self.put(src, [cp.trade(rng, i) for i in range(1000)], 'TICKER')
        # A new library, given inline, and another parallelism while it runs: it goes on from its
        # checkpoint, nothing twice.
        d = self.v2.update_application(
            ApplicationName='trades-job', CurrentApplicationVersionId=1,
            ApplicationConfigurationUpdate={
                'ApplicationCodeConfigurationUpdate': {'CodeContentUpdate': {'ZipFileContentUpdate': library}},
                'FlinkApplicationConfigurationUpdate': {'ParallelismConfigurationUpdate': {
                    'ConfigurationTypeUpdate': 'CUSTOM', 'ParallelismUpdate': 4}}})['ApplicationDetail']
        self.assertEqual((d['ApplicationVersionId'], d['ApplicationStatus']), (2, 'RUNNING'))
        self.assertNotIn('S3ApplicationCodeLocationDescription',
                         d['ApplicationConfigurationDescription']['ApplicationCodeConfigurationDescription']
                         ['CodeContentDescription'])
        self.assertEqual(d['ApplicationConfigurationDescription']['EnvironmentPropertyDescriptions']
                         ['PropertyGroupDescriptions'], TRADES_GROUP)
        for r in range(1, 3):
            self.put(src, [cp.trade(rng, r * 1000 + i) for i in range(1000)], 'TICKER')
        jobs = test_jobs.JobsTest.job_rows(self, 'job-out')
        self.create_trades('trades-sql', src, 'sql-out')
        self.assertGreater(len(jobs), 10)
        self.assertEqual(jobs, test_jobs.JobsTest.sql_rows(self, 'sql-out'))

        # Stopped, then started without its state: it reads from its source's own start again.
        self.v2.stop_application(ApplicationName='trades-job', Force=True)
        self.v2.start_application(ApplicationName='trades-job', RunConfiguration={
            'ApplicationRestoreConfiguration': {'ApplicationRestoreType': 'SKIP_RESTORE_FROM_SNAPSHOT'}})
        self.wait_running('trades-job')
        again = test_jobs.JobsTest.job_rows(self, 'job-out')
        self.assertEqual(sorted(again), sorted(jobs + jobs))

    def test_what_eddy_does_not_run_is_refused_with_the_reason(self):
        base = {'ServiceExecutionRole': ROLE}
        msg = self.assert_error('UnsupportedOperationException', self.v2.create_application,
                                ApplicationName='nb', RuntimeEnvironment='ZEPPELIN-FLINK-3_0', **base)
        self.assertIn('Studio notebooks', msg)
        msg = self.assert_error('InvalidArgumentException', self.v2.create_application,
                                ApplicationName='sql-zip', RuntimeEnvironment='SQL-1_0', ApplicationConfiguration={
                                    'ApplicationCodeConfiguration': {'CodeContentType': 'ZIPFILE', 'CodeContent': {
                                        'S3ContentLocation': {'BucketARN': 'arn:aws:s3:::b', 'FileKey': 'k'}}}}, **base)
        self.assertIn('TextContent', msg)
        msg = self.assert_error('InvalidArgumentException', self.v2.create_application,
                                ApplicationName='no-lib', RuntimeEnvironment='FLINK-1_20', ApplicationConfiguration={
                                    'ApplicationCodeConfiguration': {'CodeContentType': 'ZIPFILE', 'CodeContent': {
                                        'S3ContentLocation': {'BucketARN': 'arn:aws:s3:::jobs',
                                                              'FileKey': 'missing.so'}}}}, **base)
        self.assertIn('copy the library there', msg)
        msg = self.assert_error('InvalidArgumentException', self.v2.create_application,
                                ApplicationName='a-zip', RuntimeEnvironment='FLINK-1_20', ApplicationConfiguration={
                                    'ApplicationCodeConfiguration': {'CodeContentType': 'ZIPFILE', 'CodeContent': {
                                        'ZipFileContent': b'PK\x03\x04 a jar'}}}, **base)
        self.assertIn('not a zip archive', msg)
        msg = self.assert_error('InvalidArgumentException', self.v2.create_application,
                                ApplicationName='not-elf', RuntimeEnvironment='FLINK-1_20', ApplicationConfiguration={
                                    'ApplicationCodeConfiguration': {'CodeContentType': 'ZIPFILE', 'CodeContent': {
                                        'ZipFileContent': b'not a library'}}}, **base)
        self.assertNotIn('not-elf', [a['ApplicationName'] for a in self.v2.list_applications()['ApplicationSummaries']])
        msg = self.assert_error('InvalidArgumentException', self.v2.create_application,
                                ApplicationName='no-ckpt', RuntimeEnvironment='SQL-1_0', ApplicationConfiguration={
                                    'FlinkApplicationConfiguration': {'CheckpointConfiguration': {
                                        'ConfigurationType': 'CUSTOM', 'CheckpointingEnabled': False}}}, **base)
        self.assertIn('always checkpoint', msg)
        self.assert_error('ValidationException', v2_client(self.server, validate=False).create_application,
                          ApplicationName='no-role', RuntimeEnvironment='SQL-1_0')

        self.v2.create_application(ApplicationName='plain', RuntimeEnvironment='SQL-1_0', **base)
        self.assert_error('ResourceInUseException', self.v2.create_application,
                          ApplicationName='plain', RuntimeEnvironment='SQL-1_0', **base)
        self.assert_error('ConcurrentModificationException', self.v2.update_application,
                          ApplicationName='plain', CurrentApplicationVersionId=7, ApplicationConfigurationUpdate={
                              'ApplicationCodeConfigurationUpdate': {'CodeContentUpdate': {'TextContentUpdate': 'x'}}})
        msg = self.assert_error('InvalidArgumentException', self.v2.update_application,
                                ApplicationName='plain', CurrentApplicationVersionId=1,
                                ApplicationConfigurationUpdate={'EnvironmentPropertyUpdates': {'PropertyGroups': []}})
        self.assertIn('C++ jobs', msg)
        msg = self.assert_error('CodeValidationException', self.v2.update_application,
                                ApplicationName='plain', CurrentApplicationVersionId=1,
                                ApplicationConfigurationUpdate={'ApplicationCodeConfigurationUpdate': {
                                    'CodeContentUpdate': {'TextContentUpdate': 'SELECT nonsense FROM x'}}})
        self.assertIn('1:1', msg)
        self.assertEqual(self.detail('plain')['ApplicationVersionId'], 1)
        # Inputs and outputs added one by one, as the v1 API does.
        src = harness.create_stream(self.k, 'plain-in', 1)
        harness.create_stream(self.k, 'plain-out', 1)
        # A preprocessor this server cannot run (no --lambda) is refused, never stored and skipped.
        pre = dict(sql_input('SALES', src, cp.SALES_SCHEMA), InputProcessingConfiguration={
            'InputLambdaProcessor': {'ResourceARN': 'arn:aws:lambda:us-east-1:000000000000:function:pre'}})
        self.assert_error('InvalidArgumentException', self.v2.add_application_input,
                          ApplicationName='plain', CurrentApplicationVersionId=1, Input=pre)
        self.assertEqual(self.detail('plain')['ApplicationVersionId'], 1)
        added = self.v2.add_application_input(ApplicationName='plain', CurrentApplicationVersionId=1,
                                              Input=sql_input('SALES', src, cp.SALES_SCHEMA))
        self.assertEqual(added['ApplicationVersionId'], 2)
        self.assertEqual(added['InputDescriptions'][0]['InAppStreamNames'], ['SALES_001'])
        self.v2.update_application(ApplicationName='plain', CurrentApplicationVersionId=2, ApplicationConfigurationUpdate={
            'ApplicationCodeConfigurationUpdate': {'CodeContentUpdate': {'TextContentUpdate': cp.SALES_SQL}}})
        added = self.v2.add_application_output(ApplicationName='plain', CurrentApplicationVersionId=3,
                                               Output=sql_output('DEST', 'plain-out'))
        self.assertEqual((added['ApplicationVersionId'], added['OutputDescriptions'][0]['Name']), (4, 'DEST'))
        self.assert_error('UnsupportedOperationException', self.v2.start_application, ApplicationName='plain',
                          RunConfiguration={'ApplicationRestoreConfiguration': {
                              'ApplicationRestoreType': 'RESTORE_FROM_CUSTOM_SNAPSHOT', 'SnapshotName': 's'}})
        self.assert_error('InvalidArgumentException', self.v2.start_application, ApplicationName='plain',
                          RunConfiguration={'SqlRunConfigurations': [{
                              'InputId': '9.1', 'InputStartingPositionConfiguration': {'InputStartingPosition': 'NOW'}}]})
        gone = self.v2.delete_application_output(ApplicationName='plain', CurrentApplicationVersionId=4, OutputId='1.1')
        self.assertEqual(gone['ApplicationVersionId'], 5)
        self.assert_error('UnsupportedOperationException', self.v2.list_application_snapshots, ApplicationName='plain')
        # Tags through v2, seen through v1.
        self.v2.tag_resource(ResourceARN=kda.app_arn('plain'), Tags=[{'Key': 'team', 'Value': 'sales'}])
        self.assertEqual(self.ka.list_tags_for_resource(ResourceARN=kda.app_arn('plain'))['Tags'],
                         [{'Key': 'team', 'Value': 'sales'}])


if __name__ == '__main__':
    unittest.main()
