// End-to-end test of the dashboard for whoever runs the server (issue 26, part 6): `eddy serve`
// with SigV4 keys and its pipeline given as --apply (a stream -> a KDA application writing revenue
// per store per 5 s window -> a stream and a delivery stream), `eddy gen sales` signed with the key,
// and Debian's chromium driven headless by playwright-core.
//
//   EDDY_BIN=build/release/eddy node --test tests/e2e/dashboard/operator.test.mjs
//
// Checks: without credentials every page is refused (401) while /health and /ready answer; with
// them (HTTP Basic, as a browser asks) the overview's server panel shows the version and commit of
// /health, the uptime, readiness, each service's state and the data directory's size and disk;
// every page (overview, stream, application, delivery stream) renders without an error; a chart
// holding a single window has a time axis of minutes, not years.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ARTIFACTS = join(process.env.EDDY_ARTIFACTS || join(REPO, 'build', 'artifacts'), 'dashboard');
const CHROMIUM = process.env.CHROMIUM_BIN || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const KEY = 'AKIDOPERATOR';
const SECRET = 'operator-secret-key/0123456789';

const PIPELINE = `name: operator
streams:
  sales: {shards: 1}
  revenue: {shards: 1}
delivery_streams:
  revenue-files:
    destination:
      bucket: results
      prefix: revenue/
      buffering: {size_mb: 1, interval_seconds: 60}
applications:
  revenue:
    input:
      stream: sales
      name_prefix: SALES
      schema:
        columns:
          - {name: store_id, type: VARCHAR(16)}
          - {name: sales, type: REAL}
    sql: |
      CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "revenue" REAL, "timestamp" TIMESTAMP);
      CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
      SELECT STREAM "store_id", SUM("sales") AS "revenue", ROWTIME AS "timestamp"
      FROM "SALES_001" GROUP BY STEP("SALES_001".ROWTIME BY INTERVAL '5' SECOND), "store_id";
    outputs:
      - {name: DEST, stream: revenue}
      - {name: DEST, delivery_stream: revenue-files}
`;

function eddyBin() {
  const bin = process.env.EDDY_BIN || [join(REPO, 'build/release/eddy'), join(REPO, 'build/dev/eddy')].find(existsSync);
  if (!bin || !existsSync(bin)) throw new Error('set EDDY_BIN to the eddy binary');
  return resolve(bin);
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

let dir, proc, url, log = '', browser;

before(async () => {
  assert.ok(CHROMIUM, 'chromium is not installed: run `make deps` (Debian package chromium) or set CHROMIUM_BIN');
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'eddy-operator-'));
  writeFileSync(join(dir, 'pipeline.yaml'), PIPELINE);
  proc = spawn(eddyBin(), ['serve', '--port', '0', '--data-dir', join(dir, 'data'), '--access-key', KEY,
                           '--secret-key', SECRET, '--apply', join(dir, 'pipeline.yaml')],
               { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
  proc.stdout.on('data', (d) => { log += d; });
  const port = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('eddy did not start within 20 s:\n' + log)), 20_000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); res(Number(m[1])); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); rej(new Error(`eddy exited (${code}):\n${log}`)); });
  });
  url = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  if (browser) await browser.close();
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(5000, undefined, { ref: false })]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function probe(path) {
  const r = await fetch(url + path, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: r.status === 401 ? null : await r.json() };
}

test('with keys on, the dashboard shows the server and every page to whoever has a key', { timeout: 180_000 }, async () => {
  const ready = await until('the --apply pipeline and /ready', async () => {
    const p = await probe('/ready');
    return p.status === 200 && p.body.init === 'done' ? p.body : false;
  }, 60_000);
  const health = (await probe('/health')).body;
  assert.equal(health.version, ready.version);

  // No credentials: the pages and their data are refused; the probes are not.
  for (const path of ['/', '/dashboard/api/overview', '/metrics', '/eddy/v1/applications/revenue/errors']) {
    const r = await fetch(url + path, { signal: AbortSignal.timeout(10_000) });
    assert.equal(r.status, 401, path);
  }
  const anonymous = await browser.newContext();
  const refused = await anonymous.newPage();
  // Headless chromium has no one to ask for the credentials the 401 asks for: it gives up.
  const outcome = await refused.goto(url + '/').then((r) => r.status(), (e) => e.message);
  assert.ok(outcome === 401 || /ERR_INVALID_AUTH_CREDENTIALS/.test(outcome), String(outcome));
  await anonymous.close();

  const context = await browser.newContext({ httpCredentials: { username: KEY, password: SECRET },
                                             viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  await page.goto(url + '/');
  await until('the server panel', async () => (await page.textContent('#server-version')).includes(health.commit), 20_000);
  assert.equal(await page.textContent('#server-version'), `${health.version} (${health.commit})`);
  assert.equal(await page.textContent('#server-ready'), 'yes');
  assert.equal(await page.textContent('#server-svc-cluster'), 'disabled');
  assert.equal(await page.textContent('#server-svc-applications'), 'running');
  assert.match(await page.textContent('#server-uptime'), /^\d+ (s|min)/);
  assert.match(await page.textContent('#server-data'), new RegExp(join(dir, 'data').replace(/[/.]/g, '\\$&') + ': [\\d.,]+ (B|KiB|MiB|GiB) in [\\d,]+ files'));
  assert.match(await page.textContent('#server-disk'), /of .* \(\d+ % free\)/);
  await until('the pipeline in the overview', async () =>
    (await page.$('tr[data-stream="sales"]')) && (await page.$('tr[data-application="revenue"]')) &&
    (await page.$('tr[data-delivery-stream="revenue-files"]')), 20_000);

  // Records, signed with the key; the application page charts the first window alone first.
  await page.goto(url + '/#/applications/revenue');
  const gen = spawn(eddyBin(), ['gen', 'sales', '--stream', 'sales', '--rate', '40', '--duration', '3',
                                '--endpoint', url],
                    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AWS_ACCESS_KEY_ID: KEY, AWS_SECRET_ACCESS_KEY: SECRET } });
  let genErr = '';
  gen.stderr.on('data', (d) => { genErr += d; });
  const code = await Promise.race([new Promise((r) => gen.once('exit', r)), sleep(60_000, 'timeout', { ref: false })]);
  assert.equal(code, 0, genErr);
  await until('a window on the application page', async () => Number(await page.getAttribute('#latest-title', 'data-window-ms')) > 0, 30_000);
  const span = await page.evaluate(() => {
    const plot = document.querySelector('#lines-chart')._plot;
    return { min: plot.scales.x.min, max: plot.scales.x.max, points: plot.data[0].length };
  });
  assert.ok(span.max - span.min < 24 * 3600, `a time axis of ${span.max - span.min} s for ${span.points} window(s)`);
  assert.ok(span.max - span.min >= 60, `a time axis of ${span.max - span.min} s: too short to read`);
  await page.screenshot({ path: join(ARTIFACTS, 'operator-application.png'), fullPage: true });

  for (const [hash, selector] of [['#/streams/sales', 'main h2'], ['#/delivery-streams/revenue-files', 'main h2'],
                                  ['#/', '#server']]) {
    await page.goto(url + '/' + hash);
    await page.waitForSelector(selector, { timeout: 10_000 });
  }
  await page.screenshot({ path: join(ARTIFACTS, 'operator-overview.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});
