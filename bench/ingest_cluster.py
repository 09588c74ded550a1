#!/usr/bin/env python3
"""Cluster-mode ingest benchmark (issue 23), all measured in one run on this machine:

  1. one eddy on local disk (--fsync always), `eddy bench ingest`;
  2. a three-node local cluster (`eddy cluster dev --nodes 3`: three nats-servers, three eddy
     nodes, --replicas 3), `eddy bench ingest` against one node, then one load client per node;
  3. `eddy bench jetstream`: the same batches published straight to the same JetStream cluster
     with libnats (R3), the engine's own ceiling, with as many connections as each run above.

Prints records/s, PutRecords p50/p99, the ratio of eddy-on-the-cluster to raw JetStream, and the
CPU seconds each process used per million records (from /proc/<pid>/stat), which is what scales
when the nodes are on separate machines. On a 2-core machine a three-node cluster shares two
cores between six servers and the load client, so it cannot be faster than one node.

  python3 bench/ingest_cluster.py [--records 200000] [--shards 4] [--connections 8]

Builds nothing: EDDY_BIN (default build/release/eddy). Every process it starts is stopped on exit;
every wait is bounded.
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
EDDY = os.environ.get('EDDY_BIN', os.path.join(ROOT, 'build', 'release', 'eddy'))
TICKS = os.sysconf('SC_CLK_TCK')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except OSError:
        return 0.0


def children_by_name(parent):
    """pid -> command line of the processes `eddy cluster dev` started."""
    out = {}
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % p) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            if ppid != parent:
                continue
            with open('/proc/%s/cmdline' % p, 'rb') as f:
                out[int(p)] = f.read().replace(b'\0', b' ').decode()
        except OSError:
            pass
    return out


def load(endpoint, records, args, stream='bench'):
    return subprocess.Popen([EDDY, 'bench', 'ingest', '--endpoint', endpoint, '--stream', stream,
                             '--shards', str(args.shards), '--connections', str(args.connections),
                             '--records', str(records), '--batch', '500', '--record-bytes', '100',
                             '--skip-drain'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def result(proc, timeout=900):
    out, _ = proc.communicate(timeout=timeout)
    m = re.search(r'RESULT put_records_per_s=(\d+) .*put_p50_ms=([\d.]+) put_p99_ms=([\d.]+)', out)
    if not m:
        sys.exit('load client failed:\n' + out)
    return float(m.group(1)), float(m.group(2)), float(m.group(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--records', type=int, default=200000)
    ap.add_argument('--shards', type=int, default=4)
    ap.add_argument('--connections', type=int, default=8)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix='eddy-bench-cluster-')
    procs = []
    rows = []
    try:
        print('machine: %s, %d cores' % (os.uname().nodename, os.cpu_count()))
        # 1. one eddy on local disk
        port = free_port()
        single = subprocess.Popen([EDDY, 'serve', '--port', str(port), '--data-dir', os.path.join(work, 'single')],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(single)
        for _ in range(100):
            try:
                socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        c0 = cpu_seconds(single.pid)
        rate, p50, p99 = result(load('http://127.0.0.1:%d' % port, args.records, args))
        rows.append(('eddy, one node, local disk (fsync always)', rate, p50, p99,
                     {'eddy': (cpu_seconds(single.pid) - c0) / args.records * 1e6}))
        single.send_signal(signal.SIGTERM)
        single.wait(timeout=20)

        # 2. three-node cluster
        base = free_port()  # eddy cluster dev checks that it and the next two are free
        dev = subprocess.Popen([EDDY, 'cluster', 'dev', '--nodes', '3', '--base-port', str(base),
                                '--dir', os.path.join(work, 'cluster')],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(dev)
        urls = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = dev.stdout.readline()
            if not line:
                sys.exit('eddy cluster dev exited early')
            m = re.match(r'\s+NATS\s+(\S+)', line)
            if m:
                urls = m.group(1)
            if line.startswith('eddy cluster status'):
                break
        if not urls:
            sys.exit('eddy cluster dev did not become ready within 60 s')
        kids = children_by_name(dev.pid)
        nodes = [p for p, c in kids.items() if ' serve ' in c]
        servers = [p for p, c in kids.items() if 'nats-server' in c]

        def measured(label, clients):
            before = {p: cpu_seconds(p) for p in nodes + servers}
            results = [result(c) for c in clients]
            total = sum(r[0] for r in results) if len(results) > 1 else results[0][0]
            cpu = {'eddy nodes': sum(cpu_seconds(p) - before[p] for p in nodes) / args.records * 1e6,
                   'nats-servers': sum(cpu_seconds(p) - before[p] for p in servers) / args.records * 1e6}
            rows.append((label, total, max(r[1] for r in results), max(r[2] for r in results), cpu))

        measured('eddy, 3-node cluster (R3), one node serving',
                 [load('http://127.0.0.1:%d' % base, args.records, args, 'bench1')])
        per = args.records // 3
        measured('eddy, 3-node cluster (R3), a client per node',
                 [load('http://127.0.0.1:%d' % (base + i), per, args, 'bench-n%d' % i) for i in range(3)])
        for connections in (args.connections, 3 * args.connections):
            before = {p: cpu_seconds(p) for p in servers}
            raw = subprocess.run([EDDY, 'bench', 'jetstream', '--cluster', urls, '--shards', str(args.shards),
                                  '--connections', str(connections), '--records', str(args.records),
                                  '--batch', '500', '--record-bytes', '100', '--replicas', '3'],
                                 capture_output=True, text=True, timeout=900)
            m = re.search(r'= (\d+) records/s, .*p50 ([\d.]+) ms p99 ([\d.]+) ms', raw.stdout)
            if not m:
                sys.exit('eddy bench jetstream failed:\n' + raw.stdout + raw.stderr)
            rows.append(('raw JetStream publish (libnats, R3, same batches), %d connections' % connections,
                         float(m.group(1)), float(m.group(2)), float(m.group(3)),
                         {'nats-servers': sum(cpu_seconds(p) - before[p] for p in servers) / args.records * 1e6}))
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(['rm', '-rf', work])

    print('\n%d records of ~100 B, batches of 500, %d shards, %d connections\n' %
          (args.records, args.shards, args.connections))
    print('| setup | records/s | PutRecords p50 ms | p99 ms | CPU s per million records |')
    print('|---|---|---|---|---|')
    for label, rate, p50, p99, cpu in rows:
        print('| %s | %.0f | %.2f | %.2f | %s |' % (label, rate, p50, p99,
                                                    ', '.join('%s %.1f' % kv for kv in cpu.items())))
    # Each cluster run against raw JetStream with as many connections in all.
    print('ratio %s / raw JetStream (%d connections): %.2f (goal >= 0.7)' % (rows[1][0], args.connections,
                                                                           rows[1][1] / rows[3][1]))
    print('ratio %s / raw JetStream (%d connections): %.2f (goal >= 0.7)' % (rows[2][0], 3 * args.connections,
                                                                           rows[2][1] / rows[4][1]))

if __name__ == '__main__':
    main()
