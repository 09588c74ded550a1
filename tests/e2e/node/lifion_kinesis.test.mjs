// End-to-end test: lifion-kinesis (a Node.js Kinesis consumer library that keeps its leases and
// checkpoints in DynamoDB) producing to and consuming from the real `eddy serve`, with dynalite (a
// local DynamoDB, in this process) holding lifion's state table.
//
//   EDDY_BIN=build/release/eddy node --test tests/e2e/node/lifion_kinesis.test.mjs
//
// Two modes, each on its own stream and consumer group:
//   - polling (useEnhancedFanOut: false): GetShardIterator + GetRecords, auto-checkpoints;
//   - enhanced fan-out (useEnhancedFanOut: true): RegisterStreamConsumer/ListStreamConsumers, then
//     SubscribeToShard read by lifion's own HTTP/1.1 client (got 11 + aws4 signing +
//     lifion-aws-event-stream's parser), not by the AWS SDK.
// Each puts 50 records (some through lifion's putRecords/putRecord, some through
// @aws-sdk/client-kinesis) and checks that the consumer receives exactly those records (data and
// sequence numbers; none missing, none twice) and that lifion's state item in dynalite holds the
// lease and a checkpoint at (polling) or past (fan-out) the last record of every shard.
//
// Two defects of lifion-kinesis 1.3.3 (the newest on npm) shape the fan-out test; neither is eddy's:
//   1. Its fan-out client ignores the `endpoint` option. It hands got's options to aws4.sign(),
//      which finds no host/hostname there (got keeps the target in options.url), so it sets
//      hostname = "kinesis.<region>.amazonaws.com" and Host to that; got passes the options to
//      http.request(url, options), where `hostname` overrides the URL's host. SubscribeToShard goes
//      to kinesis.us-east-1.amazonaws.com:<eddy's port> (upstream: lifion/lifion-kinesis#746,
//      fixed in a 1.4.0 that npm does not have). The test resolves that one name to 127.0.0.1 in
//      this process (dns.lookup is wrapped while the file runs), so the traffic stays on loopback.
//      The request then carries `Host: kinesis.us-east-1.amazonaws.com`, which eddy without keys
//      refuses (403: on loopback without keys it answers requests for localhost only, its guard
//      against DNS rebinding), so eddy runs here with --access-key/--secret-key: SigV4 is then
//      required (and checked) for every request, lifion's aws-sdk v2 calls and aws4-signed
//      SubscribeToShard included.
//   2. Its event-stream parser (lifion-aws-event-stream 1.0.7, Parser._transform) takes exactly
//      one message from each chunk it is given and reads the next message's length from the start
//      of the next chunk, so two messages in one chunk break it ("Expected N bytes in the buffer but
//      got M", as reported against AWS in lifion/lifion-kinesis#91). eddy writes every message as
//      its own HTTP/1.1 chunk (the first test checks that on the wire), but got 11 reads the
//      response with IncomingMessage.read(), which concatenates whatever chunks arrived together:
//      the initial-response and a first SubscribeToShardEvent written back to back reach lifion as
//      one chunk. So the fan-out test subscribes on an empty stream and paces its puts (each put's
//      records are delivered before the next put), which keeps one message per read.
//
// Every wait is bounded; the whole file takes about 20 s.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { createRequire } from 'node:module';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListStreamConsumersCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

import { Server } from './eddy_server.mjs';

// aws-sdk v2 (lifion's dependency) prints a maintenance-mode notice; the JS SDK v3 warns on node < 22.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const require = createRequire(import.meta.url);
const Kinesis = require('lifion-kinesis');
const dynalite = require('dynalite');
// lifion's own aws-sdk v2, to read its state table the way lifion writes it.
const AWSv2 = createRequire(require.resolve('lifion-kinesis'))('aws-sdk');

const REGION = 'us-east-1';
const ACCESS_KEY = 'AKIDLIFIONE2E';
const SECRET_KEY = 'lifion/e2e/secret/key/not/a/real/one/00000';
const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, region: REGION };
const AWS_KINESIS_HOST = `kinesis.${REGION}.amazonaws.com`; // where lifion's fan-out client goes
const TABLE = 'lifion-e2e-state';
const N = 50;
const TEST_TIMEOUT_MS = 60_000;
const DELIVERY_TIMEOUT_MS = 20_000;
const WAITER = { maxWaitTime: 20, minDelay: 0.25, maxDelay: 1 };

// ---------------------------------------------------------------------------------------------
// helpers

async function until(what, fn, timeoutMs, diag = () => '') {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}` +
        (last ? `: ${last.message}` : '') + (await diag()));
    }
    await sleep(100);
  }
}

// What a record's data is, whichever way lifion decoded it: polling gives a Buffer (or the parsed
// JSON), fan-out a string (or the parsed JSON).
function dataKey(data) {
  if (Buffer.isBuffer(data)) return `text:${data.toString('utf8')}`;
  if (typeof data === 'string') return `text:${data}`;
  return `json:${JSON.stringify(data)}`;
}

// lifion's `logger` option: kept for failure messages, and scanned for subscription successes.
function makeLogger(name) {
  const lines = [];
  const t0 = Date.now();
  const log = (level) => (...args) => {
    const text = args.map((a) => (a instanceof Error ? `${a.message} [${a.code ?? ''}]` : String(a))).join(' ');
    lines.push(`${String(Date.now() - t0).padStart(6)} ms ${level} ${text}`);
    if (lines.length > 400) lines.splice(0, 200);
  };
  return { lines, logger: { debug: log('debug'), warn: log('warn'), error: log('error') }, name };
}

// Resolve lifion's hard-wired AWS host to loopback (defect 1 above); everything else as usual.
const realLookup = dns.lookup;
let redirectedLookups = 0;
function redirectAwsKinesisHost() {
  dns.lookup = function lookup(hostname, options, callback) {
    if (typeof options === 'function') [callback, options] = [options, {}];
    if (typeof options === 'number') options = { family: options };
    if (hostname !== AWS_KINESIS_HOST) return realLookup.call(this, hostname, options, callback);
    redirectedLookups++;
    process.nextTick(() => (options?.all
      ? callback(null, [{ address: '127.0.0.1', family: 4 }])
      : callback(null, '127.0.0.1', 4)));
    return {};
  };
}

// ---------------------------------------------------------------------------------------------
// fixtures

const server = new Server(['--access-key', ACCESS_KEY, '--secret-key', SECRET_KEY]);
let dyn;
let dynamoEndpoint;
let sdk; // @aws-sdk/client-kinesis, HTTP/1.1
let docClient; // aws-sdk v2 DocumentClient on dynalite
const running = new Set(); // lifion instances to stop

function lifion(options) {
  const k = new Kinesis({
    endpoint: server.endpoint,
    ...CREDS,
    maxRetries: 3,
    dynamoDb: { endpoint: dynamoEndpoint, ...CREDS, tableName: TABLE },
    statsInterval: 60_000,
    ...options,
  });
  return k;
}

async function startConsumer(k) {
  running.add(k);
  await k.startConsumer();
}

// lifion's stopConsumer() clears the timers its pollers and managers have pending, but a poll,
// heartbeat or lease round in flight at that moment schedules its next round when it completes
// (PollingConsumer, HeartbeatManager and LeaseManager re-arm their setTimeout unconditionally), and
// that one then retries forever once eddy is gone, keeping this process alive. So stop it again a
// few times, further apart than one round trip, while eddy still answers.
async function stopConsumer(k) {
  if (!running.delete(k)) return;
  for (let i = 0; i < 5; i++) {
    if (i) await sleep(100);
    try {
      k.stopConsumer();
    } catch { /* never started far enough */ }
  }
}

async function readState(consumerGroup, streamName) {
  const { Item } = await docClient.get({ TableName: TABLE, Key: { consumerGroup, streamName }, ConsistentRead: true }).promise();
  return Item;
}

// Collects what a lifion consumer pushes: { shardId, records: [{ data, sequenceNumber, ... }] }.
function collect(k) {
  const got = [];
  const errors = [];
  k.on('data', ({ shardId, records }) => {
    for (const r of records) got.push({ shardId, seq: r.sequenceNumber, pk: r.partitionKey, key: dataKey(r.data) });
  });
  k.on('error', (err) => errors.push(err));
  return { got, errors };
}

// What was put: sequence number -> { shardId, key, pk }.
function ledger() {
  const m = new Map();
  return {
    map: m,
    add(seq, shardId, key, pk) {
      assert.ok(!m.has(seq), `sequence number ${seq} returned twice`);
      m.set(seq, { shardId, key, pk });
    },
  };
}

async function lifionPutRecords(k, put, records) {
  const out = await k.putRecords({ records });
  assert.equal(out.records.length, records.length, 'lifion putRecords: one result per record');
  out.records.forEach((r, i) => put.add(r.sequenceNumber, r.shardId, dataKey(records[i].data), records[i].partitionKey));
}

async function lifionPutRecord(k, put, record) {
  const out = await k.putRecord(record);
  put.add(out.sequenceNumber, out.shardId, dataKey(record.data), record.partitionKey);
}

async function sdkPutRecords(streamName, put, texts) {
  const Records = texts.map((t, i) => ({ Data: Buffer.from(t), PartitionKey: `sdk-${i}-${t}` }));
  const out = await sdk.send(new PutRecordsCommand({ StreamName: streamName, Records }));
  assert.equal(out.FailedRecordCount ?? 0, 0, 'SDK PutRecords: no failed records');
  out.Records.forEach((r, i) => put.add(r.SequenceNumber, r.ShardId, `text:${texts[i]}`, Records[i].PartitionKey));
}

// The consumer got exactly what was put: every record once, with its data, shard and key.
function assertExactlyOnce(got, put, what) {
  const seen = new Map();
  for (const g of got) {
    assert.ok(!seen.has(g.seq), `${what}: record ${g.seq} (${g.key}) delivered twice`);
    seen.set(g.seq, g);
    const p = put.map.get(g.seq);
    assert.ok(p, `${what}: delivered a record that was not put: ${g.seq} ${g.key}`);
    assert.equal(g.key, p.key, `${what}: data of ${g.seq}`);
    assert.equal(g.shardId, p.shardId, `${what}: shard of ${g.seq}`);
    if (p.pk !== undefined) assert.equal(g.pk, p.pk, `${what}: partition key of ${g.seq}`);
  }
  const missing = [...put.map.keys()].filter((s) => !seen.has(s));
  assert.deepEqual(missing, [], `${what}: records put but not delivered`);
  assert.equal(got.length, N, `${what}: record count`);
}

// The highest sequence number put to each shard.
function lastSeqPerShard(put) {
  const last = {};
  for (const [seq, { shardId }] of put.map) {
    if (!last[shardId] || BigInt(seq) > BigInt(last[shardId])) last[shardId] = seq;
  }
  return last;
}

function diagnostics(log, extra = '') {
  return () => `\n${extra}\n--- lifion log (${log.name}, last 60 lines) ---\n${log.lines.slice(-60).join('\n')}` +
    `\n--- eddy ---\n${server.tail(20)}`;
}

// ---------------------------------------------------------------------------------------------
// tests

describe('lifion-kinesis against eddy, with its state in dynalite', { timeout: 120_000 }, () => {
  before(async () => {
    dyn = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise((res, rej) => dyn.once('error', rej).listen(0, '127.0.0.1', res));
    dynamoEndpoint = `http://127.0.0.1:${dyn.address().port}`;
    await server.start();
    redirectAwsKinesisHost();
    sdk = new KinesisClient({
      endpoint: server.endpoint,
      region: REGION,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      requestHandler: new NodeHttpHandler({ requestTimeout: 15_000 }),
      maxAttempts: 2,
    });
    docClient = new AWSv2.DynamoDB.DocumentClient({ endpoint: dynamoEndpoint, ...CREDS });
  });

  after(async () => {
    await Promise.all([...running].map(stopConsumer));
    dns.lookup = realLookup;
    sdk?.destroy();
    await server.stop();
    if (dyn) {
      dyn.closeAllConnections?.();
      await new Promise((res) => dyn.close(() => res()));
    }
    // Should a lifion timer still be armed despite stopConsumer() (see there), it would retry
    // forever against the stopped eddy and keep this file from ending: end it, and say so.
    setTimeout(() => {
      console.error(`# lifion-kinesis left handles running after stopConsumer(): ${process.getActiveResourcesInfo().join(', ')}; exiting`);
      process.exit();
    }, 10_000).unref();
  });

  test('eddy writes each SubscribeToShard event-stream message as its own HTTP/1.1 chunk', { timeout: TEST_TIMEOUT_MS }, async () => {
    // What lifion's parser needs from the server side (see defect 2 above); checked on the raw socket.
    const StreamName = 'lifion-wire';
    await sdk.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    await waitUntilStreamExists({ client: sdk, ...WAITER }, { StreamName });
    const { StreamDescriptionSummary: { StreamARN } } = await sdk.send(new DescribeStreamSummaryCommand({ StreamName }));
    for (let i = 0; i < 3; i++) {
      await sdk.send(new PutRecordCommand({ StreamName, PartitionKey: `k${i}`, Data: Buffer.from(`wire-${i}`) }));
    }
    const { Consumer } = await sdk.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'wire' }));
    await until('consumer ACTIVE', async () => {
      const { Consumers } = await sdk.send(new ListStreamConsumersCommand({ StreamARN }));
      return Consumers.find((c) => c.ConsumerName === 'wire')?.ConsumerStatus === 'ACTIVE';
    }, 10_000);

    // A SigV4-signed SubscribeToShard, written by hand so that the bytes on the wire can be read.
    const body = JSON.stringify({ ConsumerARN: Consumer.ConsumerARN, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } });
    const aws4 = createRequire(require.resolve('lifion-kinesis'))('aws4');
    const req = aws4.sign({
      host: '127.0.0.1', port: server.port, path: '/', method: 'POST', service: 'kinesis', region: REGION, body,
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Kinesis_20131202.SubscribeToShard' },
    }, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY });
    const head = [`POST / HTTP/1.1`, ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`)];
    const sock = net.connect(server.port, '127.0.0.1');
    let raw = Buffer.alloc(0);
    sock.on('data', (b) => { raw = Buffer.concat([raw, b]); });
    sock.on('error', () => {});
    if (!Object.keys(req.headers).some((k) => k.toLowerCase() === 'content-length')) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
    sock.write(`${head.join('\r\n')}\r\n\r\n${body}`);

    // Parse the chunked body: each chunk must hold exactly one whole message.
    const parse = () => {
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const headText = raw.subarray(0, end + 2).toString('latin1');
      let off = end + 4;
      const chunks = [];
      for (;;) {
        const nl = raw.indexOf('\r\n', off);
        if (nl < 0) break;
        const size = parseInt(raw.subarray(off, nl).toString('latin1'), 16);
        if (raw.length < nl + 2 + size + 2) break;
        chunks.push(raw.subarray(nl + 2, nl + 2 + size));
        off = nl + 2 + size + 2;
      }
      return { headText, chunks };
    };
    try {
      // initial-response, the event with the three records, and (after ~5 s) an empty heartbeat event.
      const { headText, chunks } = await until('three event-stream chunks', () => {
        const p = parse();
        return p && p.chunks.length >= 3 ? p : null;
      }, 15_000, () => `\nreceived ${raw.length} bytes: ${JSON.stringify(raw.toString('latin1').slice(0, 400))}`);
      assert.match(headText, /^HTTP\/1\.1 200 /);
      assert.match(headText, /\r\ncontent-type: application\/vnd\.amazon\.eventstream\r\n/i,
        'lifion compares Content-Type to exactly application/vnd.amazon.eventstream');
      assert.match(headText, /\r\ntransfer-encoding: chunked\r\n/i);
      const { parse: parseMessage } = createRequire(require.resolve('lifion-kinesis'))('lifion-aws-event-stream');
      const messages = chunks.map((c, i) => {
        assert.ok(c.length >= 16, `chunk ${i}: at least a prelude and a CRC`);
        assert.equal(c.readUInt32BE(0), c.length, `chunk ${i} holds exactly one message (its total length)`);
        return parseMessage(c); // lifion's own decoder (checks both CRCs)
      });
      assert.deepEqual(messages.map((m) => m.headers[':event-type']),
        ['initial-response', 'SubscribeToShardEvent', 'SubscribeToShardEvent']);
      assert.deepEqual(messages[1].payload.Records.map((r) => Buffer.from(r.Data, 'base64').toString()),
        ['wire-0', 'wire-1', 'wire-2']);
      assert.equal(messages[1].payload.ContinuationSequenceNumber, messages[1].payload.Records[2].SequenceNumber);
      assert.deepEqual(messages[2].payload.Records, []);
      assert.equal(messages[2].payload.ContinuationSequenceNumber, messages[1].payload.ContinuationSequenceNumber);
    } finally {
      sock.destroy();
    }
  });

  test('polling consumer (GetRecords): 50 records exactly once, checkpoints in dynalite', { timeout: TEST_TIMEOUT_MS }, async () => {
    const streamName = 'lifion-polling';
    const consumerGroup = 'e2e-polling';
    const log = makeLogger('polling');
    const put = ledger();

    // lifion's producer creates the stream on first use (createStreamIfNeeded: PutRecords answers
    // ResourceNotFoundException, lifion creates the stream, waits for ACTIVE and puts again).
    const producer = lifion({ streamName, consumerGroup, createStreamIfNeeded: true, shardCount: 2, logger: log.logger });
    await lifionPutRecords(producer, put, Array.from({ length: 10 }, (_, i) => ({ data: { src: 'lifion-batch', i } })));
    const { StreamDescriptionSummary: summary } = await sdk.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    assert.equal(summary.StreamStatus, 'ACTIVE');
    assert.equal(summary.OpenShardCount, 2, 'lifion created the stream with shardCount 2');
    // Before the consumer starts: read from TRIM_HORIZON.
    await sdkPutRecords(streamName, put, Array.from({ length: 10 }, (_, i) => `sdk-early-${i}`));

    const consumer = lifion({
      streamName, consumerGroup, useEnhancedFanOut: false, initialPositionInStream: 'TRIM_HORIZON',
      useAutoCheckpoints: true, noRecordsPollDelay: 250, pollDelay: 50, logger: log.logger,
    });
    const { got, errors } = collect(consumer);
    await startConsumer(consumer);

    // While it runs.
    await lifionPutRecords(producer, put, Array.from({ length: 10 }, (_, i) => ({ data: { src: 'lifion-batch-2', i, nested: { ok: true } } })));
    for (let i = 0; i < 10; i++) await lifionPutRecord(producer, put, { data: `lifion-one-${i}`, partitionKey: `pk-${i % 3}` });
    await sdkPutRecords(streamName, put, Array.from({ length: 10 }, (_, i) => `sdk-late-${i}`));
    assert.equal(put.map.size, N);
    assert.equal(new Set([...put.map.values()].map((p) => p.shardId)).size, 2, 'records went to both shards');

    const diag = diagnostics(log, `received ${got.length}/${N}; errors: ${errors.map((e) => e.message).join('; ')}`);
    await until(`${N} records`, () => got.length >= N, DELIVERY_TIMEOUT_MS, diag);
    await sleep(750); // a few more polls: nothing may come twice
    assert.deepEqual(errors.map((e) => e.message), [], 'consumer errors');
    assertExactlyOnce(got, put, 'polling');

    // lifion's state in dynalite: both shards leased by this consumer, checkpointed at the last record.
    const want = lastSeqPerShard(put);
    const state = await until('checkpoints at the last record of each shard', async () => {
      const s = await readState(consumerGroup, streamName);
      return Object.entries(want).every(([sid, seq]) => s?.shards?.[sid]?.checkpoint === seq) ? s : null;
    }, 10_000, async () => `\nstate: ${JSON.stringify(await readState(consumerGroup, streamName).catch(() => null))}`);
    const consumerIds = Object.keys(state.consumers);
    assert.equal(consumerIds.length, 1, 'one registered consumer');
    assert.equal(state.streamName, streamName);
    assert.equal(state.streamCreatedOn, summary.StreamCreationTimestamp.toISOString(), 'streamCreatedOn from DescribeStreamSummary');
    for (const sid of Object.keys(want)) {
      const shard = state.shards[sid];
      assert.equal(shard.leaseOwner, consumerIds[0], `${sid}: leased by the consumer`);
      assert.ok(new Date(shard.leaseExpiration).getTime() > Date.now(), `${sid}: lease not expired`);
      assert.equal(shard.depleted, false);
    }
    await stopConsumer(consumer);
  });

  test('enhanced fan-out consumer (SubscribeToShard over HTTP/1.1): 50 records exactly once, checkpoints in dynalite', { timeout: TEST_TIMEOUT_MS }, async () => {
    const streamName = 'lifion-fanout';
    const consumerGroup = 'e2e-fanout';
    const log = makeLogger('fan-out');
    const put = ledger();
    const lookupsBefore = redirectedLookups;

    const consumer = lifion({
      streamName, consumerGroup, createStreamIfNeeded: true, shardCount: 2, useEnhancedFanOut: true,
      maxEnhancedConsumers: 1, initialPositionInStream: 'TRIM_HORIZON', logger: log.logger,
    });
    const { got, errors } = collect(consumer);
    // Creates the stream, registers an enhanced consumer (lifion waits 3 s, then lists it ACTIVE),
    // records it in dynalite, leases both shards and subscribes to each.
    await startConsumer(consumer);

    const { StreamDescriptionSummary: summary } = await sdk.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    assert.equal(summary.OpenShardCount, 2);
    const { Consumers } = await sdk.send(new ListStreamConsumersCommand({ StreamARN: summary.StreamARN }));
    assert.equal(Consumers.length, 1, 'maxEnhancedConsumers: 1');
    assert.match(Consumers[0].ConsumerName, /^lifion-kinesis-/);
    assert.equal(Consumers[0].ConsumerStatus, 'ACTIVE');

    const subscribed = () => log.lines.filter((l) => l.includes('Subscription to shard is successful.')).length;
    await until('both shards subscribed', () => subscribed() >= 2, 15_000, diagnostics(log));
    await sleep(300); // the initial-response is read on its own (defect 2)

    // Paced puts: each put's records are delivered before the next put (defect 2).
    const diag = () => diagnostics(log, `received ${got.length}/${put.map.size}; errors: ${errors.map((e) => e.message).join('; ')}`)();
    const delivered = (what) => until(`${what} delivered (${put.map.size} records)`, () => got.length >= put.map.size, DELIVERY_TIMEOUT_MS, diag);
    await lifionPutRecords(consumer, put, Array.from({ length: 10 }, (_, i) => ({ data: { src: 'fanout-batch', i }, partitionKey: 'left' })));
    await delivered('lifion putRecords #1');
    await lifionPutRecords(consumer, put, Array.from({ length: 10 }, (_, i) => ({ data: { src: 'fanout-batch', i: i + 10 }, partitionKey: 'right-hand' })));
    await delivered('lifion putRecords #2');
    for (let i = 0; i < 10; i++) {
      await lifionPutRecord(consumer, put, { data: `fanout-one-${i}` });
      await delivered(`lifion putRecord ${i}`);
    }
    for (let b = 0; b < 4; b++) {
      await sdkPutRecords(streamName, put, Array.from({ length: 5 }, (_, i) => `fanout-sdk-${b}-${i}`));
      await delivered(`SDK PutRecords #${b}`);
    }
    assert.equal(put.map.size, N);
    assert.equal(new Set([...put.map.values()].map((p) => p.shardId)).size, 2, 'records went to both shards');
    await sleep(750);
    assert.deepEqual(errors.map((e) => e.message), [], 'consumer errors');
    assertExactlyOnce(got, put, 'fan-out');
    const parserErrors = log.lines.filter((l) => /Expected \d+ bytes in the buffer/.test(l));
    assert.deepEqual(parserErrors, [], 'lifion-aws-event-stream parse errors (two messages in one read)');

    // lifion's state in dynalite: the enhanced consumer assigned to this consumer, both shards
    // leased, checkpoints (SubscribeToShardEvent.ContinuationSequenceNumber) at or past the last record.
    const want = lastSeqPerShard(put);
    const state = await until('checkpoints at the last record of each shard', async () => {
      const s = await readState(consumerGroup, streamName);
      return Object.entries(want).every(([sid, seq]) => s?.shards?.[sid]?.checkpoint && BigInt(s.shards[sid].checkpoint) >= BigInt(seq)) ? s : null;
    }, 10_000, async () => `\nstate: ${JSON.stringify(await readState(consumerGroup, streamName).catch(() => null))}`);
    const consumerIds = Object.keys(state.consumers);
    assert.equal(consumerIds.length, 1, 'one registered consumer');
    const enhanced = state.enhancedConsumers[Consumers[0].ConsumerName];
    assert.ok(enhanced, `enhanced consumer ${Consumers[0].ConsumerName} recorded in the state`);
    assert.equal(enhanced.arn, Consumers[0].ConsumerARN);
    assert.equal(enhanced.isUsedBy, consumerIds[0], 'the enhanced consumer is assigned to the consumer');
    for (const sid of Object.keys(want)) {
      assert.equal(state.shards[sid].leaseOwner, consumerIds[0], `${sid}: leased by the consumer`);
      assert.ok(new Date(state.shards[sid].leaseExpiration).getTime() > Date.now(), `${sid}: lease not expired`);
    }
    // lifion-kinesis 1.3.3 sent SubscribeToShard to the AWS host name (defect 1); note it if fixed.
    if (redirectedLookups === lookupsBefore) console.log('# lifion-kinesis sent SubscribeToShard to the configured endpoint');
    await stopConsumer(consumer);
  });
});
