"""`eddy sql run --parallelism N` over inputs of many blocks (with N > 1 each thread reads about
1 MiB at a time into its own buffer, parses it, and runs it through the pumps in its turn): the
output rows, the error rows and their line numbers are the same for N = 1, 2 and 4, from a file
and from stdin (a pipe, whose reads come in smaller pieces), and a record without an arrival time
stops every run at the same line."""
import json
import os
import random
import shutil
import subprocess
import tempfile
import unittest

import harness

SQL = '''CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "revenue" REAL, "n" BIGINT, "timestamp" TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM "store_id", SUM("sales"), COUNT(*), ROWTIME FROM "SOURCE_SQL_STREAM_001"
  GROUP BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND), "store_id";
'''
SCHEMA = {'RecordFormat': {'RecordFormatType': 'JSON',
                           'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
          'RecordEncoding': 'UTF-8',
          'RecordColumns': [{'Name': 'store_id', 'Mapping': '$.store_id', 'SqlType': 'VARCHAR(16)'},
                            {'Name': 'category', 'Mapping': '$.category', 'SqlType': 'VARCHAR(16)'},
                            {'Name': 'sales', 'Mapping': '$.sales', 'SqlType': 'REAL'}]}
RECORDS = 60000  # about 6 MiB: six blocks and more


def lines(seed, missing_at=None):
    rnd = random.Random(seed)
    out = []
    t0 = 1612101600000  # 2021-01-31 14:00:00
    for i in range(RECORDS):
        at = t0 + i * 25
        r = {'at': at, 'store_id': 'store_%d' % rnd.randint(1, 5),
             'category': rnd.choice(['Books', 'Electronics']), 'sales': round(rnd.random() * 100, 2)}
        kind = rnd.random()
        if i == missing_at:
            del r['at']
        if kind < 0.001:
            out.append('{"at": %d, "store_id": "store_1", "sales": ' % at)  # not JSON
        elif kind < 0.002:
            r['sales'] = 'lots'  # not a REAL: a coercion error
            out.append(json.dumps(r))
        elif kind < 0.003:
            out.append('')  # empty lines are skipped but counted
        elif kind < 0.004:
            out.append(json.dumps(r) + ' ' + json.dumps(r))  # two documents on a line: an error
        elif kind < 0.005:
            out.append('  ' + json.dumps(r) + ' ')  # spaces around the document
        else:
            out.append(json.dumps(r))
    return '\n'.join(out) + '\n'


def is_json(line):
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def without_time(error_rows):
    """The error rows without ERROR_TIME, the wall clock when each was reported."""
    rows = [json.loads(e) for e in error_rows.splitlines()]
    for r in rows:
        del r['ERROR_TIME']
    return rows


class SqlRunParallelism(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='eddy-sqlpar-')
        cls.sql = os.path.join(cls.dir, 'app.sql')
        cls.schema = os.path.join(cls.dir, 'schema.json')
        with open(cls.sql, 'w') as f:
            f.write(SQL)
        with open(cls.schema, 'w') as f:
            json.dump(SCHEMA, f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_sql(self, text, parallelism, stdin):
        path = os.path.join(self.dir, 'in.ndjson')
        with open(path, 'w') as f:
            f.write(text)
        errors = os.path.join(self.dir, 'errors-%d-%s.ndjson' % (parallelism, stdin))
        cmd = [harness.eddy_bin(), 'sql', 'run', '--sql', self.sql, '--input-schema', self.schema,
               '--input', '-' if stdin else path, '--arrival-time-field', 'at', '--output', 'DEST',
               '--errors', errors, '--parallelism', str(parallelism)]
        with open(path) as f:
            p = subprocess.run(cmd, stdin=f if stdin else subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=300)
        with open(errors) as f:
            return p.returncode, p.stdout, f.read(), p.stderr

    def test_same_rows_and_errors_for_any_parallelism(self):
        text = lines(7)
        one = self.run_sql(text, 1, False)
        self.assertEqual(one[0], 0, one[3])
        rows = one[1].splitlines()
        self.assertGreater(len(rows), 100)
        errors = [json.loads(e) for e in one[2].splitlines()]
        self.assertGreater(len(errors), 40)
        self.assertEqual({e['ERROR_NAME'] for e in errors}, {'Record_Parse_Error', 'Coercion_Error'})
        # Line numbers point at the bad lines, across blocks.
        source = text.split('\n')
        bad = [i + 1 for i, x in enumerate(source) if x and (not is_json(x) or '"lots"' in x)]
        self.assertEqual([e['input_line'] for e in errors], bad)
        self.assertGreater(max(e['input_line'] for e in errors), RECORDS // 2)
        for parallelism in (2, 4):
            for stdin in (False, True):
                got = self.run_sql(text, parallelism, stdin)
                self.assertEqual(got[0], 0, got[3])
                self.assertEqual(got[1], one[1], 'rows at --parallelism %d (stdin: %s)' % (parallelism, stdin))
                self.assertEqual(without_time(got[2]), without_time(one[2]),
                                 'error rows at --parallelism %d (stdin: %s)' % (parallelism, stdin))

    def test_a_missing_arrival_time_stops_at_the_same_line(self):
        text = lines(11, missing_at=45000)
        line = text.split('\n').index(next(x for x in text.split('\n') if x.startswith('{') and '"at"' not in x)) + 1
        for parallelism in (1, 2, 4):
            code, _, _, err = self.run_sql(text, parallelism, False)
            self.assertNotEqual(code, 0)
            self.assertIn('--input line %d: no arrival time' % line, err, 'at --parallelism %d' % parallelism)


if __name__ == '__main__':
    unittest.main()
