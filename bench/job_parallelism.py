"""The trades seed's C++ job (examples/trades-max: max price per ticker over a 90 s window sliding
every 60 s) on a running eddy server at several parallelisms: records per second it takes from a
stream that already holds the trades, and the speed-up over one thread, measured in the same run.

    python3 bench/job_parallelism.py [--eddy build/release/eddy] [--records 1000000]
                                     [--parallelisms 1 2] [--runs 3] [--timeout 600] [--library SO]

Each measured run starts a fresh server, fills a one-shard stream with the trades (`eddy gen trades
--seed`, 5 tickers, 1 ms of event time apart), deploys the job with `eddy jobs deploy --parallelism
N` (TRIM_HORIZON) and times from the deploy until the server's
eddy_kinesisanalytics_input_records_total for it reaches the record count. Every run's output
stream must equal the first one's, line for line: the results do not depend on N. Runs alternate
between the Ns; the fastest run of each N counts. Needs the built example job
(build/release/examples/trades-max/libtrades_max.so) and boto3 (the machine's Python)."""
import argparse
import os
import re
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e', 'python'))
import harness  # noqa: E402  (the e2e tests' server wrapper: start on a free port, logs, close)


def metric(endpoint, app):
    """The job's input record count from /metrics (0 before its first batch)."""
    text = urllib.request.urlopen(endpoint + '/metrics', timeout=10).read().decode()
    m = re.search(r'^eddy_kinesisanalytics_input_records_total\{[^}]*application="%s"[^}]*\} (\d+)' % re.escape(app),
                  text, re.M)
    return int(m.group(1)) if m else 0


def stream_lines(client, stream):
    lines = []
    for shard in harness.all_shards(client, stream):
        records, _ = harness.read_shard(client, stream, shard['ShardId'])
        lines.extend(r['Data'].decode() for r in records)
    return lines


def settled(client, stream, timeout, quiet=1.0):
    """The stream's lines once none has come for `quiet` seconds (not timed: the windows' results
    follow the last records by at most a batch)."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        lines = stream_lines(client, stream)
        if last is None or len(lines) != len(last):
            last, since = lines, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return lines
        time.sleep(0.2)
    sys.exit('%s did not settle within %.0f s' % (stream, timeout))


def measure(args, library, n):
    """One run on a fresh server: the seconds from the deploy at parallelism n until the job has
    taken every record, and its output lines."""
    server = harness.EddyServer(extra_args=['--parallelism', '2'], label='job-bench').start()
    try:
        client = server.client()
        harness.create_stream(client, 'trades', 1)
        harness.create_stream(client, 'out', 1)
        subprocess.run([args.eddy, 'gen', 'trades', '--stream', 'trades', '--count', str(args.records), '--rate', '0',
                        '--seed', '7', '--batch', '500', '--endpoint', server.endpoint],
                       check=True, timeout=args.timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = time.monotonic()
        subprocess.run([args.eddy, 'jobs', 'deploy', library, '--name', 'tm', '--parallelism', str(n),
                        '--property-group', 'TradesMax', 'inputStreamName=trades', 'outputStreamName=out',
                        'startingPosition=TRIM_HORIZON', '--endpoint', server.endpoint],
                       check=True, timeout=args.timeout, stdout=subprocess.DEVNULL)
        deadline = start + args.timeout
        while metric(server.endpoint, 'tm') < args.records:
            if time.monotonic() > deadline:
                sys.exit('parallelism %d took more than %.0f s (%d records)' % (n, args.timeout, metric(server.endpoint, 'tm')))
            time.sleep(0.05)  # a poll costs the server a /metrics render: not too often
        seconds = time.monotonic() - start
        return seconds, settled(client, 'out', args.timeout)
    finally:
        server.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--eddy', default=os.path.join(ROOT, 'build', 'release', 'eddy'))
    ap.add_argument('--records', type=int, default=1_000_000)
    ap.add_argument('--parallelisms', type=int, nargs='+', default=[1, 2])
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--timeout', type=float, default=600, help='seconds for each step (put, each run)')
    ap.add_argument('--library', help='the job (default: examples/trades-max/libtrades_max.so beside --eddy)')
    args = ap.parse_args()
    library = args.library or os.path.join(os.path.dirname(os.path.abspath(args.eddy)), 'examples', 'trades-max',
                                           'libtrades_max.so')
    if not os.path.exists(library):
        sys.exit('%s is missing: build eddy first (make build builds the example job too)' % library)
    os.environ['EDDY_BIN'] = os.path.abspath(args.eddy)

    best, reference = {}, None
    for run in range(args.runs):
        for n in args.parallelisms:
            seconds, lines = measure(args, library, n)
            if reference is None:
                reference = lines
            elif lines != reference:
                sys.exit('parallelism %d wrote other lines than the first run (%d vs %d): results depend on N' %
                         (n, len(lines), len(reference)))
            best[n] = min(best.get(n, seconds), seconds)
            print('run %d, parallelism %d: %.3f s' % (run + 1, n, seconds), flush=True)

    base = best[args.parallelisms[0]]
    print('\n| job parallelism | seconds | records/s | vs %d thread%s |' %
          (args.parallelisms[0], '' if args.parallelisms[0] == 1 else 's'))
    print('|---:|---:|---:|---:|')
    for n in args.parallelisms:
        print('| %d | %.3f | %s | %.2f× |' % (n, best[n], format(int(args.records / best[n]), ','), base / best[n]))
    print('\n%d output lines, the same at every parallelism' % len(reference or []))


if __name__ == '__main__':
    main()
