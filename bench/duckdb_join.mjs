// The joins of bench/join_vs_duckdb.sh as DuckDB batch queries, and the checks of both sides' output.
//
//   EDDY_BENCH_DUCKDB_DIR=DIR node bench/duckdb_join.mjs ref TRADES.ndjson TICKERS.csv OUT.ndjson [THREADS]
//   EDDY_BENCH_DUCKDB_DIR=DIR node bench/duckdb_join.mjs stream ORDERS.ndjson OUT.ndjson [THREADS]
//   EDDY_BENCH_DUCKDB_DIR=DIR node bench/duckdb_join.mjs check-ref OUT.ndjson
//   EDDY_BENCH_DUCKDB_DIR=DIR node bench/duckdb_join.mjs check-stream OUT.ndjson
//
// ref:    trades (read_ndjson) JOIN tickers (read_csv) ON ticker, written as NDJSON
//         {"ticker", "company", "price"} with COPY ... (FORMAT json), like `eddy sql run` prints them.
// stream: orders JOIN shipments of the same file ON orderid AND the shipment's time BETWEEN the
//         order's and the order's + 1 minute (the one-minute RANGE window on orders in eddy's SQL),
//         written as {"orderid", "ordertime", "shiptime"}.
// THREADS defaults to 1 (SET threads=1). Prints `DUCKDB seconds=... rows=... version=... threads=...`;
// seconds is the query (COPY) alone; the benchmark times the whole process as it does eddy's.
// check-ref / check-stream read an output file (eddy's or DuckDB's) and print
// `CHECK rows=... sum=...`: for ref the sum of price in cents (an exact integer) and its value; for
// stream the sum of orderid and of shiptime - ordertime in ms. Not timed.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const duckdbDir = process.env.EDDY_BENCH_DUCKDB_DIR;
const { DuckDBInstance } = duckdbDir
  ? createRequire(join(duckdbDir, 'noop.js'))('@duckdb/node-api')
  : await import('@duckdb/node-api');

const usage = () => {
  console.error('usage: node bench/duckdb_join.mjs ref TRADES TICKERS OUT [THREADS] | stream ORDERS OUT [THREADS] | check-ref OUT | check-stream OUT');
  process.exit(2);
};
const [mode, ...args] = process.argv.slice(2);
const q = (s) => `'${s.replaceAll("'", "''")}'`;

let query, threads = 1;
if (mode === 'ref') {
  const [trades, tickers, out, t] = args;
  if (!trades || !tickers || !out) usage();
  threads = Number.parseInt(t ?? '1', 10);
  query = `
    COPY (
      SELECT s.ticker, t.company, s.price
      FROM read_ndjson(${q(trades)}, columns = {ticker: 'VARCHAR', price: 'DOUBLE', qty: 'INTEGER'},
                       format = 'newline_delimited') AS s
      JOIN read_csv(${q(tickers)}, header = false, delim = ',', quote = '',
                    columns = {ticker: 'VARCHAR', company: 'VARCHAR', sector: 'VARCHAR'}) AS t
        ON s.ticker = t.ticker
    ) TO ${q(out)} (FORMAT json)`;
} else if (mode === 'stream') {
  const [orders, out, t] = args;
  if (!orders || !out) usage();
  threads = Number.parseInt(t ?? '1', 10);
  query = `
    COPY (
      WITH src AS (
        SELECT epoch_ms("at") AS t, kind, orderid
        FROM read_ndjson(${q(orders)}, columns = {"at": 'BIGINT', kind: 'VARCHAR', orderid: 'INTEGER'},
                         format = 'newline_delimited'))
      SELECT s.orderid,
             strftime(o.t, '%Y-%m-%d %H:%M:%S.%g') AS ordertime,
             strftime(s.t, '%Y-%m-%d %H:%M:%S.%g') AS shiptime
      FROM src AS o JOIN src AS s
        ON o.orderid = s.orderid AND s.t BETWEEN o.t AND o.t + INTERVAL 1 MINUTE
      WHERE o.kind = 'order' AND s.kind = 'shipment'
    ) TO ${q(out)} (FORMAT json)`;
} else if (mode === 'check-ref' || mode === 'check-stream') {
  if (!args[0]) usage();
  threads = 2;
  query = mode === 'check-ref'
    ? `SELECT count(*) AS rows, sum(round(price * 100)::HUGEINT) AS cents
       FROM read_ndjson(${q(args[0])}, columns = {ticker: 'VARCHAR', company: 'VARCHAR', price: 'DOUBLE'})`
    : `SELECT count(*) AS rows, sum(orderid::HUGEINT) AS ids,
              sum(epoch_ms(shiptime::TIMESTAMP) - epoch_ms(ordertime::TIMESTAMP))::HUGEINT AS delay_ms
       FROM read_ndjson(${q(args[0])}, columns = {orderid: 'BIGINT', ordertime: 'VARCHAR', shiptime: 'VARCHAR'})`;
} else {
  usage();
}

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run(`SET threads = ${threads}`);
await conn.run('SET preserve_insertion_order = false');
const version = (await conn.runAndReadAll('SELECT version() AS v')).getRowObjects()[0].v;

const t0 = performance.now();
const reader = await conn.runAndReadAll(query);
const seconds = (performance.now() - t0) / 1000;
const rows = reader.getRows();

if (mode === 'check-ref') {
  const [n, cents] = rows[0];
  const c = BigInt(cents ?? 0);
  const sum = `${c / 100n}.${String(c % 100n).padStart(2, '0')}`;
  console.log(`CHECK rows=${n} sum_price=${sum} sum_cents=${c}`);
} else if (mode === 'check-stream') {
  const [n, ids, delay] = rows[0];
  console.log(`CHECK rows=${n} sum_orderid=${ids ?? 0} sum_delay_ms=${delay ?? 0}`);
} else {
  // COPY returns the number of rows written
  const written = rows.length ? rows[0][0] : 0;
  console.log(`DUCKDB seconds=${seconds.toFixed(3)} rows=${written} version=${version} threads=${threads}`);
}
conn.closeSync?.();
instance.closeSync?.();
