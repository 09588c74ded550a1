// Packs user records into KPL aggregated records with the npm package aws-kinesis-agg (its
// `aggregate` function, the library AWS publishes for Node.js producers), for test_kpl.py.
//
//   node kpl_aggregate.mjs                                  < aggregates.jsonl > records.jsonl
//   node kpl_aggregate.mjs --put STREAM --endpoint URL      < aggregates.jsonl > records.jsonl
//
// Each input line is one aggregate: a JSON array of user records
// {"partitionKey": "...", "data": "<UTF-8 text>"[, "explicitHashKey": "<decimal>"]}.
// Each output line is the Kinesis record made of it, in input order:
// {"partitionKey": "...", "data": "<base64>"[, "explicitHashKey": "..."]}; with --put the record is
// also sent (PutRecord with @aws-sdk/client-kinesis over HTTP/1.1, one at a time, so that the
// records of one shard keep the input's order) and the line gets its "shardId" and "sequenceNumber".
// Exits non-zero with the reason on stderr if an aggregate does not come out as exactly one record.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import agg from 'aws-kinesis-agg';

const { values: opts } = parseArgs({ options: { put: { type: 'string' }, endpoint: { type: 'string' } } });
if (Boolean(opts.put) !== Boolean(opts.endpoint)) {
  console.error('kpl_aggregate.mjs: --put STREAM and --endpoint URL go together');
  process.exit(2);
}

// The Kinesis records `aws-kinesis-agg` makes of `users` (a 1 MiB aggregate holds them all here).
function aggregate(users) {
  return new Promise((resolve, reject) => {
    const encoded = [];
    const errors = [];
    agg.aggregate(
      users.map((u) => ({
        partitionKey: u.partitionKey,
        data: Buffer.from(u.data, 'utf8'),
        ...(u.explicitHashKey ? { explicitHashKey: u.explicitHashKey } : {}),
      })),
      (record, done) => {
        encoded.push(record);
        done();
      },
      () => (errors.length ? reject(errors[0]) : resolve(encoded)),
      (err) => errors.push(err),
    );
  });
}

let client = null;
let PutRecordCommand = null;
if (opts.put) {
  const kinesis = await import('@aws-sdk/client-kinesis');
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  PutRecordCommand = kinesis.PutRecordCommand;
  client = new kinesis.KinesisClient({
    endpoint: opts.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 15000 }),
  });
}

try {
  let lineNo = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    ++lineNo;
    if (!line.trim()) continue;
    const users = JSON.parse(line);
    const records = await aggregate(users);
    if (records.length !== 1) {
      throw new Error(`line ${lineNo}: ${users.length} user records became ${records.length} Kinesis records, not 1`);
    }
    const r = records[0];
    const out = { partitionKey: r.partitionKey, data: r.data.toString('base64') };
    if (r.ExplicitHashKey) out.explicitHashKey = r.ExplicitHashKey;
    if (client) {
      const resp = await client.send(new PutRecordCommand({
        StreamName: opts.put,
        PartitionKey: r.partitionKey,
        Data: r.data,
        ...(r.ExplicitHashKey ? { ExplicitHashKey: r.ExplicitHashKey } : {}),
      }));
      out.shardId = resp.ShardId;
      out.sequenceNumber = resp.SequenceNumber;
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
} catch (err) {
  console.error(`kpl_aggregate.mjs: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  client?.destroy();
}
