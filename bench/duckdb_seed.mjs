// The seed application (revenue per store per minute of arrival time) as a DuckDB batch query, for
// bench/sql_vs_duckdb.sh.
//
//   EDDY_BENCH_DUCKDB_DIR=DIR node bench/duckdb_seed.mjs EVENTS.ndjson OUT.ndjson [THREADS] [SHAPE]
//
// SHAPE "arrival" (the default, bench/sql_vs_duckdb.sh): windows on the arrival time `at`.
// SHAPE "seed" (bench/seed_shape.sh): the seed producer's events, no `at`; windows on evnt_time
// (ISO-8601 with microseconds, read as TIMESTAMP), and COUNT(*) as "orders" beside the revenue.
//
// Reads the sales events the benchmark generated with read_ndjson (the same columns and types as the
// seed's input schema), groups them by store and one-minute bucket of the arrival time `at`, and
// writes one NDJSON line per group in the shape `eddy sql run` prints for the seed's output stream:
// {"store_id", "revenue", "timestamp": "yyyy-MM-dd HH:mm:ss.SSS" (end of the minute = ROWTIME)}.
// THREADS defaults to 1 (SET threads=1). The timed part is the query, from submission until every
// result row has been read into JavaScript; opening DuckDB and writing OUT are not timed.
// Prints one line on stdout: `DUCKDB seconds=... rows=... version=... threads=...`.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

// @duckdb/node-api is not a dependency of the repository (package.json): bench/sql_vs_duckdb.sh
// installs a pinned version into a directory of its own and names it in EDDY_BENCH_DUCKDB_DIR
// (the directory holding node_modules/@duckdb/node-api). Without it, normal resolution applies.
const duckdbDir = process.env.EDDY_BENCH_DUCKDB_DIR;
const { DuckDBInstance } = duckdbDir
  ? createRequire(join(duckdbDir, 'noop.js'))('@duckdb/node-api')
  : await import('@duckdb/node-api');

const [input, output, threadsArg, shapeArg] = process.argv.slice(2);
const shape = shapeArg ?? 'arrival';
if (!input || !output || !['arrival', 'seed'].includes(shape)) {
  console.error('usage: node bench/duckdb_seed.mjs EVENTS.ndjson OUT.ndjson [THREADS] [arrival|seed]');
  process.exit(2);
}
const threads = Number.parseInt(threadsArg ?? '1', 10);
const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run(`SET threads = ${threads}`);
await conn.run('SET preserve_insertion_order = false');
const version = (await conn.runAndReadAll('SELECT version() AS v')).getRowObjects()[0].v;

// columns= declares the seed's input schema plus the arrival time `at`. DuckDB still parses each
// whole JSON line but converts only the columns the query uses (projection pushdown), whereas eddy
// maps and converts every column of the schema (evnt_time to TIMESTAMP, category) for every record.
const arrivalQuery = `
  SELECT store_id,
         SUM(sales::REAL) AS revenue,
         strftime(time_bucket(INTERVAL '60 seconds', strptime("at", '%Y-%m-%d %H:%M:%S.%g'))
                  + INTERVAL '60 seconds', '%Y-%m-%d %H:%M:%S.%g') AS ts
  FROM read_ndjson(${sqlString(input)},
                   columns = {store_id: 'VARCHAR', category: 'VARCHAR', evnt_time: 'TIMESTAMP',
                              sales: 'DOUBLE', "at": 'VARCHAR'},
                   format = 'newline_delimited')
  GROUP BY ALL`;
// The seed's own shape: every field mapped as the seed's schema maps it; evnt_time is the time.
const seedQuery = `
  SELECT store_id,
         SUM(sales::REAL) AS revenue,
         strftime(time_bucket(INTERVAL '60 seconds', evnt_time) + INTERVAL '60 seconds',
                  '%Y-%m-%d %H:%M:%S.%g') AS ts,
         COUNT(*) AS orders
  FROM read_ndjson(${sqlString(input)},
                   columns = {category: 'VARCHAR', store_id: 'VARCHAR', evnt_time: 'TIMESTAMP', sales: 'DOUBLE'},
                   format = 'newline_delimited')
  GROUP BY ALL`;
const query = shape === 'seed' ? seedQuery : arrivalQuery;

const t0 = performance.now();
const reader = await conn.runAndReadAll(query);
const rows = reader.getRows();
const seconds = (performance.now() - t0) / 1000;

const lines = rows.map(([store, revenue, ts, orders]) =>
  JSON.stringify(orders === undefined
    ? { store_id: store, revenue: Number(revenue), timestamp: ts }
    : { store_id: store, revenue: Number(revenue), orders: Number(orders), timestamp: ts }));
writeFileSync(output, lines.length ? lines.join('\n') + '\n' : '');
console.log(`DUCKDB seconds=${seconds.toFixed(3)} rows=${rows.length} version=${version} threads=${threads}`);
conn.closeSync?.();
instance.closeSync?.();
