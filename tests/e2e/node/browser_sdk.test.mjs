// End-to-end test: the AWS SDK for JavaScript v3's browser build (@aws-sdk/client-kinesis bundled by
// esbuild for the browser: FetchHttpHandler, the browser event-stream marshaller) running in headless
// Chromium (Debian's, driven by playwright-core) against the real `eddy serve`.
//
//   EDDY_BIN=build/release/eddy node --test tests/e2e/node/browser_sdk.test.mjs
//
// The bundle is built at test time into a temporary directory and served, with a small HTML page,
// by a node http server on another 127.0.0.1 port than eddy's: the page's origin differs from
// eddy's, so every call is a cross-origin fetch and CORS applies (a preflight OPTIONS for the SDK's
// POSTs with x-amz-* headers, and Access-Control-Allow-Origin on every answer, errors included).
// The SDK calls run inside the page (page.evaluate) and hand their results back to the test.
// Preflights are seen through the Chrome DevTools Protocol (Network domain), which reports them
// (Playwright's own request events do not); answers' CORS headers through Playwright's.
//
// Checks: CreateStream + waiter, PutRecord and PutRecords (binary and UTF-8 data, explicit hash
// keys), ListShards, GetShardIterator + GetRecords give back exactly the bytes put; SubscribeToShard
// works in the browser build over fetch (the event stream read from the response's ReadableStream),
// for records already there and for one put while subscribed; an error answer is readable
// cross-origin (ResourceNotFoundException); and against eddy with --access-key, the unsigned
// preflight is answered and the browser's SigV4 signatures verify (a wrong secret is refused).
//
// Every wait is bounded (startup 20 s, in-page waits 15 s, each test 60 s); the file takes ~10 s.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import esbuild from 'esbuild';
import { chromium } from 'playwright-core';

import { Server } from './eddy_server.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CHROMIUM = process.env.CHROMIUM_BIN || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const TEST_TIMEOUT_MS = 60_000;
const PAGE_WAIT_MS = 15_000;
const REGION = 'us-east-1';
const FAKE_KEYS = { accessKeyId: 'AKIDBROWSERE2E', secretAccessKey: 'browser/e2e/static/fake/secret/key/000000' };
const SEQ_RE = /^(0|[1-9]\d{0,128})$/;
const UPPER_HALF = String(1n << 127n); // an explicit hash key in the second shard of two

// The page: the bundle as an ES module, plus the helpers the tests' in-page code uses.
const PAGE_HTML = `<!doctype html>
<meta charset="utf-8"><title>eddy browser SDK e2e</title><link rel="icon" href="data:,">
<script type="module">
  import * as K from './kinesis-sdk.js';
  const b64ToBytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const bytesToB64 = (u) => { let s = ''; for (const b of u) s += String.fromCharCode(b); return btoa(s); };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // fn() until it returns a truthy value, at most ms milliseconds.
  async function until(what, fn, ms) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
      await sleep(100);
    }
  }
  const client = (endpoint, credentials) => new K.KinesisClient({ endpoint, region: '${REGION}', credentials, maxAttempts: 1 });
  // Every record of every shard, from TRIM_HORIZON until caught up, with GetShardIterator + GetRecords.
  async function readAll(c, StreamName) {
    const { Shards } = await c.send(new K.ListShardsCommand({ StreamName }));
    const out = [];
    for (const { ShardId } of Shards) {
      let { ShardIterator } = await c.send(new K.GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
      for (let i = 0; i < 50 && ShardIterator; i++) {
        const r = await c.send(new K.GetRecordsCommand({ ShardIterator, Limit: 7 }));
        for (const x of r.Records) out.push({ shardId: ShardId, seq: x.SequenceNumber, pk: x.PartitionKey, data: bytesToB64(x.Data),
          arrival: x.ApproximateArrivalTimestamp instanceof Date ? x.ApproximateArrivalTimestamp.getTime() : null });
        if (r.Records.length === 0 && r.MillisBehindLatest === 0) break;
        ShardIterator = r.NextShardIterator;
      }
    }
    return { shards: Shards.map((s) => s.ShardId), records: out };
  }
  window.e2e = { K, b64ToBytes, bytesToB64, sleep, until, client, readAll };
</script>`;

// ---------------------------------------------------------------------------------------------
// fixtures

const open = new Server(); // no keys: unsigned or any-signed requests from loopback
const keyed = new Server(['--access-key', FAKE_KEYS.accessKeyId, '--secret-key', FAKE_KEYS.secretAccessKey]);
let buildDir;
let web; // the page's origin
let pageOrigin;
let browser;

async function buildBundle(dir) {
  const entry = join(dir, 'entry.mjs');
  writeFileSync(entry, "export * from '@aws-sdk/client-kinesis';\n");
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: join(dir, 'kinesis-sdk.js'),
    bundle: true,
    platform: 'browser', // package.json "browser" fields: runtimeConfig.browser, FetchHttpHandler
    format: 'esm',
    target: 'es2022',
    nodePaths: [join(REPO, 'node_modules')],
    absWorkingDir: REPO,
    metafile: true,
    logLevel: 'silent',
  });
  assert.deepEqual(result.errors, []);
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((i) => i.includes('client-kinesis/dist-es/runtimeConfig.browser.js')), 'the browser runtime config is bundled');
  assert.ok(inputs.some((i) => i.includes('fetch-http-handler')), 'FetchHttpHandler is bundled');
  assert.ok(!inputs.some((i) => i.includes('node-http-handler')), 'no node http handler in the browser bundle');
  return join(dir, 'kinesis-sdk.js');
}

// A browser context with a page on the web origin, recording what the network did: preflights
// (CDP) and the CORS headers of eddy's answers (Playwright).
async function openPage(eddyOrigin) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = { preflights: [], posts: [], errors: [], consoleErrors: [] };
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const byId = new Map();
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.method === 'OPTIONS' && e.request.url.startsWith(eddyOrigin)) {
      const p = { url: e.request.url, headers: lower(e.request.headers), status: null, responseHeaders: null };
      byId.set(e.requestId, p);
      log.preflights.push(p);
    }
  });
  cdp.on('Network.responseReceived', (e) => {
    const p = byId.get(e.requestId);
    if (p) {
      p.status = e.response.status;
      p.responseHeaders = lower(e.response.headers);
      p.type = e.type;
    }
  });
  page.on('response', (r) => {
    if (r.url().startsWith(eddyOrigin) && r.request().method() === 'POST') {
      log.posts.push({ status: r.status(), target: r.request().headers()['x-amz-target'], headers: r.headers() });
    }
  });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') log.consoleErrors.push(m.text()); });
  await page.goto(`${pageOrigin}/`);
  await page.waitForFunction(() => window.e2e !== undefined, null, { timeout: PAGE_WAIT_MS });
  return { context, page, log };
}

const lower = (h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
const headerList = (v) => String(v ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);

// The CORS facts every page that talked to eddy must show.
function assertCors(log, what) {
  assert.ok(log.preflights.length >= 1, `${what}: the browser sent a CORS preflight to eddy`);
  for (const p of log.preflights) {
    assert.equal(p.headers['access-control-request-method'], 'POST', `${what}: preflight for POST`);
    const asked = headerList(p.headers['access-control-request-headers']);
    for (const h of ['x-amz-target', 'content-type', 'authorization', 'x-amz-date']) {
      assert.ok(asked.includes(h), `${what}: the preflight asks for ${h} (asked: ${asked})`);
    }
    assert.equal(p.headers.authorization, undefined, `${what}: the preflight is not signed`);
    assert.ok(p.status === 200 || p.status === 204, `${what}: preflight answered ${p.status}`);
    assert.equal(p.responseHeaders['access-control-allow-origin'], '*', `${what}: preflight allow-origin`);
    assert.ok(headerList(p.responseHeaders['access-control-allow-methods']).includes('post'), `${what}: preflight allows POST`);
    const allowed = headerList(p.responseHeaders['access-control-allow-headers']);
    for (const h of asked) assert.ok(allowed.includes(h), `${what}: preflight allows ${h} (allowed: ${allowed})`);
  }
  assert.ok(log.posts.length >= 1, `${what}: POSTs seen`);
  for (const r of log.posts) {
    assert.equal(r.headers['access-control-allow-origin'], '*', `${what}: ${r.target} answer (${r.status}) has Access-Control-Allow-Origin: *`);
  }
  assert.deepEqual(log.errors, [], `${what}: page errors`);
}

// ---------------------------------------------------------------------------------------------
// tests

describe('AWS SDK v3 browser build in Chromium against eddy (cross-origin)', { timeout: 180_000 }, () => {
  before(async () => {
    assert.ok(CHROMIUM, 'chromium is not installed: run `make deps` (Debian package chromium) or set CHROMIUM_BIN');
    buildDir = mkdtempSync(join(tmpdir(), 'eddy-browser-sdk-'));
    const bundle = readFileSync(await buildBundle(buildDir));
    web = http.createServer((req, res) => {
      if (req.url === '/kinesis-sdk.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
        return res.end(bundle);
      }
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(PAGE_HTML);
      }
      res.writeHead(404).end();
    });
    await new Promise((res) => web.listen(0, '127.0.0.1', res));
    pageOrigin = `http://127.0.0.1:${web.address().port}`;
    await Promise.all([open.start(), keyed.start()]);
    assert.notEqual(new URL(pageOrigin).port, String(open.port), 'the page and eddy are different origins');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await Promise.all([open.stop(), keyed.stop()]);
    web?.closeAllConnections?.();
    if (web) await new Promise((res) => web.close(res));
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  // Records to put, made here and compared here: binary, UTF-8 and sizes from 1 byte to 64 KiB.
  const STREAM = 'browser-sdk';
  const single = { data: Buffer.from([...Array(256).keys()]), pk: 'all-bytes' };
  const batch = [
    ...Array.from({ length: 16 }, (_, i) => ({ data: randomBytes(1 + i * 97), pk: `pk-${i}` })),
    { data: Buffer.from('héllo wörld ✓ 日本語 🚀', 'utf8'), pk: 'utf8' },
    { data: Buffer.from('x'), pk: 'upper', hash: UPPER_HALF },
    { data: randomBytes(64 * 1024), pk: 'big' },
    { data: Buffer.from('{"json":true}'), pk: 'json' },
  ];
  let putResults; // [{ seq, shardId }] in the order of [single, ...batch]
  let readBack; // what GetRecords gave the page

  test('CreateStream, PutRecord, PutRecords, GetShardIterator + GetRecords round-trip the exact bytes', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, log } = await openPage(open.endpoint);
    try {
      const out = await page.evaluate(async ({ endpoint, creds, stream, single, batch, waitMs }) => {
        const { K, b64ToBytes, client, readAll } = window.e2e;
        const c = client(endpoint, creds);
        await c.send(new K.CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
        await K.waitUntilStreamExists({ client: c, maxWaitTime: waitMs / 1000, minDelay: 0.25, maxDelay: 1 }, { StreamName: stream });
        const summary = (await c.send(new K.DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary;
        const one = await c.send(new K.PutRecordCommand({ StreamName: stream, PartitionKey: single.pk, Data: b64ToBytes(single.data) }));
        const many = await c.send(new K.PutRecordsCommand({
          StreamName: stream,
          Records: batch.map((r) => ({ PartitionKey: r.pk, Data: b64ToBytes(r.data), ...(r.hash ? { ExplicitHashKey: r.hash } : {}) })),
        }));
        const read = await readAll(c, stream);
        return {
          status: summary.StreamStatus, shardCount: summary.OpenShardCount,
          put: [one, ...many.Records].map((r) => ({ seq: r.SequenceNumber, shardId: r.ShardId, error: r.ErrorCode ?? null })),
          failed: many.FailedRecordCount ?? 0,
          read,
        };
      }, {
        endpoint: open.endpoint, creds: FAKE_KEYS, stream: STREAM, waitMs: PAGE_WAIT_MS,
        single: { pk: single.pk, data: single.data.toString('base64') },
        batch: batch.map((r) => ({ pk: r.pk, hash: r.hash, data: r.data.toString('base64') })),
      });

      assert.equal(out.status, 'ACTIVE');
      assert.equal(out.shardCount, 2);
      assert.equal(out.failed, 0);
      assert.equal(out.put.length, 1 + batch.length);
      for (const p of out.put) {
        assert.equal(p.error, null);
        assert.match(p.seq, SEQ_RE);
      }
      assert.equal(out.put.at(-3).shardId, 'shardId-000000000001', 'ExplicitHashKey 2^127 routes to the second shard');
      assert.deepEqual(out.read.shards, ['shardId-000000000000', 'shardId-000000000001']);
      putResults = out.put;
      readBack = out.read.records;

      // Exactly what was put: each record once, its bytes, key and shard, in sequence order per shard.
      const want = [single, ...batch].map((r, i) => ({ ...out.put[i], pk: r.pk, data: r.data.toString('base64') }));
      const bySeq = new Map(readBack.map((r) => [r.seq, r]));
      assert.equal(readBack.length, want.length, 'GetRecords gave back as many records as were put');
      assert.equal(bySeq.size, want.length, 'no record twice');
      for (const w of want) {
        const r = bySeq.get(w.seq);
        assert.ok(r, `record ${w.seq} (${w.pk}) read back`);
        assert.equal(r.shardId, w.shardId, `${w.pk}: shard`);
        assert.equal(r.pk, w.pk, `${w.pk}: partition key`);
        assert.equal(r.data, w.data, `${w.pk}: data bytes`);
        assert.ok(Number.isFinite(r.arrival), `${w.pk}: ApproximateArrivalTimestamp is a Date`);
      }
      for (const sid of out.read.shards) {
        const seqs = readBack.filter((r) => r.shardId === sid).map((r) => BigInt(r.seq));
        assert.deepEqual(seqs, [...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), `${sid}: records in sequence order`);
      }

      assertCors(log, 'round trip');
      assert.ok(log.preflights.some((p) => p.type === 'Preflight'), 'Chromium reports the OPTIONS as a CORS preflight');
      const targets = new Set(log.posts.map((p) => p.target));
      for (const op of ['CreateStream', 'DescribeStreamSummary', 'PutRecord', 'PutRecords', 'ListShards', 'GetShardIterator', 'GetRecords']) {
        assert.ok(targets.has(`Kinesis_20131202.${op}`), `${op} went from the browser to eddy`);
      }
      assert.ok(log.posts.every((p) => p.status === 200), `all answers 200: ${log.posts.map((p) => `${p.target} ${p.status}`)}`);
      assert.deepEqual(log.consoleErrors, []);
    } finally {
      await context.close();
    }
  });

  test('SubscribeToShard works in the browser build (event stream over fetch): records present and put while subscribed', { timeout: TEST_TIMEOUT_MS }, async () => {
    assert.ok(readBack, 'needs the stream of the previous test');
    const { context, page, log } = await openPage(open.endpoint);
    const live = { data: randomBytes(300), pk: 'live' };
    try {
      const out = await page.evaluate(async ({ endpoint, creds, stream, live, waitMs, expected }) => {
        const { K, b64ToBytes, bytesToB64, client, until } = window.e2e;
        const c = client(endpoint, creds);
        const { StreamDescriptionSummary: s } = await c.send(new K.DescribeStreamSummaryCommand({ StreamName: stream }));
        const { Consumer } = await c.send(new K.RegisterStreamConsumerCommand({ StreamARN: s.StreamARN, ConsumerName: 'browser' }));
        await until('consumer ACTIVE', async () => (await c.send(new K.DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN })))
          .ConsumerDescription.ConsumerStatus === 'ACTIVE', waitMs);
        const result = {};
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), waitMs);
        try {
          // One subscription per shard, read concurrently; the live record goes to shard 1 once both
          // have caught up.
          const got = { 'shardId-000000000000': [], 'shardId-000000000001': [] };
          const events = { 'shardId-000000000000': 0, 'shardId-000000000001': 0 };
          const subscribe = async (ShardId, want) => {
            const out = await c.send(new K.SubscribeToShardCommand({ ConsumerARN: Consumer.ConsumerARN, ShardId, StartingPosition: { Type: 'TRIM_HORIZON' } }), { abortSignal: abort.signal });
            for await (const ev of out.EventStream) {
              if (!ev.SubscribeToShardEvent) throw new Error('unexpected event ' + Object.keys(ev));
              events[ShardId]++;
              for (const r of ev.SubscribeToShardEvent.Records) got[ShardId].push({ seq: r.SequenceNumber, pk: r.PartitionKey, data: bytesToB64(r.Data) });
              if (got[ShardId].length >= want()) return ev.SubscribeToShardEvent.ContinuationSequenceNumber;
            }
            throw new Error(ShardId + ': the event stream ended');
          };
          const count = (sid) => expected.filter((r) => r.shardId === sid).length;
          const s0 = subscribe('shardId-000000000000', () => count('shardId-000000000000'));
          const s1 = subscribe('shardId-000000000001', () => count('shardId-000000000001') + 1);
          await until('caught up on shard 1', () => got['shardId-000000000001'].length >= count('shardId-000000000001'), waitMs);
          const put = await c.send(new K.PutRecordCommand({ StreamName: stream, PartitionKey: live.pk, Data: b64ToBytes(live.data), ExplicitHashKey: live.hash }));
          result.continuation = await Promise.all([s0, s1]);
          result.livePut = { seq: put.SequenceNumber, shardId: put.ShardId };
          result.got = got;
          result.events = events;
        } finally {
          clearTimeout(timer);
          abort.abort(); // ends both fetches
        }
        return result;
      }, {
        endpoint: open.endpoint, creds: FAKE_KEYS, stream: STREAM, waitMs: PAGE_WAIT_MS, expected: readBack,
        live: { pk: live.pk, data: live.data.toString('base64'), hash: UPPER_HALF },
      });

      assert.equal(out.livePut.shardId, 'shardId-000000000001');
      for (const sid of ['shardId-000000000000', 'shardId-000000000001']) {
        const want = readBack.filter((r) => r.shardId === sid).map(({ seq, pk, data }) => ({ seq, pk, data }));
        if (sid === 'shardId-000000000001') want.push({ seq: out.livePut.seq, pk: live.pk, data: live.data.toString('base64') });
        assert.deepEqual(out.got[sid], want, `${sid}: SubscribeToShard delivered exactly the records, in order`);
        assert.ok(out.events[sid] >= 1, `${sid}: events`);
      }
      assert.equal(out.continuation[1], out.livePut.seq, 'ContinuationSequenceNumber is the last record delivered');
      const subscribes = log.posts.filter((p) => p.target === 'Kinesis_20131202.SubscribeToShard');
      assert.equal(subscribes.length, 2);
      for (const s of subscribes) {
        assert.equal(s.status, 200);
        assert.equal(s.headers['content-type'], 'application/vnd.amazon.eventstream');
      }
      assertCors(log, 'SubscribeToShard');
    } finally {
      await context.close();
    }
  });

  test('an error answer is readable cross-origin: ResourceNotFoundException with its message', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, log } = await openPage(open.endpoint);
    try {
      const err = await page.evaluate(async ({ endpoint, creds }) => {
        const { K, client } = window.e2e;
        try {
          await client(endpoint, creds).send(new K.DescribeStreamSummaryCommand({ StreamName: 'no-such-stream' }));
          return null;
        } catch (e) {
          return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message, requestId: e.$metadata?.requestId ?? null };
        }
      }, { endpoint: open.endpoint, creds: FAKE_KEYS });
      assert.ok(err, 'DescribeStreamSummary of a missing stream must fail');
      assert.equal(err.name, 'ResourceNotFoundException');
      assert.equal(err.status, 400);
      assert.match(err.message, /no-such-stream/);
      assert.ok(err.requestId, 'x-amzn-RequestId is exposed to the page (Access-Control-Expose-Headers)');
      assertCors(log, 'error');
    } finally {
      await context.close();
    }
  });

  test('with --access-key: the unsigned preflight is answered and the browser SDK\'s SigV4 signatures verify', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, log } = await openPage(keyed.endpoint);
    try {
      const out = await page.evaluate(async ({ endpoint, creds, waitMs }) => {
        const { K, b64ToBytes, bytesToB64, client } = window.e2e;
        const c = client(endpoint, creds);
        const StreamName = 'browser-signed';
        await c.send(new K.CreateStreamCommand({ StreamName, ShardCount: 1 }));
        await K.waitUntilStreamExists({ client: c, maxWaitTime: waitMs / 1000, minDelay: 0.25, maxDelay: 1 }, { StreamName });
        const put = await c.send(new K.PutRecordsCommand({ StreamName, Records: [0, 1, 2].map((i) => ({ PartitionKey: `k${i}`, Data: b64ToBytes(btoa('signed-' + i)) })) }));
        const { ShardIterator } = await c.send(new K.GetShardIteratorCommand({ StreamName, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
        const got = await c.send(new K.GetRecordsCommand({ ShardIterator }));
        let wrong = null;
        try {
          await client(endpoint, { ...creds, secretAccessKey: creds.secretAccessKey + 'x' }).send(new K.ListStreamsCommand({}));
        } catch (e) {
          wrong = { name: e.name, status: e.$metadata?.httpStatusCode };
        }
        return { put: put.Records.map((r) => r.SequenceNumber), got: got.Records.map((r) => ({ seq: r.SequenceNumber, data: atob(bytesToB64(r.Data)) })), wrong };
      }, { endpoint: keyed.endpoint, creds: FAKE_KEYS, waitMs: PAGE_WAIT_MS });
      assert.deepEqual(out.got, out.put.map((seq, i) => ({ seq, data: `signed-${i}` })));
      assert.ok(out.wrong, 'a request signed with the wrong secret must be refused');
      assert.equal(out.wrong.status, 400, `wrong secret: ${JSON.stringify(out.wrong)}`);
      assert.equal(out.wrong.name, 'InvalidSignatureException');
      assertCors(log, 'signed');
    } finally {
      await context.close();
    }
  });
});
