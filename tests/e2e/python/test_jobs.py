"""C++ jobs on eddy serve: the trades seed's job (examples/trades-max, built with eddy) deployed with
`eddy jobs deploy` and property groups; its lines equal the same computation in Flink SQL (HOP
60 s / 90 s, MAX(PRICE) per ticker) over the same records, also across kill -9 and a redeploy;
bad libraries are refused with the reason."""
import json
import os
import random
import re
import subprocess
import time
import unittest

import harness
import test_analytics as kda
import test_checkpoint as cp

LINE_RE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ==> ([A-Z]+) : Stock Value: ([0-9.]+)$')


def job_library():
    path = os.path.join(os.path.dirname(harness.eddy_bin()), 'examples', 'trades-max', 'libtrades_max.so')
    if not os.path.exists(path):
        raise AssertionError('%s is missing: build eddy (it builds the example job too)' % path)
    return path


class JobsTest(cp.PipelineCase, unittest.TestCase):
    def eddy(self, *args, check=True):
        p = subprocess.run([harness.eddy_bin()] + [str(a) for a in args] + ['--endpoint', self.server.endpoint],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError('eddy %s failed rc=%d\n%s%s' % (' '.join(args), p.returncode, p.stdout, p.stderr))
        return p

    def deploy(self, *extra, check=True):
        return self.eddy('jobs', 'deploy', job_library(), *extra, check=check)

    def job_rows(self, stream):
        rows = self.settled(stream)
        parsed = []
        for line in rows:
            m = LINE_RE.match(line)
            self.assertIsNotNone(m, 'not a trades-max line: %r' % line)
            parsed.append((m.group(2), float(m.group(3))))
        return sorted(parsed)

    def sql_rows(self, stream):
        return sorted((r['TICKER'], r['MAX_PRICE']) for r in map(json.loads, self.settled(stream)))

    def run_trades(self, kills=0, redeploy_at=None, deploy_args=(), redeploy_args=()):
        rng = random.Random(5)
        src = harness.create_stream(self.k, 'trades', 2)
        for name in ('job-out', 'sql-out'):
            harness.create_stream(self.k, name, 1)
        out = self.deploy('--name', 'trades-max', '--property-group', 'TradesMax', 'inputStreamName=trades',
                          'outputStreamName=job-out', 'startingPosition=TRIM_HORIZON', *deploy_args)
        self.assertIn('deployed trades-max', out.stdout)
        self.wait_running('trades-max')
        rounds = max(kills, 3)
        for r in range(rounds):
            self.put(src, [cp.trade(rng, r * 1000 + i) for i in range(1000)], 'TICKER')
            if redeploy_at == r:
                self.deploy('--name', 'trades-max', '--property-group', 'TradesMax', 'inputStreamName=trades',
                            'outputStreamName=job-out', 'startingPosition=TRIM_HORIZON', *redeploy_args)
                self.wait_running('trades-max')
            if r < kills:
                time.sleep(rng.uniform(0.0, 0.8))
                self.server.kill9()
                self.server.start()
                self.connect()
        job = self.job_rows('job-out')
        self.create_trades('trades-sql', src, 'sql-out')
        sql = self.sql_rows('sql-out')
        # 300 s of event time: the HOP windows ending up to the last watermark, five tickers each.
        self.assertGreater(len(sql), 15)
        self.assertEqual(job, sql)

    def test_trades_max_job_equals_flink_sql(self):
        self.run_trades()
        apps = self.ka.list_applications()['ApplicationSummaries']
        self.assertIn(('trades-max', 'RUNNING'), [(a['ApplicationName'], a['ApplicationStatus']) for a in apps])

    def test_trades_max_job_after_kill9_and_redeploy(self):
        self.run_trades(kills=3, redeploy_at=1)

    def test_parallelism_of_one_job_and_of_its_redeploy(self):
        # The server runs at --parallelism 4; the job asks for 1 thread, its redeploy for 2: the key
        # groups' state moves with it, and the lines still equal Flink SQL's.
        self.run_trades(redeploy_at=1, deploy_args=('--parallelism', '1'), redeploy_args=('--parallelism', '2'))
        described = self.eddy('apps', 'describe', 'trades-max').stdout
        self.assertIn('parallelism 2 (its own)', described)
        p = self.deploy('--name', 'other', '--parallelism', '99', check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('--parallelism', p.stderr)

    def test_parallelism_configuration_over_the_kda_api(self):
        # KDA v2's ParallelismConfiguration, taken by eddy's v1 API as an extension: created, shown
        # by DescribeApplication, changed by UpdateApplication, refused when out of range.
        target = 'KinesisAnalytics_20150814.'
        create = {'ApplicationName': 'par', 'ApplicationCode': cp.TRADES_SQL % {'src': 'a', 'out': 'b'},
                  'ParallelismConfiguration': {'ConfigurationType': 'CUSTOM', 'Parallelism': 3}}
        status, body, _ = self.server.json_call(target + 'CreateApplication', create)
        self.assertEqual(status, 200, body)

        def described():
            status, body, _ = self.server.json_call(target + 'DescribeApplication', {'ApplicationName': 'par'})
            self.assertEqual(status, 200, body)
            return body['ApplicationDetail']

        d = described()
        self.assertEqual(d['ParallelismConfigurationDescription'],
                         {'ConfigurationType': 'CUSTOM', 'Parallelism': 3, 'CurrentParallelism': 3})
        status, body, _ = self.server.json_call(target + 'UpdateApplication', {
            'ApplicationName': 'par', 'CurrentApplicationVersionId': d['ApplicationVersionId'],
            'ApplicationUpdate': {'ParallelismConfigurationUpdate': {'ConfigurationTypeUpdate': 'DEFAULT'}}})
        self.assertEqual(status, 200, body)
        self.assertEqual(described()['ParallelismConfigurationDescription']['CurrentParallelism'], 4,
                         'DEFAULT: the server\'s --parallelism')
        bad = dict(create, ApplicationName='par2', ParallelismConfiguration={'ConfigurationType': 'CUSTOM', 'Parallelism': 0})
        status, body, _ = self.server.json_call(target + 'CreateApplication', bad)
        self.assertEqual(status, 400, body)
        self.assertIn('InvalidArgument', body['__type'])
        self.assertIn('Parallelism must be 1 to', body['message'])

    def test_deploy_to_a_server_that_requires_signatures(self):
        # eddy jobs deploy goes through the Kinesis Analytics v2 API, signed like every AWS call.
        signed = harness.EddyServer(extra_args=['--access-key', harness.ACCESS_KEY, '--secret-key', harness.SECRET_KEY],
                                    label='signed').start()
        try:
            k = signed.client()
            for name in ('trades', 'job-out'):
                harness.create_stream(k, name, 1)
            env = dict(os.environ, AWS_ACCESS_KEY_ID=harness.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=harness.SECRET_KEY)
            env.pop('AWS_SESSION_TOKEN', None)
            cmd = [harness.eddy_bin(), 'jobs', 'deploy', job_library(), '--name', 'signed-job', '--property-group',
                   'TradesMax', 'inputStreamName=trades', 'outputStreamName=job-out', '--endpoint', signed.endpoint]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn('deployed signed-job (version 1, RUNNING)', p.stdout)
            # A wrong secret is refused by the server's signature check, and nothing is deployed.
            env['AWS_SECRET_ACCESS_KEY'] = 'not-the-secret'
            p = subprocess.run(cmd[:5] + ['other-job'] + cmd[6:], capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL, env=env)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn('InvalidSignatureException', p.stderr)
            ka = kda.analytics_client(signed)
            names = [a['ApplicationName'] for a in ka.list_applications()['ApplicationSummaries']]
            self.assertEqual(names, ['signed-job'])
        finally:
            signed.close()

    def test_bad_libraries_are_refused(self):
        not_so = os.path.join(self.server.root, 'notes.txt')
        with open(not_so, 'w') as f:
            f.write('not a library')
        p = self.eddy('jobs', 'deploy', not_so, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('cannot load job library', p.stderr)
        zlib = next((c for c in ('/lib/x86_64-linux-gnu/libz.so.1', '/usr/lib/x86_64-linux-gnu/libz.so.1') if os.path.exists(c)), None)
        if zlib:
            p = self.eddy('jobs', 'deploy', zlib, '--name', 'zlib', check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn('not an eddy job', p.stderr)
        # The job reads the default stream "trades", which does not exist here: refused at start.
        p = self.deploy('--name', 'nostream', check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('trades', p.stderr)
        p = self.deploy('--property-group', 'TradesMax', 'oops', check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('not key=value', p.stderr)


if __name__ == '__main__':
    unittest.main()
