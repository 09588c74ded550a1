// End-to-end test: the real `eddy serve` binary driven by the AWS SDK for JavaScript v3.
//
//   EDDY_BIN=build/dev/eddy node --test tests/e2e/node/
//
// Transport: the Kinesis client of JS SDK v3 defaults to NodeHttp2Handler, which speaks HTTP/2 with
// prior knowledge (h2c) to an http:// endpoint. The suite uses the client as constructed by default
// (HTTP/2), as an unmodified application does; one test repeats the basics over HTTP/1.1
// (NodeHttpHandler), the transport most other SDKs use.
//
// The server is started on an ephemeral port with a temporary data directory and killed at the end.
// Every wait is bounded (startup 20 s, waiters 20 s, each request 15 s, each test 60 s).
// Set EDDY_E2E_KEEP=1 to keep the data directory and server log after the run.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  IncreaseStreamRetentionPeriodCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  ListTagsForResourceCommand,
  ListTagsForStreamCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RemoveTagsFromStreamCommand,
  SplitShardCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateShardCountCommand,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

import { assertRecordsEqual, expectError } from './kinesis_asserts.mjs';
import { Server } from './eddy_server.mjs';

// ---------------------------------------------------------------------------------------------
// constants

// The pinned SDK warns on node < 22 at client construction; the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const STARTUP_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;
const WAITER = { maxWaitTime: 20, minDelay: 0.25, maxDelay: 1 };

const MAX_HASH = (1n << 128n) - 1n;
const HALF = 1n << 127n; // first key of the upper half
const SEQ_RE = /^(0|[1-9]\d{0,128})$/;
const SHARD_ID_RE = /^shardId-\d{12}$/;
const ARN_RE = (name) => new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/${name.replace(/[.]/g, '\\.')}$`);

const MAIN = 'e2e-main';
const RESHARD = 'e2e-reshard';
const TAGGED = 'e2e-tagged';

const shardId = (i) => `shardId-${String(i).padStart(12, '0')}`;
const hashKeyOf = (pk) => BigInt('0x' + createHash('md5').update(pk, 'utf8').digest('hex'));
const big = (s) => BigInt(s);
const byShardId = (a, b) => (a.ShardId < b.ShardId ? -1 : a.ShardId > b.ShardId ? 1 : 0);

// ---------------------------------------------------------------------------------------------
// server lifecycle

// ---------------------------------------------------------------------------------------------
// helpers

const server = new Server();
let client;
const send = (cmd) => client.send(cmd);

function waitActive(StreamName) {
  return waitUntilStreamExists({ client, ...WAITER }, { StreamName });
}


// Records we put, per stream/shard, in put order: what GetRecords must give back.
const ledger = new Map();
function remember(stream, sid, rec) {
  const k = `${stream}/${sid}`;
  if (!ledger.has(k)) ledger.set(k, []);
  ledger.get(k).push(rec);
}
const expected = (stream, sid) => ledger.get(`${stream}/${sid}`) ?? [];

async function put(stream, pk, data, extra = {}) {
  const Data = data instanceof Uint8Array ? data : new TextEncoder().encode(data);
  const out = await send(new PutRecordCommand({ StreamName: stream, PartitionKey: pk, Data, ...extra }));
  assert.match(out.ShardId, SHARD_ID_RE);
  assert.match(out.SequenceNumber, SEQ_RE);
  const prev = expected(stream, out.ShardId).at(-1);
  if (prev) {
    assert.ok(big(out.SequenceNumber) > big(prev.seq),
      `sequence numbers must increase per shard: ${prev.seq} then ${out.SequenceNumber}`);
  }
  remember(stream, out.ShardId, { seq: out.SequenceNumber, pk, data: Buffer.from(Data) });
  return out;
}

async function iterator(stream, sid, type, extra = {}) {
  const out = await send(new GetShardIteratorCommand({
    StreamName: stream, ShardId: sid, ShardIteratorType: type, ...extra,
  }));
  assert.equal(typeof out.ShardIterator, 'string', `${type}: ShardIterator`);
  assert.ok(out.ShardIterator.length >= 1 && out.ShardIterator.length <= 512, 'iterator length 1..512');
  return out.ShardIterator;
}

// Follow NextShardIterator until caught up (empty page, MillisBehindLatest 0) or the shard is
// exhausted (no NextShardIterator). Bounded by maxCalls.
async function drain(it, { maxCalls = 20, extra = {} } = {}) {
  const records = [];
  let last;
  for (let i = 0; i < maxCalls; i++) {
    last = await send(new GetRecordsCommand({ ShardIterator: it, ...extra }));
    assert.ok(Array.isArray(last.Records), 'GetRecords: Records is an array');
    assert.equal(typeof last.MillisBehindLatest, 'number', 'GetRecords: MillisBehindLatest is a number');
    records.push(...last.Records);
    if (!last.NextShardIterator) return { records, last, closed: true };
    if (last.Records.length === 0 && last.MillisBehindLatest === 0) return { records, last, closed: false };
    it = last.NextShardIterator;
  }
  assert.fail(`shard not drained after ${maxCalls} GetRecords calls (${records.length} records so far)`);
}


const assertRange = (shard, lo, hi, what) => {
  assert.deepEqual(shard.HashKeyRange, { StartingHashKey: String(lo), EndingHashKey: String(hi) }, `${what}: HashKeyRange`);
};

async function listAllShards(params) {
  const shards = [];
  let out = await send(new ListShardsCommand(params));
  shards.push(...out.Shards);
  for (let i = 0; out.NextToken && i < 50; i++) {
    out = await send(new ListShardsCommand({ NextToken: out.NextToken }));
    shards.push(...out.Shards);
  }
  assert.equal(out.NextToken, undefined, 'ListShards pagination did not end');
  return shards.sort(byShardId);
}

const isOpen = (s) => s.SequenceNumberRange.EndingSequenceNumber === undefined ||
  s.SequenceNumberRange.EndingSequenceNumber === null;

// ---------------------------------------------------------------------------------------------
// the tests (sequential; later tests use streams made by earlier ones)

describe('eddy Kinesis API through @aws-sdk/client-kinesis', { timeout: 15 * 60_000 }, () => {
  let mainArn;
  let endpoint;
  const t0 = Date.now();

  before(async () => {
    const port = await server.start();
    client = new KinesisClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      maxAttempts: 1,
      // options for the default NodeHttp2Handler (HTTP/2 prior knowledge)
      requestHandler: { requestTimeout: 15000, sessionTimeout: 15000, throwOnRequestTimeout: true },
    });
    endpoint = `http://127.0.0.1:${port}`;
  }, { timeout: STARTUP_TIMEOUT_MS + 5000 });

  after(async () => {
    client?.destroy();
    await server.stopAndReport();
  });

  const it = (name, fn) => test(name, { timeout: TEST_TIMEOUT_MS }, fn);

  // --- control plane ----------------------------------------------------------------------

  it('CreateStream with 2 shards, then waitUntilStreamExists', async () => {
    const out = await send(new CreateStreamCommand({ StreamName: MAIN, ShardCount: 2 }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    const w = await waitActive(MAIN);
    assert.equal(w.state, 'SUCCESS');
  });

  it('DescribeStream', async () => {
    const { StreamDescription: d } = await send(new DescribeStreamCommand({ StreamName: MAIN }));
    assert.equal(d.StreamName, MAIN);
    assert.match(d.StreamARN, ARN_RE(MAIN));
    mainArn = d.StreamARN;
    assert.equal(d.StreamStatus, 'ACTIVE');
    assert.equal(d.HasMoreShards, false);
    assert.equal(d.RetentionPeriodHours, 24);
    assert.ok(d.StreamCreationTimestamp instanceof Date, 'StreamCreationTimestamp is a Date');
    const created = d.StreamCreationTimestamp.getTime();
    assert.ok(created >= t0 - 5000 && created <= Date.now() + 5000,
      `StreamCreationTimestamp ${d.StreamCreationTimestamp.toISOString()} is not about now`);
    assert.ok(Array.isArray(d.EnhancedMonitoring), 'EnhancedMonitoring is an array');
    if (d.StreamModeDetails) assert.equal(d.StreamModeDetails.StreamMode, 'PROVISIONED');
    const shards = [...d.Shards].sort(byShardId);
    assert.deepEqual(shards.map((s) => s.ShardId), [shardId(0), shardId(1)]);
    assertRange(shards[0], 0n, HALF - 1n, shardId(0));
    assertRange(shards[1], HALF, MAX_HASH, shardId(1));
    for (const s of shards) {
      assert.match(s.SequenceNumberRange.StartingSequenceNumber, SEQ_RE);
      assert.ok(isOpen(s), `${s.ShardId} must be open`);
      assert.equal(s.ParentShardId, undefined);
      assert.equal(s.AdjacentParentShardId, undefined);
    }

    // pagination of shards
    const p1 = await send(new DescribeStreamCommand({ StreamName: MAIN, Limit: 1 }));
    assert.equal(p1.StreamDescription.Shards.length, 1);
    assert.equal(p1.StreamDescription.HasMoreShards, true);
    const p2 = await send(new DescribeStreamCommand({
      StreamName: MAIN, ExclusiveStartShardId: p1.StreamDescription.Shards[0].ShardId,
    }));
    assert.equal(p2.StreamDescription.HasMoreShards, false);
    assert.deepEqual(
      [...p1.StreamDescription.Shards, ...p2.StreamDescription.Shards].map((s) => s.ShardId).sort(),
      [shardId(0), shardId(1)]);
  });

  it('DescribeStreamSummary', async () => {
    const { StreamDescriptionSummary: s } = await send(new DescribeStreamSummaryCommand({ StreamName: MAIN }));
    assert.equal(s.StreamName, MAIN);
    assert.equal(s.StreamARN, mainArn);
    assert.equal(s.StreamStatus, 'ACTIVE');
    assert.equal(s.OpenShardCount, 2);
    assert.equal(s.RetentionPeriodHours, 24);
    assert.ok(s.StreamCreationTimestamp instanceof Date);
    assert.ok(Array.isArray(s.EnhancedMonitoring), 'EnhancedMonitoring is an array');
    if (s.ConsumerCount !== undefined) assert.equal(s.ConsumerCount, 0);
    if (s.StreamModeDetails) assert.equal(s.StreamModeDetails.StreamMode, 'PROVISIONED');
  });

  it('ListShards, also paginated with MaxResults and NextToken', async () => {
    const all = await send(new ListShardsCommand({ StreamName: MAIN }));
    assert.equal(all.NextToken, undefined);
    const shards = [...all.Shards].sort(byShardId);
    assert.deepEqual(shards.map((s) => s.ShardId), [shardId(0), shardId(1)]);
    assertRange(shards[0], 0n, HALF - 1n, shardId(0));
    assertRange(shards[1], HALF, MAX_HASH, shardId(1));

    const p1 = await send(new ListShardsCommand({ StreamName: MAIN, MaxResults: 1 }));
    assert.equal(p1.Shards.length, 1);
    assert.equal(typeof p1.NextToken, 'string', 'NextToken when more shards follow');
    const p2 = await send(new ListShardsCommand({ NextToken: p1.NextToken }));
    assert.equal(p2.Shards.length, 1);
    assert.equal(p2.NextToken, undefined);
    assert.deepEqual([p1.Shards[0].ShardId, p2.Shards[0].ShardId].sort(), [shardId(0), shardId(1)]);

    const after0 = await send(new ListShardsCommand({ StreamName: MAIN, ExclusiveStartShardId: shardId(0) }));
    assert.deepEqual(after0.Shards.map((s) => s.ShardId), [shardId(1)]);
  });

  // --- data plane --------------------------------------------------------------------------

  it('PutRecord routes by MD5(PartitionKey): "a" -> shard 0, "pk-1" -> shard 1', async () => {
    assert.ok(hashKeyOf('a') < HALF && hashKeyOf('pk-1') >= HALF); // test's own premise
    const a1 = await put(MAIN, 'a', 'first to shard 0');
    assert.equal(a1.ShardId, shardId(0));
    if (a1.EncryptionType !== undefined) assert.equal(a1.EncryptionType, 'NONE');
    const b1 = await put(MAIN, 'pk-1', 'first to shard 1');
    assert.equal(b1.ShardId, shardId(1));
    const a2 = await put(MAIN, 'a', 'second to shard 0');
    assert.equal(a2.ShardId, shardId(0));
    assert.ok(big(a2.SequenceNumber) > big(a1.SequenceNumber));
  });

  it('PutRecord ExplicitHashKey overrides the partition key', async () => {
    const hi = await put(MAIN, 'a', 'explicit max', { ExplicitHashKey: String(MAX_HASH) });
    assert.equal(hi.ShardId, shardId(1));
    const lo = await put(MAIN, 'pk-1', 'explicit zero', { ExplicitHashKey: '0' });
    assert.equal(lo.ShardId, shardId(0));
    const edge = await put(MAIN, 'a', 'explicit first of upper half', { ExplicitHashKey: String(HALF) });
    assert.equal(edge.ShardId, shardId(1));
    const edge2 = await put(MAIN, 'pk-1', 'explicit last of lower half', { ExplicitHashKey: String(HALF - 1n) });
    assert.equal(edge2.ShardId, shardId(0));
    await expectError(send(new PutRecordCommand({
      StreamName: MAIN, PartitionKey: 'a', Data: new Uint8Array([1]), ExplicitHashKey: String(MAX_HASH + 1n),
    })), 'InvalidArgumentException');
  });

  it('PutRecords returns per-record results in request order', async () => {
    const keys = ['a', 'b', 'c', 'pk-1', 'x', 'y', 'z', 'k1', 'k2', 'k3'];
    const Records = keys.map((pk, i) => ({ PartitionKey: pk, Data: new TextEncoder().encode(`batch-${i}-${pk}`) }));
    const out = await send(new PutRecordsCommand({ StreamName: MAIN, Records }));
    assert.equal(out.FailedRecordCount, 0);
    assert.equal(out.Records.length, keys.length);
    for (let i = 0; i < keys.length; i++) {
      const r = out.Records[i];
      const want = hashKeyOf(keys[i]) < HALF ? shardId(0) : shardId(1);
      assert.equal(r.ShardId, want, `record ${i} (${keys[i]}) shard`);
      assert.match(r.SequenceNumber, SEQ_RE);
      assert.equal(r.ErrorCode, undefined);
      const prev = expected(MAIN, r.ShardId).at(-1);
      assert.ok(big(r.SequenceNumber) > big(prev.seq), `record ${i}: sequence number increases within the shard`);
      remember(MAIN, r.ShardId, { seq: r.SequenceNumber, pk: keys[i], data: Buffer.from(Records[i].Data) });
    }
  });

  it('GetRecords from TRIM_HORIZON round-trips binary data exactly', async () => {
    const all256 = Uint8Array.from({ length: 256 }, (_, i) => i);
    await put(MAIN, 'a', all256);
    await put(MAIN, 'a', 'h\u00e9llo \u2713 \ud83d\ude80'); // multi-byte UTF-8
    await put(MAIN, 'a', randomBytes(200 * 1024)); // 200 KiB
    await put(MAIN, 'a', new Uint8Array([0]));
    for (const sid of [shardId(0), shardId(1)]) {
      const it0 = await iterator(MAIN, sid, 'TRIM_HORIZON');
      const before = Date.now();
      const { records, last, closed } = await drain(it0);
      assert.equal(closed, false, 'an open shard always has a NextShardIterator');
      assert.equal(typeof last.NextShardIterator, 'string');
      assert.equal(last.MillisBehindLatest, 0, 'caught up at the tip');
      assertRecordsEqual(records, expected(MAIN, sid), `${sid} from TRIM_HORIZON`);
      for (const r of records) {
        const ts = r.ApproximateArrivalTimestamp.getTime();
        assert.ok(ts >= t0 - 5000 && ts <= before + 5000, `arrival ${r.ApproximateArrivalTimestamp.toISOString()} not about now`);
      }
    }
  });

  it('GetRecords Limit returns at most Limit records and continues where it stopped', async () => {
    const want = expected(MAIN, shardId(0));
    assert.ok(want.length >= 3);
    const it0 = await iterator(MAIN, shardId(0), 'TRIM_HORIZON');
    const p1 = await send(new GetRecordsCommand({ ShardIterator: it0, Limit: 1 }));
    assertRecordsEqual(p1.Records, want.slice(0, 1), 'Limit 1, page 1');
    assert.ok(p1.MillisBehindLatest >= 0);
    const p2 = await send(new GetRecordsCommand({ ShardIterator: p1.NextShardIterator, Limit: 2 }));
    assertRecordsEqual(p2.Records, want.slice(1, 3), 'Limit 2, page 2');
    // The model bounds Limit to 1..10000, and AWS answers a model violation with ValidationException
    // (kinesalite's suite, run against AWS, pins this message), although API_GetRecords.html says
    // InvalidArgumentException.
    await expectError(send(new GetRecordsCommand({ ShardIterator: it0, Limit: 10001 })), 'ValidationException',
      { message: /Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000/ });
  });

  it('GetShardIterator AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER', async () => {
    const want = expected(MAIN, shardId(1));
    assert.ok(want.length >= 3);
    const at = await iterator(MAIN, shardId(1), 'AT_SEQUENCE_NUMBER', { StartingSequenceNumber: want[1].seq });
    const r1 = await drain(at);
    assertRecordsEqual(r1.records, want.slice(1), 'AT_SEQUENCE_NUMBER want[1]');
    const afterIt = await iterator(MAIN, shardId(1), 'AFTER_SEQUENCE_NUMBER', { StartingSequenceNumber: want[1].seq });
    const r2 = await drain(afterIt);
    assertRecordsEqual(r2.records, want.slice(2), 'AFTER_SEQUENCE_NUMBER want[1]');
    const afterLast = await iterator(MAIN, shardId(1), 'AFTER_SEQUENCE_NUMBER', { StartingSequenceNumber: want.at(-1).seq });
    const r3 = await send(new GetRecordsCommand({ ShardIterator: afterLast }));
    assert.equal(r3.Records.length, 0, 'AFTER the newest record: nothing');
    assert.equal(r3.MillisBehindLatest, 0);
  });

  it('GetShardIterator LATEST sees only records put after it', async () => {
    const latest = await iterator(MAIN, shardId(0), 'LATEST');
    const e = await send(new GetRecordsCommand({ ShardIterator: latest }));
    assert.equal(e.Records.length, 0, 'LATEST on a quiet shard: no records');
    assert.equal(e.MillisBehindLatest, 0);
    assert.equal(typeof e.NextShardIterator, 'string');
    const p = await put(MAIN, 'a', 'after LATEST');
    const viaNext = await drain(e.NextShardIterator);
    assertRecordsEqual(viaNext.records, [expected(MAIN, shardId(0)).at(-1)], 'NextShardIterator after LATEST');
    assert.equal(viaNext.records[0].SequenceNumber, p.SequenceNumber);
    const again = await drain(latest); // an iterator is a position: using it again reads the same
    assertRecordsEqual(again.records, [expected(MAIN, shardId(0)).at(-1)], 'LATEST iterator reused');
  });

  it('GetShardIterator AT_TIMESTAMP with a Date', async () => {
    const sid = shardId(1);
    await sleep(25);
    const A = await put(MAIN, 'pk-1', 'timestamp A');
    await sleep(25);
    const B = await put(MAIN, 'pk-1', 'timestamp B');
    const it0 = await iterator(MAIN, sid, 'AT_SEQUENCE_NUMBER', { StartingSequenceNumber: A.SequenceNumber });
    const { records } = await drain(it0);
    assert.deepEqual(records.map((r) => r.SequenceNumber), [A.SequenceNumber, B.SequenceNumber]);
    const [tsA, tsB] = records.map((r) => r.ApproximateArrivalTimestamp);
    assert.ok(tsB.getTime() > tsA.getTime(), `arrival B ${tsB.toISOString()} should be after A ${tsA.toISOString()} (25 ms apart)`);

    const atB = await drain(await iterator(MAIN, sid, 'AT_TIMESTAMP', { Timestamp: tsB }));
    assert.deepEqual(atB.records.map((r) => r.SequenceNumber), [B.SequenceNumber], 'AT_TIMESTAMP = arrival of B');
    const atA = await drain(await iterator(MAIN, sid, 'AT_TIMESTAMP', { Timestamp: tsA }));
    assert.deepEqual(atA.records.map((r) => r.SequenceNumber), [A.SequenceNumber, B.SequenceNumber], 'AT_TIMESTAMP = arrival of A');
    const afterB = await drain(await iterator(MAIN, sid, 'AT_TIMESTAMP', { Timestamp: new Date(tsB.getTime() + 1) }));
    assert.deepEqual(afterB.records.map((r) => r.SequenceNumber), [], 'AT_TIMESTAMP 1 ms after B');
    // A timestamp in the future: AWS answers InvalidArgumentException ("The timestampInMillis parameter
    // cannot be greater than the currentTimestampInMillis"); an iterator that reads nothing is also fine.
    try {
      const future = await drain(await iterator(MAIN, sid, 'AT_TIMESTAMP', { Timestamp: new Date(Date.now() + 3600_000) }));
      assert.equal(future.records.length, 0, 'AT_TIMESTAMP in the future reads nothing');
    } catch (err) {
      if (err.name !== 'InvalidArgumentException') throw err;
    }
    const epoch = await drain(await iterator(MAIN, sid, 'AT_TIMESTAMP', { Timestamp: new Date(0) }));
    assertRecordsEqual(epoch.records, expected(MAIN, sid), 'AT_TIMESTAMP before the trim horizon = oldest');
  });

  test('the same client over HTTP/1.1 (NodeHttpHandler) works', { timeout: TEST_TIMEOUT_MS }, async () => {
    const h2 = new KinesisClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 15000, throwOnRequestTimeout: true }),
    });
    try {
      const sum = await h2.send(new DescribeStreamSummaryCommand({ StreamName: MAIN }));
      assert.equal(sum.StreamDescriptionSummary.StreamName, MAIN);
      const Data = new TextEncoder().encode('over HTTP/1.1');
      const p = await h2.send(new PutRecordCommand({ StreamName: MAIN, PartitionKey: 'a', Data }));
      assert.equal(p.ShardId, shardId(0));
      remember(MAIN, p.ShardId, { seq: p.SequenceNumber, pk: 'a', data: Buffer.from(Data) });
      const gi = await h2.send(new GetShardIteratorCommand({
        StreamName: MAIN, ShardId: shardId(0), ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: p.SequenceNumber,
      }));
      const gr = await h2.send(new GetRecordsCommand({ ShardIterator: gi.ShardIterator }));
      assert.equal(gr.Records[0]?.SequenceNumber, p.SequenceNumber);
      assert.equal(Buffer.from(gr.Records[0].Data).toString(), 'over HTTP/1.1');
      await expectError(h2.send(new DescribeStreamCommand({ StreamName: 'e2e-no-such' })), 'ResourceNotFoundException');
    } finally {
      h2.destroy();
    }
  });

  // --- retention and tags -------------------------------------------------------------------

  it('IncreaseStreamRetentionPeriod / DecreaseStreamRetentionPeriod', async () => {
    const retention = async () => (await send(new DescribeStreamSummaryCommand({ StreamName: MAIN })))
      .StreamDescriptionSummary.RetentionPeriodHours;
    await send(new IncreaseStreamRetentionPeriodCommand({ StreamName: MAIN, RetentionPeriodHours: 48 }));
    await waitActive(MAIN);
    assert.equal(await retention(), 48);
    await expectError(send(new IncreaseStreamRetentionPeriodCommand({ StreamName: MAIN, RetentionPeriodHours: 25 })),
      'InvalidArgumentException'); // shorter than current
    await expectError(send(new IncreaseStreamRetentionPeriodCommand({ StreamName: MAIN, RetentionPeriodHours: 8761 })),
      'InvalidArgumentException');
    await expectError(send(new DecreaseStreamRetentionPeriodCommand({ StreamName: MAIN, RetentionPeriodHours: 72 })),
      'InvalidArgumentException'); // not less than current
    await send(new DecreaseStreamRetentionPeriodCommand({ StreamName: MAIN, RetentionPeriodHours: 24 }));
    await waitActive(MAIN);
    assert.equal(await retention(), 24);
    await expectError(send(new DecreaseStreamRetentionPeriodCommand({ StreamName: MAIN, RetentionPeriodHours: 23 })),
      'InvalidArgumentException');
    await send(new IncreaseStreamRetentionPeriodCommand({ StreamName: MAIN, RetentionPeriodHours: 8760 }));
    await waitActive(MAIN);
    assert.equal(await retention(), 8760);
    await send(new DecreaseStreamRetentionPeriodCommand({ StreamName: MAIN, RetentionPeriodHours: 24 }));
    await waitActive(MAIN);
    assert.equal(await retention(), 24);
    // the data is still readable
    const { records } = await drain(await iterator(MAIN, shardId(0), 'TRIM_HORIZON'));
    assert.equal(records.length, expected(MAIN, shardId(0)).length);
  });

  it('tags: CreateStream Tags, AddTagsToStream, ListTagsForStream, RemoveTagsFromStream', async () => {
    const tagsOf = async (params = {}) => {
      const out = await send(new ListTagsForStreamCommand({ StreamName: TAGGED, ...params }));
      return out;
    };
    const asMap = (tags) => Object.fromEntries(tags.map((t) => [t.Key, t.Value ?? '']));
    await send(new CreateStreamCommand({ StreamName: TAGGED, ShardCount: 1, Tags: { owner: 'e2e' } }));
    await waitActive(TAGGED);
    let out = await tagsOf();
    assert.deepEqual(asMap(out.Tags), { owner: 'e2e' });
    assert.equal(out.HasMoreTags, false);

    await send(new AddTagsToStreamCommand({ StreamName: TAGGED, Tags: { env: 'test', team: 'data', empty: '' } }));
    out = await tagsOf();
    assert.deepEqual(asMap(out.Tags), { owner: 'e2e', env: 'test', team: 'data', empty: '' });
    assert.equal(out.HasMoreTags, false);

    await send(new AddTagsToStreamCommand({ StreamName: TAGGED, Tags: { env: 'prod' } })); // overwrite
    out = await tagsOf();
    assert.equal(asMap(out.Tags).env, 'prod');

    const page = await tagsOf({ Limit: 1 });
    assert.equal(page.Tags.length, 1);
    assert.equal(page.HasMoreTags, true);
    const rest = await tagsOf({ ExclusiveStartTagKey: page.Tags[0].Key });
    assert.equal(rest.HasMoreTags, false);
    assert.deepEqual([...page.Tags, ...rest.Tags].map((t) => t.Key).sort(), ['empty', 'env', 'owner', 'team']);

    await send(new RemoveTagsFromStreamCommand({ StreamName: TAGGED, TagKeys: ['team', 'empty', 'no-such-key'] }));
    out = await tagsOf();
    assert.deepEqual(asMap(out.Tags), { owner: 'e2e', env: 'prod' });
  });

  it('tags: TagResource / ListTagsForResource / UntagResource by ARN', async () => {
    const { StreamDescriptionSummary: s } = await send(new DescribeStreamSummaryCommand({ StreamName: TAGGED }));
    const ResourceARN = s.StreamARN;
    await send(new TagResourceCommand({ ResourceARN, Tags: { cost: '42' } }));
    const asMap = (tags) => Object.fromEntries(tags.map((t) => [t.Key, t.Value ?? '']));
    let out = await send(new ListTagsForResourceCommand({ ResourceARN }));
    assert.deepEqual(asMap(out.Tags), { owner: 'e2e', env: 'prod', cost: '42' });
    await send(new UntagResourceCommand({ ResourceARN, TagKeys: ['cost', 'owner'] }));
    out = await send(new ListTagsForResourceCommand({ ResourceARN }));
    assert.deepEqual(asMap(out.Tags), { env: 'prod' });
    const viaStream = await send(new ListTagsForStreamCommand({ StreamName: TAGGED }));
    assert.deepEqual(asMap(viaStream.Tags), { env: 'prod' });
  });

  it('ListStreams lists every stream and paginates with NextToken', async () => {
    const all = await send(new ListStreamsCommand({}));
    assert.equal(all.HasMoreStreams, false);
    assert.deepEqual([...all.StreamNames].sort(), [MAIN, TAGGED].sort());
    if (all.StreamSummaries) {
      const s = all.StreamSummaries.find((x) => x.StreamName === MAIN);
      assert.ok(s, 'StreamSummaries has the main stream');
      assert.equal(s.StreamARN, mainArn);
      assert.equal(s.StreamStatus, 'ACTIVE');
    }
    const names = [];
    let page = await send(new ListStreamsCommand({ Limit: 1 }));
    assert.equal(page.StreamNames.length, 1);
    assert.equal(page.HasMoreStreams, true);
    assert.equal(typeof page.NextToken, 'string', 'NextToken whenever HasMoreStreams');
    names.push(...page.StreamNames);
    for (let i = 0; page.HasMoreStreams && i < 10; i++) {
      page = await send(new ListStreamsCommand({ NextToken: page.NextToken, Limit: 1 }));
      names.push(...page.StreamNames);
    }
    assert.equal(page.HasMoreStreams, false);
    assert.deepEqual(names.sort(), [MAIN, TAGGED].sort());
    const excl = await send(new ListStreamsCommand({ ExclusiveStartStreamName: all.StreamNames[0] }));
    assert.deepEqual(excl.StreamNames, all.StreamNames.slice(1));
  });

  // --- StreamARN instead of StreamName ------------------------------------------------------

  it('StreamARN works wherever StreamName does', async () => {
    const StreamARN = mainArn;
    const sum = await send(new DescribeStreamSummaryCommand({ StreamARN }));
    assert.equal(sum.StreamDescriptionSummary.StreamName, MAIN);
    const desc = await send(new DescribeStreamCommand({ StreamARN }));
    assert.equal(desc.StreamDescription.StreamName, MAIN);
    const ls = await send(new ListShardsCommand({ StreamARN }));
    assert.deepEqual(ls.Shards.map((s) => s.ShardId).sort(), [shardId(0), shardId(1)]);

    const Data = new TextEncoder().encode('via ARN');
    const p = await send(new PutRecordCommand({ StreamARN, PartitionKey: 'pk-1', Data }));
    assert.equal(p.ShardId, shardId(1));
    remember(MAIN, p.ShardId, { seq: p.SequenceNumber, pk: 'pk-1', data: Buffer.from(Data) });
    const pr = await send(new PutRecordsCommand({ StreamARN, Records: [{ PartitionKey: 'a', Data }] }));
    assert.equal(pr.FailedRecordCount, 0);
    assert.equal(pr.Records[0].ShardId, shardId(0));
    remember(MAIN, shardId(0), { seq: pr.Records[0].SequenceNumber, pk: 'a', data: Buffer.from(Data) });

    const gi = await send(new GetShardIteratorCommand({
      StreamARN, ShardId: shardId(1), ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: p.SequenceNumber,
    }));
    const gr = await send(new GetRecordsCommand({ StreamARN, ShardIterator: gi.ShardIterator }));
    assert.equal(gr.Records[0]?.SequenceNumber, p.SequenceNumber);
    assert.equal(Buffer.from(gr.Records[0].Data).toString(), 'via ARN');

    await send(new AddTagsToStreamCommand({ StreamARN, Tags: { via: 'arn' } }));
    const tags = await send(new ListTagsForStreamCommand({ StreamARN }));
    assert.deepEqual(tags.Tags, [{ Key: 'via', Value: 'arn' }]);

    // both given and disagreeing: rejected
    let err;
    try {
      await send(new DescribeStreamSummaryCommand({ StreamName: TAGGED, StreamARN }));
    } catch (e) { err = e; }
    assert.ok(err, 'StreamName and StreamARN that disagree must be rejected');
    assert.equal(err.$metadata?.httpStatusCode, 400, `${err.name}: ${err.message}`);
    // both given and agreeing: fine
    const both = await send(new DescribeStreamSummaryCommand({ StreamName: MAIN, StreamARN }));
    assert.equal(both.StreamDescriptionSummary.StreamName, MAIN);

    await expectError(send(new DescribeStreamSummaryCommand({ StreamARN: StreamARN.replace(/stream\/.*$/, 'stream/e2e-no-such') })),
      'ResourceNotFoundException');
  });

  // --- resharding ---------------------------------------------------------------------------

  const RS = {};

  it('SplitShard: parent closes, children take the next ids and the two halves', async () => {
    await send(new CreateStreamCommand({ StreamName: RESHARD, ShardCount: 1 }));
    await waitActive(RESHARD);
    for (const pk of ['a', 'b', 'c']) {
      const r = await put(RESHARD, pk, `before split ${pk}`);
      assert.equal(r.ShardId, shardId(0));
    }
    await send(new SplitShardCommand({ StreamName: RESHARD, ShardToSplit: shardId(0), NewStartingHashKey: String(HALF) }));
    await waitActive(RESHARD);

    const shards = await listAllShards({ StreamName: RESHARD });
    assert.deepEqual(shards.map((s) => s.ShardId), [shardId(0), shardId(1), shardId(2)]);
    const [p, lo, hi] = shards;
    assert.ok(!isOpen(p), 'parent is closed (has EndingSequenceNumber)');
    assert.match(p.SequenceNumberRange.EndingSequenceNumber, SEQ_RE);
    assert.ok(big(p.SequenceNumberRange.EndingSequenceNumber) >= big(expected(RESHARD, shardId(0)).at(-1).seq),
      'parent EndingSequenceNumber >= its last record');
    assertRange(p, 0n, MAX_HASH, 'parent');
    assertRange(lo, 0n, HALF - 1n, 'lower child');
    assertRange(hi, HALF, MAX_HASH, 'upper child');
    for (const c of [lo, hi]) {
      assert.equal(c.ParentShardId, shardId(0), `${c.ShardId} ParentShardId`);
      assert.equal(c.AdjacentParentShardId, undefined);
      assert.ok(isOpen(c), `${c.ShardId} is open`);
    }
    const sum = await send(new DescribeStreamSummaryCommand({ StreamName: RESHARD }));
    assert.equal(sum.StreamDescriptionSummary.OpenShardCount, 2);

    // writes go to the children now
    assert.equal((await put(RESHARD, 'a', 'after split a')).ShardId, shardId(1));
    assert.equal((await put(RESHARD, 'pk-1', 'after split pk-1')).ShardId, shardId(2));
    RS.parentEnd = p.SequenceNumberRange.EndingSequenceNumber;
  });

  it('GetRecords reads a closed parent to its end: no NextShardIterator, ChildShards listed', async () => {
    const { records, last, closed } = await drain(await iterator(RESHARD, shardId(0), 'TRIM_HORIZON'));
    assertRecordsEqual(records, expected(RESHARD, shardId(0)), 'closed parent');
    assert.equal(closed, true, 'no NextShardIterator at the end of a closed shard');
    assert.equal(last.NextShardIterator, undefined);
    assert.ok(Array.isArray(last.ChildShards), 'ChildShards present');
    const kids = [...last.ChildShards].sort(byShardId);
    assert.deepEqual(kids.map((c) => c.ShardId), [shardId(1), shardId(2)]);
    for (const k of kids) assert.deepEqual(k.ParentShards, [shardId(0)]);
    assertRange(kids[0], 0n, HALF - 1n, 'ChildShards[0]');
    assertRange(kids[1], HALF, MAX_HASH, 'ChildShards[1]');

    // LATEST on a closed shard is its end
    const l = await send(new GetRecordsCommand({ ShardIterator: await iterator(RESHARD, shardId(0), 'LATEST') }));
    assert.equal(l.Records.length, 0);
    assert.equal(l.NextShardIterator, undefined, 'LATEST of a closed shard: no NextShardIterator');
    assert.equal(l.ChildShards?.length, 2);
  });

  it('MergeShards: child covers both ranges, lists both parents', async () => {
    await send(new MergeShardsCommand({ StreamName: RESHARD, ShardToMerge: shardId(1), AdjacentShardToMerge: shardId(2) }));
    await waitActive(RESHARD);
    const shards = await listAllShards({ StreamName: RESHARD });
    assert.deepEqual(shards.map((s) => s.ShardId), [0, 1, 2, 3].map(shardId));
    const m = shards[3];
    assertRange(m, 0n, MAX_HASH, 'merged child');
    assert.equal(m.ParentShardId, shardId(1));
    assert.equal(m.AdjacentParentShardId, shardId(2));
    assert.ok(isOpen(m));
    assert.ok(!isOpen(shards[1]) && !isOpen(shards[2]), 'both parents closed');
    const sum = await send(new DescribeStreamSummaryCommand({ StreamName: RESHARD }));
    assert.equal(sum.StreamDescriptionSummary.OpenShardCount, 1);
    assert.equal((await put(RESHARD, 'a', 'after merge')).ShardId, shardId(3));

    const { records, last, closed } = await drain(await iterator(RESHARD, shardId(1), 'TRIM_HORIZON'));
    assertRecordsEqual(records, expected(RESHARD, shardId(1)), 'merged parent 1');
    assert.equal(closed, true);
    assert.deepEqual(last.ChildShards?.map((c) => c.ShardId), [shardId(3)]);
    assert.deepEqual([...last.ChildShards[0].ParentShards].sort(), [shardId(1), shardId(2)]);
    assertRange(last.ChildShards[0], 0n, MAX_HASH, 'ChildShards[0] of a merge');
  });

  it('UpdateShardCount UNIFORM_SCALING 1 -> 2: even ranges, lineage back to the old shard', async () => {
    const out = await send(new UpdateShardCountCommand({ StreamName: RESHARD, TargetShardCount: 2, ScalingType: 'UNIFORM_SCALING' }));
    assert.equal(out.StreamName, RESHARD);
    assert.equal(out.CurrentShardCount, 1);
    assert.equal(out.TargetShardCount, 2);
    await waitActive(RESHARD);
    const shards = await listAllShards({ StreamName: RESHARD });
    const byId = new Map(shards.map((s) => [s.ShardId, s]));
    const open = shards.filter(isOpen).sort((x, y) => (big(x.HashKeyRange.StartingHashKey) < big(y.HashKeyRange.StartingHashKey) ? -1 : 1));
    assert.equal(open.length, 2);
    assertRange(open[0], 0n, HALF - 1n, 'open shard 1 of 2');
    assertRange(open[1], HALF, MAX_HASH, 'open shard 2 of 2');
    assert.ok(!isOpen(byId.get(shardId(3))), 'the scaled shard is closed');
    for (const s of open) {
      // walk the lineage: it must reach shard 3 through listed shards
      const seen = new Set();
      const stack = [s.ParentShardId, s.AdjacentParentShardId].filter(Boolean);
      assert.ok(stack.length > 0, `${s.ShardId} has a parent`);
      while (stack.length) {
        const id = stack.pop();
        if (seen.has(id)) continue;
        seen.add(id);
        const sh = byId.get(id);
        assert.ok(sh, `${s.ShardId}: ancestor ${id} is listed`);
        if (id !== shardId(3)) stack.push(...[sh.ParentShardId, sh.AdjacentParentShardId].filter(Boolean));
      }
      assert.ok(seen.has(shardId(3)), `${s.ShardId} descends from ${shardId(3)}`);
    }
    const sum = await send(new DescribeStreamSummaryCommand({ StreamName: RESHARD }));
    assert.equal(sum.StreamDescriptionSummary.OpenShardCount, 2);
    const latest = await send(new ListShardsCommand({ StreamName: RESHARD, ShardFilter: { Type: 'AT_LATEST' } }));
    assert.deepEqual(latest.Shards.map((x) => x.ShardId).sort(), open.map((x) => x.ShardId).sort(), 'AT_LATEST = open shards');
    const r = await put(RESHARD, 'pk-1', 'after scaling');
    assert.equal(r.ShardId, open[1].ShardId);
  });

  it('reshard argument errors', async () => {
    const shards = await listAllShards({ StreamName: RESHARD });
    const open = shards.filter(isOpen);
    const s = open[0];
    await expectError(send(new SplitShardCommand({
      StreamName: RESHARD, ShardToSplit: s.ShardId, NewStartingHashKey: s.HashKeyRange.StartingHashKey,
    })), 'InvalidArgumentException'); // key must be strictly inside
    await expectError(send(new SplitShardCommand({
      StreamName: RESHARD, ShardToSplit: 'shardId-000000000099', NewStartingHashKey: String(HALF),
    })), 'ResourceNotFoundException');
    await expectError(send(new UpdateShardCountCommand({
      StreamName: RESHARD, TargetShardCount: 5, ScalingType: 'UNIFORM_SCALING',
    })), 'LimitExceededException'); // more than double

    const three = 'e2e-three';
    await send(new CreateStreamCommand({ StreamName: three, ShardCount: 3 }));
    await waitActive(three);
    await expectError(send(new MergeShardsCommand({
      StreamName: three, ShardToMerge: shardId(0), AdjacentShardToMerge: shardId(2),
    })), 'InvalidArgumentException'); // not adjacent
    await send(new DeleteStreamCommand({ StreamName: three }));
    await waitUntilStreamNotExists({ client, ...WAITER }, { StreamName: three });
  });

  // --- errors -------------------------------------------------------------------------------

  it('ResourceNotFoundException for a missing stream or shard', async () => {
    await expectError(send(new DescribeStreamCommand({ StreamName: 'e2e-no-such' })), 'ResourceNotFoundException',
      { message: /Stream e2e-no-such under account \d{12} not found/ });
    await expectError(send(new DescribeStreamSummaryCommand({ StreamName: 'e2e-no-such' })), 'ResourceNotFoundException');
    await expectError(send(new PutRecordCommand({ StreamName: 'e2e-no-such', PartitionKey: 'a', Data: new Uint8Array([1]) })),
      'ResourceNotFoundException');
    await expectError(send(new DeleteStreamCommand({ StreamName: 'e2e-no-such' })), 'ResourceNotFoundException');
    await expectError(send(new GetShardIteratorCommand({
      StreamName: MAIN, ShardId: 'shardId-000000000099', ShardIteratorType: 'TRIM_HORIZON',
    })), 'ResourceNotFoundException');
  });

  it('ResourceInUseException for CreateStream on an existing name', async () => {
    await expectError(send(new CreateStreamCommand({ StreamName: MAIN, ShardCount: 1 })), 'ResourceInUseException');
  });

  it('ValidationException for 501 records and for 0 records in PutRecords', async () => {
    const Records = Array.from({ length: 501 }, (_, i) => ({ PartitionKey: `k${i}`, Data: new Uint8Array([i & 255]) }));
    await expectError(send(new PutRecordsCommand({ StreamName: MAIN, Records })), 'ValidationException');
    await expectError(send(new PutRecordsCommand({ StreamName: MAIN, Records: [] })), 'ValidationException');
    // and nothing of the rejected batch was written
    const { records } = await drain(await iterator(MAIN, shardId(0), 'TRIM_HORIZON'));
    assert.equal(records.length, expected(MAIN, shardId(0)).length);
  });

  it('ValidationException for a 129-character or malformed stream name; 128 characters is fine', async () => {
    await expectError(send(new CreateStreamCommand({ StreamName: 'n'.repeat(129), ShardCount: 1 })), 'ValidationException');
    await expectError(send(new CreateStreamCommand({ StreamName: 'bad name!', ShardCount: 1 })), 'ValidationException',
      { message: /failed to satisfy constraint/ });
    const name = 'n'.repeat(128);
    await send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await waitActive(name);
    await send(new DeleteStreamCommand({ StreamName: name }));
    await waitUntilStreamNotExists({ client, ...WAITER }, { StreamName: name });
  });

  it('InvalidArgumentException for a garbage iterator and bad iterator arguments', async () => {
    await expectError(send(new GetRecordsCommand({ ShardIterator: 'this-is-not-a-shard-iterator' })), 'InvalidArgumentException');
    await expectError(send(new GetShardIteratorCommand({
      StreamName: MAIN, ShardId: shardId(0), ShardIteratorType: 'AT_SEQUENCE_NUMBER',
    })), 'InvalidArgumentException'); // no StartingSequenceNumber
    await expectError(send(new GetShardIteratorCommand({
      StreamName: MAIN, ShardId: shardId(0), ShardIteratorType: 'AT_TIMESTAMP',
    })), 'InvalidArgumentException'); // no Timestamp
    await expectError(send(new ListShardsCommand({ StreamName: MAIN, NextToken: 'abc' })), 'InvalidArgumentException');
  });

  it('ON_DEMAND stream: created without ShardCount, resharding refused', async () => {
    const od = 'e2e-on-demand';
    await send(new CreateStreamCommand({ StreamName: od, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    await waitActive(od);
    const { StreamDescriptionSummary: s } = await send(new DescribeStreamSummaryCommand({ StreamName: od }));
    assert.equal(s.StreamModeDetails?.StreamMode, 'ON_DEMAND');
    assert.ok(s.OpenShardCount >= 1);
    await expectError(send(new SplitShardCommand({ StreamName: od, ShardToSplit: shardId(0), NewStartingHashKey: '1000' })),
      'ValidationException');
    await send(new DeleteStreamCommand({ StreamName: od }));
    await waitUntilStreamNotExists({ client, ...WAITER }, { StreamName: od });
  });

  // --- deletion -----------------------------------------------------------------------------

  it('DeleteStream (by name and by ARN) + waitUntilStreamNotExists', async () => {
    await send(new DeleteStreamCommand({ StreamName: MAIN }));
    const w = await waitUntilStreamNotExists({ client, ...WAITER }, { StreamName: MAIN });
    assert.equal(w.state, 'SUCCESS');
    await expectError(send(new DescribeStreamCommand({ StreamName: MAIN })), 'ResourceNotFoundException');

    const { StreamDescriptionSummary: s } = await send(new DescribeStreamSummaryCommand({ StreamName: RESHARD }));
    await send(new DeleteStreamCommand({ StreamARN: s.StreamARN }));
    await waitUntilStreamNotExists({ client, ...WAITER }, { StreamName: RESHARD });

    const ls = await send(new ListStreamsCommand({}));
    assert.deepEqual(ls.StreamNames, [TAGGED]);

    // the name can be used again, and starts empty
    await send(new CreateStreamCommand({ StreamName: MAIN, ShardCount: 1 }));
    await waitActive(MAIN);
    const r = await send(new GetRecordsCommand({ ShardIterator: await iterator(MAIN, shardId(0), 'TRIM_HORIZON') }));
    assert.equal(r.Records.length, 0, 'a re-created stream has no old records');
  });

  it('the server is still running', () => {
    assert.equal(server.exited, null, `eddy exited during the run: ${JSON.stringify(server.exited)}\n${server.tail()}`);
  });
});
