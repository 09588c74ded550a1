// Assertions the Node end-to-end tests of the Kinesis API share.

import assert from 'node:assert/strict';

// Expect `promise` to reject with the named Kinesis error (HTTP 400 unless told otherwise).
export async function expectError(promise, name, { status = 400, message } = {}) {
  let out;
  try {
    out = await promise;
  } catch (err) {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    assert.equal(err.$metadata?.httpStatusCode, status, `${name}: HTTP status`);
    if (message) assert.match(err.message, message);
    return err;
  }
  const { $metadata, ...body } = out ?? {};
  assert.fail(`expected ${name}, but the request succeeded: ${JSON.stringify(body)}`);
}

// Records as GetRecords or SubscribeToShard give them, against what was put ({seq, data, pk}).
export function assertRecordsEqual(got, want, what) {
  assert.deepEqual(
    got.map((r) => r.SequenceNumber), want.map((r) => r.seq), `${what}: sequence numbers`);
  for (let i = 0; i < want.length; i++) {
    const r = got[i];
    assert.ok(r.Data instanceof Uint8Array, `${what}[${i}]: Data is a Uint8Array`);
    assert.ok(Buffer.from(r.Data).equals(want[i].data), `${what}[${i}]: Data bytes differ`);
    assert.equal(r.PartitionKey, want[i].pk, `${what}[${i}]: PartitionKey`);
    assert.ok(r.ApproximateArrivalTimestamp instanceof Date, `${what}[${i}]: ApproximateArrivalTimestamp is a Date`);
    assert.ok(!Number.isNaN(r.ApproximateArrivalTimestamp.getTime()), `${what}[${i}]: timestamp is valid`);
  }
}
