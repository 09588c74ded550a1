// End-to-end test of enhanced fan-out: the real `eddy serve` binary driven by the AWS SDK for
// JavaScript v3 (RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers,
// DeregisterStreamConsumer, SubscribeToShard). The rest of the Kinesis API is in kinesis_sdk.test.mjs.
//
//   EDDY_BIN=build/release/eddy node --test tests/e2e/node/fanout_sdk.test.mjs
//
// Every wait is bounded (startup 20 s, waiters 20 s, each event 10 s, each test 60 s).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListStreamConsumersCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

import { assertRecordsEqual, expectError } from './kinesis_asserts.mjs';
import { Server } from './eddy_server.mjs';

// The pinned SDK warns on node < 22 at client construction; the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const STARTUP_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;
const WAITER = { maxWaitTime: 20, minDelay: 0.25, maxDelay: 1 };
const SEQ_RE = /^(0|[1-9]\d{0,128})$/;
const shardId = (i) => `shardId-${String(i).padStart(12, '0')}`;



// ---------------------------------------------------------------------------------------------
// enhanced fan-out: consumers and SubscribeToShard, whose answer is an AWS event stream. Over the
// client's default transport (HTTP/2, NodeHttp2Handler) as an unmodified application reads it, and
// once over HTTP/1.1 (NodeHttpHandler), where the SDK reads the same event stream from a chunked body.
// A server of its own; every wait for an event is bounded (EVENT_WAIT_MS).

const EVENT_WAIT_MS = 10_000;

// The events of a SubscribeToShard output, each awaited with a timeout.
function subscription(out, what) {
  assert.equal(out.$metadata.httpStatusCode, 200, `${what}: HTTP status`);
  const iter = out.EventStream[Symbol.asyncIterator]();
  return {
    async next(ms = EVENT_WAIT_MS) {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no event within ${ms} ms`)), ms);
      });
      try {
        return await Promise.race([iter.next(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    // SubscribeToShardEvents until n records came; fails if they hold more.
    async records(n, ms = EVENT_WAIT_MS) {
      const deadline = Date.now() + ms;
      const got = [];
      let last;
      while (got.length < n) {
        const { value, done } = await this.next(Math.max(1, deadline - Date.now()));
        assert.ok(!done, `${what}: the event stream ended after ${got.length} of ${n} records`);
        last = value.SubscribeToShardEvent;
        assert.ok(last, `${what}: not a SubscribeToShardEvent: ${Object.keys(value)}`);
        assert.ok(Array.isArray(last.Records), `${what}: Records is an array`);
        assert.equal(typeof last.MillisBehindLatest, 'number', `${what}: MillisBehindLatest`);
        assert.match(last.ContinuationSequenceNumber, SEQ_RE, `${what}: ContinuationSequenceNumber`);
        if (last.Records.length) assert.equal(last.ContinuationSequenceNumber, last.Records.at(-1).SequenceNumber);
        got.push(...last.Records);
      }
      assert.equal(got.length, n, `${what}: more records than expected`);
      return { got, last };
    },
    close() {
      iter.return?.().catch(() => {});
    },
  };
}

describe('enhanced fan-out through @aws-sdk/client-kinesis', { timeout: 5 * 60_000 }, () => {
  const fanServer = new Server();
  const FAN = 'e2e-fanout';
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  let fc; // the default client: HTTP/2
  let endpoint;
  let streamArn;
  let consumer;
  let continuation;
  const subs = [];
  const fsend = (cmd) => fc.send(cmd);
  const it = (name, fn) => test(name, { timeout: TEST_TIMEOUT_MS }, fn);

  const fput = async (data, pk = 'k') => {
    const Data = data instanceof Uint8Array ? data : new TextEncoder().encode(data);
    const out = await fsend(new PutRecordCommand({ StreamName: FAN, PartitionKey: pk, Data }));
    assert.equal(out.ShardId, shardId(0));
    return { seq: out.SequenceNumber, pk, data: Buffer.from(Data) };
  };
  const subscribe = async (c, ConsumerARN, StartingPosition, what) => {
    const s = subscription(await c.send(new SubscribeToShardCommand({ ConsumerARN, ShardId: shardId(0), StartingPosition })), what);
    subs.push(s);
    return s;
  };

  before(async () => {
    const port = await fanServer.start();
    endpoint = `http://127.0.0.1:${port}`;
    fc = new KinesisClient({
      endpoint, region: 'us-east-1', credentials, maxAttempts: 1,
      requestHandler: { requestTimeout: 15000, sessionTimeout: 15000, throwOnRequestTimeout: true },
    });
    await fsend(new CreateStreamCommand({ StreamName: FAN, ShardCount: 1 }));
    await waitUntilStreamExists({ client: fc, ...WAITER }, { StreamName: FAN });
    streamArn = (await fsend(new DescribeStreamSummaryCommand({ StreamName: FAN }))).StreamDescriptionSummary.StreamARN;
  }, { timeout: STARTUP_TIMEOUT_MS + 25_000 });

  after(async () => {
    for (const s of subs) s.close();
    fc?.destroy();
    await fanServer.stopAndReport();
  });

  it('RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers', async () => {
    const before = Date.now();
    const out = await fsend(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'node-reader' }));
    consumer = out.Consumer;
    assert.equal(consumer.ConsumerName, 'node-reader');
    assert.ok(consumer.ConsumerCreationTimestamp instanceof Date, 'ConsumerCreationTimestamp is a Date');
    const created = consumer.ConsumerCreationTimestamp.getTime();
    assert.ok(created >= before - 5000 && created <= Date.now() + 5000, 'ConsumerCreationTimestamp is about now');
    assert.equal(consumer.ConsumerARN, `${streamArn}/consumer/node-reader:${Math.floor(created / 1000)}`);
    assert.ok(['CREATING', 'ACTIVE'].includes(consumer.ConsumerStatus), consumer.ConsumerStatus);
    let d;
    for (let i = 0; i < 100; i++) { // bounded: 10 s
      d = (await fsend(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }))).ConsumerDescription;
      if (d.ConsumerStatus === 'ACTIVE') break;
      await sleep(100);
    }
    const want = { ...consumer, ConsumerStatus: 'ACTIVE' };
    assert.deepEqual(d, { ...want, StreamARN: streamArn });
    const byName = await fsend(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'node-reader' }));
    assert.deepEqual(byName.ConsumerDescription, d);
    const list = await fsend(new ListStreamConsumersCommand({ StreamARN: streamArn }));
    assert.deepEqual(list.Consumers, [want]);
    assert.equal(list.NextToken, undefined);
    const sum = await fsend(new DescribeStreamSummaryCommand({ StreamName: FAN }));
    assert.equal(sum.StreamDescriptionSummary.ConsumerCount, 1);
    await expectError(fsend(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'node-reader' })),
      'ResourceInUseException');
    await expectError(fsend(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'nobody' })),
      'ResourceNotFoundException');
  });

  it('SubscribeToShard over HTTP/2 delivers records put before and after subscribing, in order', async () => {
    assert.ok(consumer, 'registered above');
    const early = [await fput(Uint8Array.from({ length: 256 }, (_, i) => i), 'bin'), await fput('h\u00e9llo \u2713'),
      await fput(randomBytes(64 * 1024), 'big')];
    const s = await subscribe(fc, consumer.ConsumerARN, { Type: 'TRIM_HORIZON' }, 'HTTP/2 subscription');
    const first = await s.records(3);
    assertRecordsEqual(first.got, early, 'records put before subscribing');
    assert.equal(first.last.ContinuationSequenceNumber, early.at(-1).seq);
    const late = [await fput('late 1'), await fput('late 2', 'other'), await fput(new Uint8Array([0]))];
    const second = await s.records(3);
    assertRecordsEqual(second.got, late, 'records put after subscribing');
    continuation = second.last.ContinuationSequenceNumber;
    assert.equal(continuation, late.at(-1).seq);
    // The same consumer and shard again within 5 s: refused.
    await expectError(fc.send(new SubscribeToShardCommand({
      ConsumerARN: consumer.ConsumerARN, ShardId: shardId(0), StartingPosition: { Type: 'LATEST' },
    })), 'ResourceInUseException');
  });

  // @aws-sdk/client-kinesis reads event streams over HTTP/1.1 too (a chunked response body).
  it('SubscribeToShard over HTTP/1.1 (NodeHttpHandler) resumes after the ContinuationSequenceNumber', async () => {
    assert.ok(continuation, 'a ContinuationSequenceNumber from the test above');
    const h1 = new KinesisClient({
      endpoint, region: 'us-east-1', credentials, maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 15000, throwOnRequestTimeout: true }),
    });
    try {
      const c2 = (await h1.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'node-h1' }))).Consumer;
      const more = [await fput('after continuation 1'), await fput('after continuation 2')];
      const s = await subscribe(h1, c2.ConsumerARN, { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: continuation }, 'HTTP/1.1 subscription');
      const { got } = await s.records(2);
      assertRecordsEqual(got, more, 'HTTP/1.1: records after the continuation');
      const live = [await fput('live over HTTP/1.1')];
      assertRecordsEqual((await s.records(1)).got, live, 'HTTP/1.1: live record');
      // Deregistering the consumer ends its subscription with a ResourceNotFoundException event.
      await h1.send(new DeregisterStreamConsumerCommand({ ConsumerARN: c2.ConsumerARN }));
      let thrown;
      try {
        for (let i = 0; i < 5; i++) { // empty events may come first
          const { value, done } = await s.next();
          assert.ok(!done, 'the stream ended without an exception event');
          assert.deepEqual(value.SubscribeToShardEvent?.Records, [], `unexpected event ${Object.keys(value)}`);
        }
      } catch (err) {
        thrown = err;
      }
      assert.equal(thrown?.name, 'ResourceNotFoundException', `got ${thrown?.name}: ${thrown?.message}`);
    } finally {
      h1.destroy();
    }
  });

  it('DeregisterStreamConsumer, then DeleteStream', async () => {
    await fsend(new DeregisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'node-reader' }));
    await expectError(fsend(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN })), 'ResourceNotFoundException');
    await expectError(fsend(new DeregisterStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN })), 'ResourceNotFoundException');
    const list = await fsend(new ListStreamConsumersCommand({ StreamARN: streamArn }));
    assert.deepEqual(list.Consumers, []);
    await expectError(fsend(new SubscribeToShardCommand({
      ConsumerARN: consumer.ConsumerARN, ShardId: shardId(0), StartingPosition: { Type: 'LATEST' },
    })), 'ResourceNotFoundException');
    await fsend(new DeleteStreamCommand({ StreamName: FAN }));
    await waitUntilStreamNotExists({ client: fc, ...WAITER }, { StreamName: FAN });
  });

  it('the server is still running', () => {
    assert.equal(fanServer.exited, null, `eddy exited during the run: ${JSON.stringify(fanServer.exited)}\n${fanServer.tail()}`);
  });
});

// A subscriber that stops reading over HTTP/2 lets the stream's flow-control window shut, so no
// write is in flight for the server's write timeout to bound. The server resets such a stream once
// its event has not moved for the write timeout (2 s here), instead of holding the event for as
// long as the connection lives; the connection and the server go on.
describe('a SubscribeToShard reader that stops reading over HTTP/2', { timeout: 2 * 60_000 }, () => {
  const server = new Server(['--write-timeout-s', '2']);
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const NAME = 'e2e-stalled';
  let client;
  let endpoint;

  before(async () => {
    endpoint = `http://127.0.0.1:${await server.start()}`;
    client = new KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  }, { timeout: STARTUP_TIMEOUT_MS + 5_000 });

  after(async () => {
    client?.destroy();
    await server.stopAndReport();
  });

  test('is reset once its event has not moved for the write timeout', { timeout: TEST_TIMEOUT_MS }, async () => {
    await client.send(new CreateStreamCommand({ StreamName: NAME, ShardCount: 1 }));
    await waitUntilStreamExists({ client, ...WAITER }, { StreamName: NAME });
    const arn = (await client.send(new DescribeStreamSummaryCommand({ StreamName: NAME }))).StreamDescriptionSummary.StreamARN;
    const { Consumer } = await client.send(new RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'stops' }));
    for (let i = 0; i < 100; i++) { // bounded: 10 s
      const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
      if (d.ConsumerDescription.ConsumerStatus === 'ACTIVE') break;
      await sleep(100);
    }
    // 4 MB: the first event holds far more than a stream's initial window (64 KB).
    const Records = Array.from({ length: 40 }, () => ({ PartitionKey: 'p', Data: randomBytes(100 * 1024) }));
    assert.equal((await client.send(new PutRecordsCommand({ StreamName: NAME, Records }))).FailedRecordCount, 0);

    const session = http2.connect(endpoint);
    session.on('error', () => {});
    try {
      const req = session.request({
        ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.SubscribeToShard',
      });
      req.end(JSON.stringify({ ConsumerARN: Consumer.ConsumerARN, ShardId: shardId(0), StartingPosition: { Type: 'TRIM_HORIZON' } }));
      const status = await new Promise((resolve, reject) => {
        req.once('response', (h) => resolve(h[':status']));
        req.once('error', reject);
        setTimeout(() => reject(new Error('no response headers within 10 s')), 10_000);
      });
      assert.equal(status, 200);
      req.pause(); // never read: the stream's window shuts after its first 64 KB
      const started = Date.now();
      const closed = await new Promise((resolve) => {
        req.once('close', () => resolve(req.rstCode));
        setTimeout(() => resolve('still open'), 20_000);
      });
      assert.equal(closed, http2.constants.NGHTTP2_CANCEL, 'the stalled stream was reset with CANCEL');
      const waited = Date.now() - started;
      assert.ok(waited >= 1500, `reset after ${waited} ms, before the 2 s write timeout`);
      // The connection is still served: an ordinary call on it.
      const other = session.request({
        ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.DescribeStreamSummary',
      });
      other.end(JSON.stringify({ StreamName: NAME }));
      const body = await new Promise((resolve, reject) => {
        let text = '';
        other.setEncoding('utf8');
        other.on('data', (c) => { text += c; });
        other.once('end', () => resolve(text));
        other.once('error', reject);
        setTimeout(() => reject(new Error('no answer on the same connection within 10 s')), 10_000);
      });
      assert.equal(JSON.parse(body).StreamDescriptionSummary.ConsumerCount, 1);
    } finally {
      session.destroy();
    }
    assert.equal(server.exited, null, `eddy exited: ${JSON.stringify(server.exited)}\n${server.tail()}`);
  });
});
