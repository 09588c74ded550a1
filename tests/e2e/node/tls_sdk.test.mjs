// End-to-end test: the real `eddy serve --tls-self-signed` driven over HTTPS by the AWS SDK for
// JavaScript v3 (@aws-sdk/client-kinesis) with its default transport, NodeHttp2Handler: HTTP/2 over
// TLS (ALPN h2).
//
//   EDDY_BIN=build/release/eddy node --test tests/e2e/node/tls_sdk.test.mjs
//
// Trusting the server's certificate: in this process through NodeHttp2Handler's
// nodeHttp2ConnectOptions ({ ca }, passed to http2.connect); and, for a client constructed exactly as
// an application does (no request handler given), in a child node process started with
// NODE_EXTRA_CA_CERTS=<cert.pem> (node reads it only at start).
//
// Every HTTP/2 session the SDK opens is recorded (node:http2's connect is wrapped) so the tests can
// check that it really was HTTP/2 over TLS. Every wait is bounded (startup 20 s, requests 15 s,
// events 10 s, each test 60 s).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import http2 from 'node:http2';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler } from '@smithy/node-http-handler';

import { Server } from './eddy_server.mjs';

// The pinned SDK warns on node < 22 at client construction; the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TEST_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 15_000;
const EVENT_WAIT_MS = 10_000;
const CHILD_TIMEOUT_MS = 45_000;
const WAITER = { maxWaitTime: 20, minDelay: 0.25, maxDelay: 1 };
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SEQ_RE = /^(0|[1-9]\d{0,128})$/;
const HALF = 1n << 127n;
const S0 = 'shardId-000000000000';
const S1 = 'shardId-000000000001';

// Every HTTP/2 session opened in this process, to check the transport the SDK used.
const sessions = [];
const connect = http2.connect;
http2.connect = (...args) => {
  const session = connect(...args);
  sessions.push(session);
  return session;
};

const server = new Server(['--tls-self-signed']);
let ca;
let client;
const send = (cmd) => client.send(cmd);
let streamCounter = 0;
const uniqueName = (prefix) => `${prefix}-${process.pid}-${++streamCounter}-${randomBytes(3).toString('hex')}`;

function h2Client(options = {}) {
  return new KinesisClient({
    endpoint: server.endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler: new NodeHttp2Handler({ requestTimeout: REQUEST_TIMEOUT_MS, nodeHttp2ConnectOptions: { ca } }),
    ...options,
  });
}

async function createStream(name, shards) {
  await send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitUntilStreamExists({ client, ...WAITER }, { StreamName: name });
  return name;
}

// What GetRecords/SubscribeToShard give back, comparable with what was put.
const triple = (r) => ({ seq: r.SequenceNumber, data: Buffer.from(r.Data).toString('hex'), pk: r.PartitionKey });

// Reads a shard from TRIM_HORIZON until caught up (an empty page with MillisBehindLatest 0).
async function readShard(name, shardId, c = client) {
  let it = (await c.send(new GetShardIteratorCommand({
    StreamName: name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON',
  }))).ShardIterator;
  const out = [];
  for (let i = 0; i < 50; i++) {
    const page = await c.send(new GetRecordsCommand({ ShardIterator: it }));
    out.push(...page.Records.map(triple));
    if (page.Records.length === 0 && page.MillisBehindLatest === 0) return out;
    it = page.NextShardIterator;
    assert.ok(it, 'an open shard always has a NextShardIterator');
  }
  assert.fail(`${name}/${shardId}: not caught up after 50 GetRecords calls`);
}

// A new shared client, so that the test's requests open a session of their own.
function freshClient() {
  client?.destroy();
  client = h2Client();
  return sessions.length;
}

// Every session opened since `from` is HTTP/2 over TLS.
function assertH2OverTls(from) {
  const opened = sessions.slice(from);
  assert.ok(opened.length >= 1, 'the SDK opened no HTTP/2 session');
  for (const s of opened) {
    assert.equal(s.encrypted, true, 'an HTTP/2 session without TLS');
    assert.equal(s.alpnProtocol, 'h2', 'ALPN');
  }
}

// Runs a node ES module (source text) in a child process from the repository root (so that it finds
// node_modules), with `env` added to this environment. Resolves { code, stdout, stderr }.
function runChild(source, env) {
  return new Promise((res, rej) => {
    const childEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    const child = spawn(process.execPath, ['--input-type=module', '-e', source],
      { cwd: REPO, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`child timed out\n${stderr}`)); },
      CHILD_TIMEOUT_MS);
    child.on('error', (e) => { clearTimeout(timer); rej(e); });
    child.on('close', (code) => { clearTimeout(timer); res({ code, stdout, stderr }); });
  });
}

// A client as an application constructs it: no request handler (the SDK's default, HTTP/2).
const CHILD_SOURCE = `
import http2 from 'node:http2';
const sessions = [];
const connect = http2.connect;
http2.connect = (...args) => { const s = connect(...args); sessions.push(s); return s; };
const k = await import('@aws-sdk/client-kinesis');
const env = process.env;
const client = new k.KinesisClient({ endpoint: env.EP, region: '${REGION}', maxAttempts: 1,
  credentials: ${JSON.stringify(CREDENTIALS)} });
const result = { handler: client.config.requestHandler?.constructor?.name,
  protocol: client.config.requestHandler?.metadata?.handlerProtocol };
try {
  result.streams = (await client.send(new k.ListStreamsCommand({}))).StreamNames;
  const put = await client.send(new k.PutRecordCommand({ StreamName: env.STREAM, PartitionKey: 'child',
    Data: Buffer.from(env.DATA, 'hex') }));
  const it = (await client.send(new k.GetShardIteratorCommand({ StreamName: env.STREAM, ShardId: put.ShardId,
    ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: put.SequenceNumber }))).ShardIterator;
  const page = await client.send(new k.GetRecordsCommand({ ShardIterator: it, Limit: 1 }));
  result.put = { seq: put.SequenceNumber, shard: put.ShardId };
  result.got = page.Records.map((r) => ({ seq: r.SequenceNumber, data: Buffer.from(r.Data).toString('hex'),
    pk: r.PartitionKey }));
} catch (e) {
  result.error = { name: e.name, code: e.code, message: e.message };
}
result.sessions = sessions.map((s) => ({ encrypted: s.encrypted, alpn: s.alpnProtocol }));
client.destroy();
console.log(JSON.stringify(result));
`;

// ---------------------------------------------------------------------------------------------

describe('eddy serve --tls-self-signed with @aws-sdk/client-kinesis over HTTP/2', { timeout: 5 * TEST_TIMEOUT_MS }, () => {
  before(async () => {
    await server.start();
    assert.equal(server.tls, true, 'the server did not announce https://');
    ca = readFileSync(server.caFile);
    client = h2Client();
  });

  after(async () => {
    client?.destroy();
    await server.stop();
  });

  test('announces the self-signed certificate it made under <data-dir>/tls', { timeout: TEST_TIMEOUT_MS }, () => {
    assert.match(server.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    // With EDDY_E2E_CLUSTER the data directory is the first node's.
    assert.ok(server.caFile.endsWith(join('tls', 'cert.pem')), server.caFile);
    assert.match(ca.toString(), /^-----BEGIN CERTIFICATE-----\n/);
    const key = join(dirname(server.caFile), 'key.pem');
    assert.equal(statSync(key).mode & 0o777, 0o600, 'key.pem mode');
  });

  test('CreateStream, PutRecords, PutRecord, GetRecords: exact records', { timeout: TEST_TIMEOUT_MS }, async () => {
    const from = freshClient();
    const name = await createStream(uniqueName('tls-put'), 2);
    const records = [
      { Data: Uint8Array.from({ length: 256 }, (_, i) => i), PartitionKey: 'binary', ExplicitHashKey: '0' },
      { Data: new TextEncoder().encode('h\u00e9llo \u2603 over h2'), PartitionKey: 'unicode-\u00e9',
        ExplicitHashKey: String(HALF) },
      { Data: randomBytes(50_000), PartitionKey: 'fifty-k', ExplicitHashKey: String(HALF - 1n) },
      ...Array.from({ length: 30 }, (_, i) => ({
        Data: new TextEncoder().encode(`rec-${i}`), PartitionKey: `pk-${i}`, ExplicitHashKey: String(BigInt(i) * (HALF / 15n)),
      })),
    ];
    const out = await send(new PutRecordsCommand({ StreamName: name, Records: records }));
    assert.equal(out.FailedRecordCount ?? 0, 0, JSON.stringify(out.Records.filter((r) => r.ErrorCode)));
    assert.equal(out.Records.length, records.length);
    const expected = { [S0]: [], [S1]: [] };
    records.forEach((rec, i) => {
      const r = out.Records[i];
      assert.match(r.SequenceNumber, SEQ_RE);
      const shard = BigInt(rec.ExplicitHashKey) < HALF ? S0 : S1;
      assert.equal(r.ShardId, shard, rec.PartitionKey);
      expected[shard].push({ seq: r.SequenceNumber, data: Buffer.from(rec.Data).toString('hex'), pk: rec.PartitionKey });
    });
    const one = await send(new PutRecordCommand({
      StreamName: name, PartitionKey: 'single', Data: Buffer.from('00ff00', 'hex'), ExplicitHashKey: String((1n << 128n) - 1n),
    }));
    assert.equal(one.ShardId, S1);
    expected[S1].push({ seq: one.SequenceNumber, data: '00ff00', pk: 'single' });
    assert.deepEqual(await readShard(name, S0), expected[S0]);
    assert.deepEqual(await readShard(name, S1), expected[S1]);
    assertH2OverTls(from);
  });

  test('a 1 MiB record and 40 concurrent requests on HTTP/2 streams', { timeout: TEST_TIMEOUT_MS }, async () => {
    const from = freshClient();
    const name = await createStream(uniqueName('tls-big'), 1);
    const big = randomBytes(1024 * 1024 - 3);
    const first = await send(new PutRecordCommand({ StreamName: name, PartitionKey: 'big', Data: big }));
    const puts = await Promise.all(Array.from({ length: 40 }, (_, i) => send(new PutRecordCommand({
      StreamName: name, PartitionKey: `c${i}`, Data: Buffer.from(`concurrent-${i}`),
    })).then((r) => ({ seq: r.SequenceNumber, data: Buffer.from(`concurrent-${i}`).toString('hex'), pk: `c${i}` }))));
    puts.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    assert.deepEqual(await readShard(name, S0),
      [{ seq: first.SequenceNumber, data: big.toString('hex'), pk: 'big' }, ...puts]);
    assertH2OverTls(from);
  });

  test('SubscribeToShard: the records in order, before and while subscribed', { timeout: TEST_TIMEOUT_MS }, async () => {
    const from = freshClient();
    const name = await createStream(uniqueName('tls-efo'), 1);
    const arn = (await send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary.StreamARN;
    const consumer = (await send(new RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'tls-sdk' }))).Consumer;
    const deadline = Date.now() + EVENT_WAIT_MS;
    while ((await send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN })))
      .ConsumerDescription.ConsumerStatus !== 'ACTIVE') {
      assert.ok(Date.now() < deadline, 'the consumer did not become ACTIVE');
      await sleep(100);
    }
    const expected = [];
    const put = async (i) => {
      const data = Buffer.concat([Buffer.from(`efo-${i}-`), randomBytes(1000 * (i + 1))]);
      const r = await send(new PutRecordCommand({ StreamName: name, PartitionKey: `k${i}`, Data: data }));
      expected.push({ seq: r.SequenceNumber, data: data.toString('hex'), pk: `k${i}` });
    };
    for (let i = 0; i < 5; i++) await put(i);

    // No requestTimeout: the response is a long-lived event stream. Bounded by the abort below.
    const subscriber = h2Client({
      requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } }),
    });
    const abort = new AbortController();
    const got = [];
    try {
      const out = await subscriber.send(new SubscribeToShardCommand({
        ConsumerARN: consumer.ConsumerARN, ShardId: S0, StartingPosition: { Type: 'TRIM_HORIZON' },
      }), { abortSignal: abort.signal });
      assert.equal(out.$metadata.httpStatusCode, 200);
      const events = out.EventStream[Symbol.asyncIterator]();
      const collect = async (n) => {
        const until = Date.now() + EVENT_WAIT_MS;
        while (got.length < n) {
          const left = until - Date.now();
          assert.ok(left > 0, `${got.length} of ${n} records after ${EVENT_WAIT_MS} ms: ${JSON.stringify(got)}`);
          let timer;
          const next = await Promise.race([
            events.next(),
            new Promise((res) => { timer = setTimeout(() => res('timeout'), left); }),
          ]);
          clearTimeout(timer);
          assert.notEqual(next, 'timeout', `${got.length} of ${n} records after ${EVENT_WAIT_MS} ms`);
          assert.equal(next.done, false, 'the event stream ended');
          const e = next.value.SubscribeToShardEvent;
          assert.ok(e, `not a SubscribeToShardEvent: ${JSON.stringify(Object.keys(next.value))}`);
          got.push(...e.Records.map(triple));
          if (e.Records.length) assert.equal(e.ContinuationSequenceNumber, e.Records.at(-1).SequenceNumber);
        }
      };
      await collect(5);
      assert.deepEqual(got, expected);
      for (let i = 5; i < 9; i++) await put(i); // while subscribed
      await collect(9);
      assert.deepEqual(got, expected);
    } finally {
      abort.abort();
      subscriber.destroy();
    }
    assertH2OverTls(from);
  });

  test('an SDK client that does not trust the certificate fails', { timeout: TEST_TIMEOUT_MS }, async () => {
    const untrusted = h2Client({ requestHandler: new NodeHttp2Handler({ requestTimeout: REQUEST_TIMEOUT_MS }) });
    try {
      await assert.rejects(untrusted.send(new ListStreamsCommand({})), (err) => {
        assert.match(`${err.code} ${err.message}`, /SELF_SIGNED|self[- ]signed|unable to verify/i);
        return true;
      });
    } finally {
      untrusted.destroy();
    }
  });

  test('a default client (no request handler) with NODE_EXTRA_CA_CERTS, in a child process', { timeout: TEST_TIMEOUT_MS }, async () => {
    const name = await createStream(uniqueName('tls-child'), 1);
    const data = randomBytes(300).toString('hex');
    const env = { EP: server.endpoint, STREAM: name, DATA: data, AWS_CA_BUNDLE: undefined };
    const run = await runChild(CHILD_SOURCE, { ...env, NODE_EXTRA_CA_CERTS: server.caFile });
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout.trim().split('\n').at(-1));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.handler, 'NodeHttp2Handler');
    assert.equal(r.protocol, 'h2');
    assert.ok(r.streams.includes(name), JSON.stringify(r.streams));
    assert.deepEqual(r.got, [{ seq: r.put.seq, data, pk: 'child' }]);
    assert.ok(r.sessions.length >= 1);
    for (const s of r.sessions) assert.deepEqual(s, { encrypted: true, alpn: 'h2' });
    assert.deepEqual(await readShard(name, S0), [{ seq: r.put.seq, data, pk: 'child' }]);

    // The same client without NODE_EXTRA_CA_CERTS does not trust the server: nothing is put.
    const untrusted = await runChild(CHILD_SOURCE, { ...env, NODE_EXTRA_CA_CERTS: undefined });
    assert.equal(untrusted.code, 0, untrusted.stderr);
    const u = JSON.parse(untrusted.stdout.trim().split('\n').at(-1));
    assert.ok(u.error, 'the request succeeded without trusting the certificate');
    assert.match(`${u.error.code} ${u.error.message}`, /SELF_SIGNED|self[- ]signed|unable to verify/i);
    assert.deepEqual(await readShard(name, S0), [{ seq: r.put.seq, data, pk: 'child' }]);
  });
});
