// End-to-end test: eddy's Kinesis Analytics v2 (Managed Service for Apache Flink) control plane
// driven by @aws-sdk/client-kinesis-analytics-v2: the sales seed as a SQL-1_0 application with a
// custom parallelism, its rows read back with @aws-sdk/client-kinesis; the trades seed's C++ job
// given as ZipFileContent bytes; and the errors of what eddy does not run.
//
//   EDDY_BIN=build/release/eddy node --test tests/e2e/node/
//
// Every wait is bounded (startup 20 s, output 60 s, each request 15 s).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import {
  CreateApplicationCommand,
  DescribeApplicationCommand,
  KinesisAnalyticsV2Client,
  ListApplicationsCommand,
  StartApplicationCommand,
  StopApplicationCommand,
  UpdateApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';

import { resolveBinary, Server } from './eddy_server.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROLE = 'arn:aws:iam::000000000000:role/any';
const streamArn = (name) => `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`;
const SALES_SQL = `CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "revenue" REAL, "n" BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
SELECT STREAM "store_id", SUM("sales"), COUNT(*)
FROM "SALES_001"
GROUP BY STEP("SALES_001".ROWTIME BY INTERVAL '1' SECOND), "store_id";
`;
const SALES_SCHEMA = {
  RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
  RecordEncoding: 'UTF-8',
  RecordColumns: [
    { Name: 'store_id', Mapping: '$.store_id', SqlType: 'VARCHAR(16)' },
    { Name: 'sales', Mapping: '$.sales', SqlType: 'REAL' },
  ],
};

const server = new Server(['--parallelism', '2', '--allow-native-jobs']);
let kinesis;
let v2;

async function expectError(promise, name, message) {
  try {
    await promise;
  } catch (err) {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${name}, but the request succeeded`);
}

async function readAll(stream) {
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
  const rows = [];
  for (const s of Shards) {
    let { ShardIterator: it } = await kinesis.send(new GetShardIteratorCommand({
      StreamName: stream, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    for (let i = 0; i < 20 && it; i++) {
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: it }));
      rows.push(...out.Records.map((r) => JSON.parse(Buffer.from(r.Data).toString())));
      if (out.Records.length === 0 && out.MillisBehindLatest === 0) break;
      it = out.NextShardIterator;
    }
  }
  return rows;
}

describe('eddy Kinesis Analytics v2 API through @aws-sdk/client-kinesis-analytics-v2', { timeout: 5 * 60_000 }, () => {
  before(async () => {
    const port = await server.start();
    const common = {
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      maxAttempts: 1,
    };
    kinesis = new KinesisClient({ ...common, requestHandler: { requestTimeout: 15000, sessionTimeout: 15000 } });
    v2 = new KinesisAnalyticsV2Client({ ...common, requestHandler: { requestTimeout: 15000 } });
  });

  after(async () => {
    kinesis?.destroy();
    v2?.destroy();
    await server.stopAndReport();
  });

  test('a SQL-1_0 application: created, started, its rows summed per store, its parallelism changed', async () => {
    for (const [name, shards] of [['sales', 2], ['sales-out', 1]]) {
      await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      await waitUntilStreamExists({ client: kinesis, maxWaitTime: 20, minDelay: 0.25, maxDelay: 1 }, { StreamName: name });
    }
    const created = await v2.send(new CreateApplicationCommand({
      ApplicationName: 'sales-js', RuntimeEnvironment: 'SQL-1_0', ServiceExecutionRole: ROLE,
      ApplicationConfiguration: {
        ApplicationCodeConfiguration: { CodeContentType: 'PLAINTEXT', CodeContent: { TextContent: SALES_SQL } },
        SqlApplicationConfiguration: {
          Inputs: [{ NamePrefix: 'SALES', KinesisStreamsInput: { ResourceARN: streamArn('sales') }, InputSchema: SALES_SCHEMA }],
          Outputs: [{ Name: 'DEST', KinesisStreamsOutput: { ResourceARN: streamArn('sales-out') },
            DestinationSchema: { RecordFormatType: 'JSON' } }],
        },
        FlinkApplicationConfiguration: { ParallelismConfiguration: { ConfigurationType: 'CUSTOM', Parallelism: 4 } },
      },
    }));
    const d = created.ApplicationDetail;
    assert.equal(d.ApplicationStatus, 'READY');
    assert.ok(d.CreateTimestamp instanceof Date);
    const par = d.ApplicationConfigurationDescription.FlinkApplicationConfigurationDescription.ParallelismConfigurationDescription;
    assert.deepEqual([par.ConfigurationType, par.Parallelism], ['CUSTOM', 4]);

    const start = await v2.send(new StartApplicationCommand({ ApplicationName: 'sales-js', RunConfiguration: {
      SqlRunConfigurations: [{ InputId: '1.1', InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }] } }));
    assert.equal(typeof start.OperationId, 'string');

    // 5 stores x 40 sales of 1.25: each store's revenue is 50 over however many one-second windows.
    const records = [];
    for (let i = 0; i < 200; i++) {
      const store = `store_${i % 5 + 1}`;
      records.push({ Data: Buffer.from(JSON.stringify({ store_id: store, sales: 1.25 })), PartitionKey: store });
    }
    const put = await kinesis.send(new PutRecordsCommand({ StreamName: 'sales', Records: records }));
    assert.equal(put.FailedRecordCount, 0);
    // Windows close on the wall clock a second after their end.
    let rows = [];
    for (let i = 0; i < 120; i++) {
      rows = await readAll('sales-out');
      if (rows.reduce((n, r) => n + r.n, 0) === 200) break;
      await sleep(500);
    }
    const byStore = {};
    for (const r of rows) byStore[r.store_id] = (byStore[r.store_id] ?? 0) + r.revenue;
    assert.deepEqual(byStore, { store_1: 50, store_2: 50, store_3: 50, store_4: 50, store_5: 50 });

    const updated = await v2.send(new UpdateApplicationCommand({
      ApplicationName: 'sales-js', CurrentApplicationVersionId: 1,
      ApplicationConfigurationUpdate: { FlinkApplicationConfigurationUpdate: {
        ParallelismConfigurationUpdate: { ConfigurationTypeUpdate: 'DEFAULT' } } } }));
    const now = updated.ApplicationDetail;
    assert.deepEqual([now.ApplicationVersionId, now.ApplicationStatus], [2, 'RUNNING']);
    const p = now.ApplicationConfigurationDescription.FlinkApplicationConfigurationDescription.ParallelismConfigurationDescription;
    assert.deepEqual([p.ConfigurationType, p.CurrentParallelism], ['DEFAULT', 2]); // the server's --parallelism
    await v2.send(new StopApplicationCommand({ ApplicationName: 'sales-js' }));
    const { ApplicationDetail: stopped } = await v2.send(new DescribeApplicationCommand({ ApplicationName: 'sales-js' }));
    assert.equal(stopped.ApplicationStatus, 'READY');
  });

  test('a C++ job given as ZipFileContent bytes is a FLINK application', async (t) => {
    const lib = join(dirname(resolveBinary()), 'examples', 'trades-max', 'libtrades_max.so');
    if (!existsSync(lib)) return t.skip(`${lib} is not built`);
    const bytes = readFileSync(lib);
    const { ApplicationDetail: d } = await v2.send(new CreateApplicationCommand({
      ApplicationName: 'trades-js', RuntimeEnvironment: 'FLINK-1_20', ServiceExecutionRole: ROLE,
      ApplicationConfiguration: {
        ApplicationCodeConfiguration: { CodeContentType: 'ZIPFILE', CodeContent: { ZipFileContent: bytes } },
        EnvironmentProperties: { PropertyGroups: [{ PropertyGroupId: 'TradesMax',
          PropertyMap: { inputStreamName: 'sales', outputStreamName: 'sales-out' } }] },
      },
    }));
    assert.equal(d.RuntimeEnvironment, 'FLINK-1_20');
    assert.equal(d.ApplicationStatus, 'READY');
    const code = d.ApplicationConfigurationDescription.ApplicationCodeConfigurationDescription.CodeContentDescription;
    assert.equal(code.CodeMD5, createHash('md5').update(bytes).digest('hex'));
    assert.equal(code.CodeSize, bytes.length);
    const { ApplicationSummaries } = await v2.send(new ListApplicationsCommand({}));
    assert.deepEqual(ApplicationSummaries.map((a) => [a.ApplicationName, a.RuntimeEnvironment]),
      [['sales-js', 'SQL-1_0'], ['trades-js', 'FLINK-1_20']]);
  });

  test('what eddy does not run is refused with the reason', async () => {
    await expectError(v2.send(new CreateApplicationCommand({
      ApplicationName: 'nb', RuntimeEnvironment: 'ZEPPELIN-FLINK-3_0', ServiceExecutionRole: ROLE })),
    'UnsupportedOperationException', /Studio notebooks/);
    await expectError(v2.send(new StartApplicationCommand({ ApplicationName: 'sales-js', RunConfiguration: {
      ApplicationRestoreConfiguration: { ApplicationRestoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', SnapshotName: 's' } } })),
    'UnsupportedOperationException', /latest checkpoint/);
    await expectError(v2.send(new DescribeApplicationCommand({ ApplicationName: 'nope' })), 'ResourceNotFoundException');
  });
});
