// End-to-end test of the live dashboard: the real `eddy serve`, a sales pipeline (stream `sales` ->
// KDA application summing sales per store and category per 10 s window -> stream `sales-out`),
// `eddy gen sales` as the producer, and Debian's chromium driven headless by playwright-core.
//
//   EDDY_BIN=build/dev/eddy node --test tests/e2e/dashboard/
//
// Checks: the overview lists the pipeline live; on the application page the bars' values for
// store_1..store_5 (the table under the chart) equal the latest window's rows read from the output
// stream with the Kinesis API; the category drill-down's totals (all stores, then one store) equal
// the sums of those rows; the page logs no errors. Screenshots go to $EDDY_ARTIFACTS/dashboard
// (default build/artifacts/dashboard). Every wait is bounded.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ARTIFACTS = join(process.env.EDDY_ARTIFACTS || join(REPO, 'build', 'artifacts'), 'dashboard');
const CHROMIUM = process.env.CHROMIUM_BIN || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const STORES = ['store_1', 'store_2', 'store_3', 'store_4', 'store_5'];
const ACCOUNT_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/';
const ROLE = 'arn:aws:iam::000000000000:role/any';

const SQL = `CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "category" VARCHAR(16), "revenue" DOUBLE, "timestamp" TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
SELECT STREAM "store_id", "category", SUM("sales") AS "revenue", ROWTIME AS "timestamp"
FROM "SALES_001"
GROUP BY STEP("SALES_001".ROWTIME BY INTERVAL '10' SECOND), "store_id", "category";`;

function eddyBin() {
  const bin = process.env.EDDY_BIN || [join(REPO, 'build/release/eddy'), join(REPO, 'build/dev/eddy')].find(existsSync);
  if (!bin || !existsSync(bin)) throw new Error('set EDDY_BIN to the eddy binary');
  return resolve(bin);
}

class Server {
  async start() {
    this.dataDir = mkdtempSync(join(tmpdir(), 'eddy-dashboard-'));
    this.proc = spawn(eddyBin(), ['serve', '--port', '0', '--data-dir', this.dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.log = '';
    this.port = await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error('eddy did not start within 20 s:\n' + this.log)), 20_000);
      this.proc.stderr.setEncoding('utf8');
      this.proc.stderr.on('data', (d) => {
        this.log += d;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(this.log);
        if (m) { clearTimeout(timer); res(Number(m[1])); }
      });
      this.proc.once('exit', (code) => { clearTimeout(timer); rej(new Error(`eddy exited (${code}):\n${this.log}`)); });
    });
    this.url = `http://127.0.0.1:${this.port}`;
  }

  async call(target, body) {
    const r = await fetch(this.url + '/', {
      method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(15_000),
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': target },
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${target}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }

  kinesis(op, body) { return this.call('Kinesis_20131202.' + op, body); }
  analytics(op, body) { return this.call('KinesisAnalytics_20150814.' + op, body); }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      await Promise.race([new Promise((r) => this.proc.once('exit', r)), sleep(5000, undefined, { ref: false })]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// Every row of a stream, read with GetShardIterator/GetRecords (not through the dashboard).
async function readRows(server, stream) {
  const rows = [];
  const { Shards } = await server.kinesis('ListShards', { StreamName: stream });
  for (const shard of Shards) {
    let { ShardIterator: it } = await server.kinesis('GetShardIterator',
      { StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' });
    for (let i = 0; i < 100 && it; i++) {
      const page = await server.kinesis('GetRecords', { ShardIterator: it, Limit: 10000 });
      for (const r of page.Records) rows.push(JSON.parse(Buffer.from(r.Data, 'base64').toString('utf8')));
      if (!page.Records.length && page.MillisBehindLatest === 0) break;
      it = page.NextShardIterator;
    }
  }
  return rows;
}

async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ''));
}

const server = new Server();
let browser;

before(async () => {
  assert.ok(CHROMIUM, 'chromium is not installed: run `make deps` (Debian package chromium) or set CHROMIUM_BIN');
  mkdirSync(ARTIFACTS, { recursive: true });
  await server.start();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  if (browser) await browser.close();
  await server.stop();
});

test('the dashboard shows the sales pipeline live: bars per store and the category drill-down equal the output stream', { timeout: 180_000 }, async () => {
  await server.kinesis('CreateStream', { StreamName: 'sales', ShardCount: 2 });
  await server.kinesis('CreateStream', { StreamName: 'sales-out', ShardCount: 1 });
  await until('streams ACTIVE', async () => {
    for (const s of ['sales', 'sales-out']) {
      const d = await server.kinesis('DescribeStreamSummary', { StreamName: s });
      if (d.StreamDescriptionSummary.StreamStatus !== 'ACTIVE') return false;
    }
    return true;
  }, 20_000);
  await server.analytics('CreateApplication', {
    ApplicationName: 'sales-by-category', ApplicationCode: SQL,
    Inputs: [{ NamePrefix: 'SALES', KinesisStreamsInput: { ResourceARN: ACCOUNT_ARN + 'sales', RoleARN: ROLE },
               InputSchema: { RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
                              RecordColumns: [['store_id', 'VARCHAR(16)'], ['category', 'VARCHAR(16)'], ['evnt_time', 'TIMESTAMP'], ['sales', 'REAL']]
                                .map(([n, t]) => ({ Name: n, Mapping: '$.' + n, SqlType: t })) } }],
    Outputs: [{ Name: 'DEST', KinesisStreamsOutput: { ResourceARN: ACCOUNT_ARN + 'sales-out', RoleARN: ROLE },
                DestinationSchema: { RecordFormatType: 'JSON' } }],
  });
  const detail = await server.analytics('DescribeApplication', { ApplicationName: 'sales-by-category' });
  await server.analytics('StartApplication', { ApplicationName: 'sales-by-category', InputConfigurations: [
    { Id: detail.ApplicationDetail.InputDescriptions[0].InputId, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }] });

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('requestfailed', (r) => { if (!r.url().includes('/dashboard/api/events')) problems.push('request failed: ' + r.url()); });

  // The overview, live: the application appears RUNNING, the streams listed.
  await page.goto(server.url + '/');
  await page.waitForSelector('tr[data-application="sales-by-category"]', { timeout: 15_000 });
  await page.waitForSelector('tr[data-stream="sales"]', { timeout: 15_000 });

  // The producer: about 12 s of sales at 100 records/s, so at least one whole 10 s window. While
  // it runs, the overview shows the stream's incoming records/s, pushed without a reload.
  const gen = spawn(eddyBin(), ['gen', 'sales', '--stream', 'sales', '--rate', '100', '--duration', '12',
                                '--endpoint', server.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let genOut = '', genErr = '';
  gen.stdout.on('data', (d) => { genOut += d; });
  gen.stderr.on('data', (d) => { genErr += d; });
  const genDone = new Promise((res) => gen.once('exit', res));
  await until('the overview to show records/s for stream sales', async () =>
    /[1-9][\d,]*(\.\d)?\/s/.test(await page.textContent('tr[data-stream="sales"]')), 15_000);
  const code = await Promise.race([genDone, sleep(60_000, 'timeout', { ref: false })]);
  assert.equal(code, 0, genErr);
  const summary = JSON.parse(genOut.trim().split('\n').pop());
  assert.ok(summary.record_count >= 1000, genOut);
  // The application's watermark lag: a figure in ms or s once it has read records.
  await until('the overview to show the watermark lag of sales-by-category', async () =>
    /^[\d,.]+ m?s$/.test((await page.textContent('tr[data-application="sales-by-category"] td:nth-child(8)')).trim()), 15_000);
  await page.screenshot({ path: join(ARTIFACTS, 'overview.png'), fullPage: true });

  // Wait until every window with records has closed (the wall clock passes the last window's end,
  // plus the second eddy allows) and the output stops growing.
  const lastEnd = Math.ceil(Date.now() / 10_000) * 10_000;
  await sleep(Math.max(0, lastEnd + 2000 - Date.now()));
  let rows = [];
  await until('the last window to close', async () => {
    const now = await readRows(server, 'sales-out');
    const stable = now.length > 0 && now.length === rows.length;
    rows = now;
    return stable && (await sleep(1500), (await readRows(server, 'sales-out')).length === now.length);
  }, 40_000);
  const timeOf = (r) => Date.parse(r.timestamp.replace(' ', 'T') + 'Z');
  const latest = Math.max(...rows.map(timeOf));
  assert.ok(new Set(rows.map(timeOf)).size >= 2, '12 s of sales span at least two 10 s windows');
  const expectBars = {};
  for (const r of rows.filter((r) => timeOf(r) === latest)) expectBars[r.store_id] = (expectBars[r.store_id] || 0) + r.revenue;
  // The sales stop at a moment of their own: the last window may be a sliver in which not every
  // store sold. The bars must show exactly the stores (and sums) of the output's latest window.
  const latestStores = Object.keys(expectBars).sort();
  assert.ok(latestStores.length >= 1 && latestStores.every((s) => STORES.includes(s)), 'the latest window has store rows');

  await page.goto(server.url + '/#/applications/sales-by-category');
  await page.waitForSelector('#latest-table tr[data-key]', { timeout: 20_000 });
  await until('the bars to show the latest window', async () =>
    Number(await page.getAttribute('#latest-title', 'data-window-ms')) === latest, 15_000);
  const bars = await page.$$eval('#latest-table tr[data-key]', (trs) =>
    Object.fromEntries(trs.map((tr) => [tr.dataset.key, Number(tr.querySelector('[data-value]').dataset.value)])));
  assert.deepEqual(Object.keys(bars).sort(), latestStores);
  for (const s of latestStores) assert.ok(Math.abs(bars[s] - expectBars[s]) <= 1e-6 * Math.max(1, expectBars[s]), `${s}: ${bars[s]} != ${expectBars[s]}`);
  const canvases = await page.$$('#latest-chart canvas');
  assert.ok(canvases.length >= 1, 'the bar chart is drawn');
  assert.ok((await page.$$('#lines-chart canvas')).length >= 1, 'the last hour is drawn as lines');
  await page.screenshot({ path: join(ARTIFACTS, 'application.png'), fullPage: true });

  // The category drill-down: totals of the day per category, for all stores and for one store.
  const day = new Date(latest).toISOString().slice(0, 10);
  const totals = (store) => {
    const out = {};
    for (const r of rows) {
      if (new Date(timeOf(r)).toISOString().slice(0, 10) !== day || (store && r.store_id !== store)) continue;
      out[r.category] = (out[r.category] || 0) + r.revenue;
    }
    return out;
  };
  const drill = () => page.$$eval('#drill-table tr[data-key]', (trs) =>
    Object.fromEntries(trs.map((tr) => [tr.dataset.key, Number(tr.querySelector('[data-value]').dataset.value)])));
  const near = (got, want) => Object.keys(want).length === Object.keys(got).length &&
    Object.entries(want).every(([k, v]) => Math.abs(got[k] - v) <= 1e-6 * Math.max(1, v));
  const all = totals('');
  assert.deepEqual(Object.keys(all).sort(), ['Books', 'Electronics']);
  await until('drill-down totals for all stores', async () => near(await drill(), all), 10_000);
  await page.selectOption('#drill-filter', 'store_3');
  const store3 = totals('store_3');
  await until('drill-down totals for store_3', async () => near(await drill(), store3), 10_000);
  assert.match(await page.textContent('#drill-title'), /store_3/);
  await page.screenshot({ path: join(ARTIFACTS, 'drill-down-store_3.png'), fullPage: true });

  // The SQL is shown; the page logged no errors.
  assert.match(await page.textContent('#app-sql'), /GROUP BY STEP/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('trades: max price per ticker per window as lines, the latest window as bars', { timeout: 120_000 }, async () => {
  const TICKERS = ['AMZN', 'AZRE', 'BABA', 'GOOG', 'ORCL'];
  for (const s of ['trades', 'max-prices']) await server.kinesis('CreateStream', { StreamName: s, ShardCount: 1 });
  await until('streams ACTIVE', async () => {
    for (const s of ['trades', 'max-prices']) {
      const d = await server.kinesis('DescribeStreamSummary', { StreamName: s });
      if (d.StreamDescriptionSummary.StreamStatus !== 'ACTIVE') return false;
    }
    return true;
  }, 20_000);
  await server.analytics('CreateApplication', { ApplicationName: 'trades-max', ApplicationCode: `
CREATE TABLE trades (EVENT_TIME TIMESTAMP(3), TICKER STRING, PRICE DOUBLE,
  WATERMARK FOR EVENT_TIME AS EVENT_TIME - INTERVAL '1' SECOND)
  WITH ('connector' = 'kinesis', 'stream' = 'trades', 'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');
CREATE TABLE max_prices (TICKER STRING, MAX_PRICE DOUBLE, WINDOW_END TIMESTAMP(3))
  WITH ('connector' = 'kinesis', 'stream' = 'max-prices', 'format' = 'json');
INSERT INTO max_prices
SELECT TICKER, MAX(PRICE), window_end FROM TABLE(TUMBLE(TABLE trades, DESCRIPTOR(EVENT_TIME), INTERVAL '2' SECOND))
GROUP BY window_start, window_end, TICKER;` });
  await server.analytics('StartApplication', { ApplicationName: 'trades-max', InputConfigurations: [
    { Id: '1.1', InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }] });

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  await page.goto(server.url + '/#/applications/trades-max');

  const gen = spawn(eddyBin(), ['gen', 'trades', '--stream', 'trades', '--rate', '50', '--duration', '8',
                                '--endpoint', server.url], { stdio: ['ignore', 'ignore', 'pipe'] });
  let genErr = '';
  gen.stderr.on('data', (d) => { genErr += d; });
  const code = await Promise.race([new Promise((r) => gen.once('exit', r)), sleep(60_000, 'timeout', { ref: false })]);
  assert.equal(code, 0, genErr);
  let rows = [];
  await until('the max prices to stop growing', async () => {
    const now = await readRows(server, 'max-prices');
    const stable = now.length > 0 && now.length === rows.length;
    rows = now;
    return stable && (await sleep(1500), (await readRows(server, 'max-prices')).length === now.length);
  }, 30_000);
  const timeOf = (r) => Date.parse(r.WINDOW_END.replace(' ', 'T') + 'Z');
  const latest = Math.max(...rows.map(timeOf));
  assert.ok(new Set(rows.map(timeOf)).size >= 2, 'several windows fired');
  const expectBars = Object.fromEntries(rows.filter((r) => timeOf(r) === latest).map((r) => [r.TICKER, r.MAX_PRICE]));

  await until('the latest window on the page', async () =>
    Number(await page.getAttribute('#latest-title', 'data-window-ms')) === latest, 20_000);
  const bars = await page.$$eval('#latest-table tr[data-key]', (trs) =>
    Object.fromEntries(trs.map((tr) => [tr.dataset.key, Number(tr.querySelector('[data-value]').dataset.value)])));
  assert.deepEqual(bars, expectBars);
  assert.match(await page.textContent('#lines-title'), /MAX_PRICE per TICKER per window/);
  const series = await page.$$eval('#lines-chart .u-legend .u-series .u-label', (els) => els.map((e) => e.textContent));
  assert.deepEqual(series.filter((s) => TICKERS.includes(s)).sort(), Object.keys(expectBars).sort());
  await page.screenshot({ path: join(ARTIFACTS, 'trades.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});
