#!/usr/bin/env python3
"""Runs README.md's "A short tour with the AWS CLI" block as written, once with every distinct `aws`
on the machine (the PATH's, and Debian's /usr/bin/aws, which is AWS CLI v2), and checks what it prints.

The block is taken from README.md at run time, so the README and this test cannot drift apart. Two
substitutions only: the server is this build's binary on a free port instead of build/release/eddy on
4567 (tests run side by side), and the script waits for the port after starting the server, as a
person would before typing the next command.
  EDDY_BIN=/path/to/eddy python3 tests/e2e/cli/readme_tour.py
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
SECTION = '## A short tour with the AWS CLI'
SERVE_LINE = re.compile(r'^build/release/eddy serve &.*$', re.M)
RECORD = '{"category":"Electronics","store_id":"store_3","sales":22.78}'


def tour_block():
    text = open(os.path.join(ROOT, 'README.md'), encoding='utf-8').read()
    start = text.index(SECTION)
    fence = text.index('```\n', start) + 4
    return text[fence:text.index('```', fence)]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def script_for(block, eddy, port, aws_dir):
    assert SERVE_LINE.search(block), 'the tour no longer starts with `build/release/eddy serve &`'
    assert '127.0.0.1:4567' in block, 'the tour no longer names the default endpoint'
    serve = ('"%s" serve --port %d &\nEDDY_PID=$!\n'
             'for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/%d) 2>/dev/null && break; sleep 0.1; done'
             % (eddy, port, port))
    body = SERVE_LINE.sub(lambda _: serve, block).replace('127.0.0.1:4567', '127.0.0.1:%d' % port)
    return ('set -euo pipefail\nexport PATH="%s:$PATH"\ntrap \'kill $EDDY_PID 2>/dev/null; wait\' EXIT\n%s'
            % (aws_dir, body))


def json_documents(out):
    """The JSON documents the commands printed one after another (text lines in between skipped)."""
    docs, i, dec = [], 0, json.JSONDecoder()
    while i < len(out):
        if out[i] in '{[':
            doc, i = dec.raw_decode(out, i)
            docs.append(doc)
        else:
            i += 1
    return docs


def check_output(out):
    docs = json_documents(out)
    put = [d for d in docs if isinstance(d, dict) and 'SequenceNumber' in d and 'ShardId' in d]
    assert len(put) == 1, 'put-record printed no SequenceNumber:\n' + out
    records = [r for d in docs if isinstance(d, dict) for r in d.get('Records', [])]
    data = [base64.b64decode(r['Data']).decode() for r in records]
    assert data == [RECORD], 'get-records returned %r, not the record put' % data
    shards = [d['Shards'] for d in docs if isinstance(d, dict) and 'Shards' in d][-1]
    ids = sorted(s['ShardId'] for s in shards)
    assert ids == ['shardId-00000000000%d' % i for i in range(4)], 'list-shards after the split: %r' % ids
    return put[0]['ShardId']


def aws_commands():
    found = []
    for cand in [shutil.which('aws'), '/usr/bin/aws']:
        if cand and os.access(cand, os.X_OK):
            real = os.path.realpath(cand)
            version = subprocess.run([cand, '--version'], capture_output=True, text=True, timeout=60)
            line = (version.stdout + version.stderr).strip().splitlines()[0]
            if version.returncode == 0 and all(line != v for _, v in found):
                found.append((cand, line))
    return found


def main():
    eddy = os.path.abspath(os.environ.get('EDDY_BIN') or os.path.join(ROOT, 'build', 'release', 'eddy'))
    block = tour_block()
    clis = aws_commands()
    if not clis:
        print('FAIL no `aws` command: run `make deps`')
        return 1
    failed = 0
    for aws, version in clis:
        with tempfile.TemporaryDirectory() as work:
            # The AWS CLI wrapper script of pyenv resolves `aws` through the PATH; put the chosen
            # one's folder first so the tour's plain `aws` is this one.
            link_dir = os.path.join(work, 'bin')
            os.mkdir(link_dir)
            os.symlink(aws, os.path.join(link_dir, 'aws'))
            script = script_for(block, eddy, free_port(), link_dir)
            env = dict(os.environ, HOME=work)  # no ~/.aws of the machine's user
            run = subprocess.run(['bash', '-c', script], cwd=work, env=env, capture_output=True,
                                 text=True, timeout=300)
            try:
                if run.returncode != 0:
                    raise AssertionError('the tour exited %d\nstdout:\n%s\nstderr:\n%s'
                                         % (run.returncode, run.stdout, run.stderr))
                shard = check_output(run.stdout)
                assert os.path.isdir(os.path.join(work, 'eddy-data')), 'no ./eddy-data'
                print('ok   the tour with %s (%s): the record read back from %s, 4 shards after the split'
                      % (aws, version, shard))
            except AssertionError as e:
                failed += 1
                print('FAIL the tour with %s (%s): %s' % (aws, version, e))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
