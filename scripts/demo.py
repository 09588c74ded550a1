#!/usr/bin/env python3
"""The demo (`make demo`): the sales pipeline end to end on this machine.

Starts `eddy serve` (data in ./eddy-data), applies examples/sales-revenue/pipeline.yaml, runs
`eddy gen sales`, and prints the dashboard's URL, the revenue rows per store as each minute closes,
and the first object delivered to the bucket directory (its path and content). Runs until Ctrl-C,
or with DEMO_SECONDS=N for N seconds (and, if no object has been delivered by then, until the first
one is: a minute has to close and the delivery buffer to flush, at most about two minutes).
Everything it started is stopped when it ends, however it ends.

Environment: EDDY_BIN (default build/release/eddy), EDDY_PORT (4567), DEMO_DATA_DIR (./eddy-data),
DEMO_SECONDS, DEMO_RATE (sales events per second, default 20)."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
EDDY = os.environ.get('EDDY_BIN', str(ROOT / 'build' / 'release' / 'eddy'))
PORT = int(os.environ.get('EDDY_PORT', '4567'))
DATA = pathlib.Path(os.environ.get('DEMO_DATA_DIR', 'eddy-data')).resolve()
SECONDS = float(os.environ['DEMO_SECONDS']) if os.environ.get('DEMO_SECONDS') else None
RATE = os.environ.get('DEMO_RATE', '20')
ENDPOINT = 'http://127.0.0.1:%d' % PORT
PIPELINE = ROOT / 'examples' / 'sales-revenue' / 'pipeline.yaml'
BUCKET = DATA / 'bucket' / 'sales-results' / 'sales_revenue'
FIRST_OBJECT_GRACE_S = 150


def say(text):
    print('== ' + text, flush=True)


def get_json(path):
    with urllib.request.urlopen(ENDPOINT + path, timeout=5) as r:
        return json.loads(r.read())


def wait_healthy(server):
    for _ in range(200):
        if server.poll() is not None:
            sys.exit('demo: eddy serve exited (rc=%d); see its messages above' % server.returncode)
        try:
            with urllib.request.urlopen(ENDPOINT + '/health', timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    sys.exit('demo: eddy serve did not answer on %s within 20 s (is the port taken? set EDDY_PORT)' % ENDPOINT)


def delivered_objects():
    if not BUCKET.exists():
        return []
    return sorted(p for p in BUCKET.rglob('*') if p.is_file() and not p.name.endswith('.tmp'))


def main():
    if not os.access(EDDY, os.X_OK):
        sys.exit('demo: %s is not built; run `make demo` (it builds first) or set EDDY_BIN' % EDDY)
    env = dict(os.environ, EDDY_ENDPOINT=ENDPOINT)
    children = []

    def stop_all(*_):
        # Stopping is underway: a second signal (`timeout` signals the command and then its whole
        # process group; an impatient Ctrl-C) must not cut the orderly stop short with a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for p in reversed(children):
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p is not children[0] else signal.SIGTERM)
        for p in reversed(children):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server = subprocess.Popen([EDDY, 'serve', '--port', str(PORT), '--data-dir', str(DATA)], env=env)
        children.append(server)
        wait_healthy(server)
        say('eddy serves the Kinesis, Kinesis Analytics and Firehose APIs on %s (data in %s)' % (ENDPOINT, DATA))
        say('applying %s' % PIPELINE.relative_to(ROOT))
        subprocess.run([EDDY, 'apply', str(PIPELINE), '--endpoint', ENDPOINT], env=env, check=True)
        say('dashboard: %s/  (revenue per store per minute, the category drill-down, health)' % ENDPOINT)
        say('producing sales events: eddy gen sales --rate %s' % RATE)
        # Its progress line would cut through the rows printed here; the demo reports progress itself.
        gen = subprocess.Popen([EDDY, 'gen', 'sales', '--stream', 'sales', '--rate', RATE, '--endpoint', ENDPOINT],
                               env=env, stderr=subprocess.DEVNULL)
        children.append(gen)
        say('revenue per store, each minute as it closes (60 s tumbling window on arrival time):')

        started = time.monotonic()
        since_ms = int(time.time() * 1000)
        seen, first_object = set(), None
        last_note = started
        while True:
            elapsed = time.monotonic() - started
            if time.monotonic() - last_note >= 15:
                last_note = time.monotonic()
                say('%.0f s: about %d sales events sent, %d revenue row(s) so far%s'
                    % (elapsed, elapsed * float(RATE), len(seen), '' if first_object else ', waiting for the first object'))
            if SECONDS is not None and elapsed >= SECONDS and (first_object or elapsed >= SECONDS + FIRST_OBJECT_GRACE_S):
                break
            if server.poll() is not None:
                sys.exit('demo: eddy serve exited (rc=%d)' % server.returncode)
            try:
                rows = get_json('/dashboard/api/applications/sales-revenue/rows?output=DEST_SQL_STREAM_BY_STORE_ID'
                                '&since_ms=%d' % since_ms).get('rows', [])
            except (urllib.error.URLError, OSError, ValueError):
                rows = []
            for r in rows:
                row = r.get('data', r) if isinstance(r, dict) else r
                key = json.dumps(row, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    print('   %s' % json.dumps(row), flush=True)
            if first_object is None:
                objs = delivered_objects()
                if objs:
                    first_object = objs[0]
                    say('first object delivered: %s' % first_object)
                    print(first_object.read_text(), end='', flush=True)
            time.sleep(1)
        if first_object is None:
            sys.exit('demo: no object reached %s within %d s' % (BUCKET, SECONDS + FIRST_OBJECT_GRACE_S))
        say('done: %d revenue row(s), objects in %s' % (len(seen), BUCKET))
    except KeyboardInterrupt:
        say('stopping')
    finally:
        stop_all()
    say('stopped; the data stays in %s (rerun `make demo` to continue with it)' % DATA)


if __name__ == '__main__':
    main()
