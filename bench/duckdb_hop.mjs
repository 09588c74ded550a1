// The trades HOP query (max price per ticker per sliding window on event time) as a DuckDB batch
// query, for bench/flink_windows.sh.
//
//   EDDY_BENCH_DUCKDB_DIR=DIR node bench/duckdb_hop.mjs TRADES.ndjson OUT.ndjson SLIDE_S SIZE_S [THREADS]
//
// Each trade is expanded into the windows that contain it (starts k*slide with start <= ts < start +
// size), then grouped; one NDJSON line per (ticker, window) as `eddy sql run` prints the Flink
// query's sink: {"TICKER", "MAX_PRICE", "WINDOW_END": "yyyy-MM-dd HH:mm:ss.SSS"}. The timed part is
// the query until every row is in JavaScript. Prints `DUCKDB seconds=... rows=... version=...`.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const duckdbDir = process.env.EDDY_BENCH_DUCKDB_DIR;
const { DuckDBInstance } = duckdbDir
  ? createRequire(join(duckdbDir, 'noop.js'))('@duckdb/node-api')
  : await import('@duckdb/node-api');

const [input, output, slideArg, sizeArg, threadsArg] = process.argv.slice(2);
if (!input || !output || !slideArg || !sizeArg) {
  console.error('usage: node bench/duckdb_hop.mjs TRADES.ndjson OUT.ndjson SLIDE_S SIZE_S [THREADS]');
  process.exit(2);
}
const slide = Number.parseInt(slideArg, 10) * 1000;
const size = Number.parseInt(sizeArg, 10) * 1000;
const threads = Number.parseInt(threadsArg ?? '1', 10);
const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run(`SET threads = ${threads}`);
await conn.run('SET preserve_insertion_order = false');
const version = (await conn.runAndReadAll('SELECT version() AS v')).getRowObjects()[0].v;

const query = `
  WITH t AS (
    SELECT TICKER, PRICE, epoch_ms(strptime(EVENT_TIME, '%Y-%m-%d %H:%M:%S.%g')) AS ts
    FROM read_ndjson(${sqlString(input)}, columns = {EVENT_TIME: 'VARCHAR', TICKER: 'VARCHAR', PRICE: 'DOUBLE'},
                     format = 'newline_delimited'))
  SELECT TICKER, MAX(PRICE) AS mx, strftime(epoch_ms(ws + ${size}), '%Y-%m-%d %H:%M:%S.%g') AS we
  FROM (SELECT TICKER, PRICE,
               UNNEST(generate_series(((ts - ${size}) // ${slide} + 1) * ${slide}, (ts // ${slide}) * ${slide}, ${slide})) AS ws
        FROM t)
  GROUP BY TICKER, ws`;

const t0 = performance.now();
const reader = await conn.runAndReadAll(query);
const rows = reader.getRows();
const seconds = (performance.now() - t0) / 1000;
writeFileSync(output, rows.map(([t, mx, we]) => JSON.stringify({ TICKER: t, MAX_PRICE: Number(mx), WINDOW_END: we })).join('\n') + '\n');
console.log(`DUCKDB seconds=${seconds.toFixed(3)} rows=${rows.length} version=${version} threads=${threads}`);
