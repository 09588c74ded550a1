"""Real nats-servers with JetStream on loopback, for eddy's cluster-mode tests (and `eddy cluster dev`).

    cluster = NatsCluster(3).start()      # or NatsCluster(1): one server, no cluster block
    cluster.url_arg                       # 'nats://127.0.0.1:P1,nats://127.0.0.1:P2,...' for --cluster
    cluster.kill9(0); cluster.restart(0)  # SIGKILL; same command, same store_dir, same ports
    cluster.pause(1); cluster.resume(1)   # SIGSTOP / SIGCONT (a frozen server, as on a partition)
    cluster.close()                       # stop() then cleanup()

Each server gets free loopback ports (client, monitoring, and for n > 1 the route port), a config
file and a JetStream store under one temporary directory, and a log file per start (log_tail()).
start() and restart() wait, bounded, until JetStream is ready: GET /jsz on every running server
shows a meta leader and, for n > 1, cluster_size == n. (Docs: docs/design/cluster-jetstream.md §5.)

Only the standard library is needed; importing this module starts nothing. The nats-server binary
is Debian's (make deps installs it in /usr/sbin, which a user's PATH may lack); NATS_SERVER=<path>
overrides it. A missing binary is an error (NatsClusterError), not a reason to skip.

Run as a script it starts a cluster and waits for Ctrl-C:
    python3 nats_cluster.py [--servers 3] [--dir DIR]
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

NOT_INSTALLED = 'nats-server is not installed: run make deps'
SEARCH_DIRS = ('/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin')
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
CLUSTER_NAME = 'eddy'


class NatsClusterError(RuntimeError):
    pass


def nats_server_path():
    """The nats-server binary: $NATS_SERVER, else PATH, else Debian's /usr/sbin and friends.
    Raises NatsClusterError("nats-server is not installed: run make deps") if there is none."""
    env = os.environ.get('NATS_SERVER')
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return env
        raise NatsClusterError('NATS_SERVER=%r is not an executable file; %s' % (env, NOT_INSTALLED))
    found = shutil.which('nats-server')
    if found:
        return found
    for d in SEARCH_DIRS:
        p = os.path.join(d, 'nats-server')
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise NatsClusterError(NOT_INSTALLED)


def free_ports(count, host='127.0.0.1'):
    """`count` distinct free TCP ports on `host` (all bound at once, so none repeats)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_get_json(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode('utf-8'))


class NatsServerProc:
    """One server of a NatsCluster: its ports, config, store and process."""

    def __init__(self, index, name, root, host, port, http_port, cluster_port):
        self.index = index
        self.name = name
        self.host = host
        self.port = port
        self.http_port = http_port
        self.cluster_port = cluster_port
        self.dir = os.path.join(root, name)
        self.store_dir = os.path.join(self.dir, 'store')
        self.conf_path = os.path.join(self.dir, '%s.conf' % name)
        self.proc = None
        self.paused = False
        self.starts = 0
        self.log_path = None

    @property
    def url(self):
        return 'nats://%s:%d' % (self.host, self.port)

    @property
    def monitor_url(self):
        return 'http://%s:%d' % (self.host, self.http_port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class NatsCluster:
    """n nats-servers with JetStream (n == 1: a single server, no cluster block)."""

    def __init__(self, n=3, root=None, label='nats', host='127.0.0.1', max_payload='16MB',
                 max_memory_store='64MB', max_file_store='1GB', binary=None):
        if n < 1:
            raise ValueError('NatsCluster needs at least one server')
        self.binary = binary or nats_server_path()
        self.n = n
        self.host = host
        self.label = label
        self.max_payload = max_payload
        self.max_memory_store = max_memory_store
        self.max_file_store = max_file_store
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix='eddy-%s-' % label)
        os.makedirs(self.root, exist_ok=True)
        self.servers = []
        self._configured = False

    # ----------------------------------------------------------------------------- addresses
    @property
    def urls(self):
        self._configure()
        return [s.url for s in self.servers]

    @property
    def url_arg(self):
        """The --cluster argument: every client URL, comma-joined."""
        return ','.join(self.urls)

    @property
    def monitor_urls(self):
        self._configure()
        return [s.monitor_url for s in self.servers]

    def index_of(self, server_name):
        for s in self.servers:
            if s.name == server_name:
                return s.index
        raise KeyError(server_name)

    # ----------------------------------------------------------------------------- configuration
    def _configure(self):
        if self._configured:
            return
        ports = free_ports(3 * self.n, self.host)
        for i in range(self.n):
            name = 'n%d' % (i + 1)
            self.servers.append(NatsServerProc(i, name, self.root, self.host, ports[3 * i],
                                               ports[3 * i + 1], ports[3 * i + 2]))
        for s in self.servers:
            os.makedirs(s.store_dir, exist_ok=True)
            with open(s.conf_path, 'w') as f:
                f.write(self._config_text(s))
        self._configured = True

    def _config_text(self, s):
        lines = [
            'server_name: %s' % s.name,
            'listen: %s:%d' % (self.host, s.port),
            'http: %s:%d' % (self.host, s.http_port),
            'max_payload: %s' % self.max_payload,
            'jetstream { store_dir: %s, max_memory_store: %s, max_file_store: %s }'
            % (json.dumps(s.store_dir), self.max_memory_store, self.max_file_store),
        ]
        if self.n > 1:
            routes = ', '.join('nats-route://%s:%d' % (self.host, o.cluster_port)
                               for o in self.servers)
            lines += [
                'cluster {',
                '  name: %s' % CLUSTER_NAME,
                '  listen: %s:%d' % (self.host, s.cluster_port),
                '  routes: [%s]' % routes,
                '}',
            ]
        return '\n'.join(lines) + '\n'

    # ----------------------------------------------------------------------------- lifecycle
    def start(self, timeout=READY_TIMEOUT_S):
        """Starts every server and waits until JetStream is ready on all of them."""
        self._configure()
        for s in self.servers:
            if not s.alive():
                self._spawn(s)
        self.wait_ready(timeout=timeout)
        return self

    def _spawn(self, s):
        s.starts += 1
        s.log_path = os.path.join(s.dir, '%s-%d.log' % (s.name, s.starts))
        log = open(s.log_path, 'wb')
        cmd = [self.binary, '-c', s.conf_path]
        log.write(('$ %s\n' % ' '.join(cmd)).encode())
        log.flush()
        try:
            s.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT)
        finally:
            log.close()
        s.paused = False

    def _server(self, i):
        self._configure()
        if not 0 <= i < self.n:
            raise IndexError('server index %d out of range (n=%d)' % (i, self.n))
        return self.servers[i]

    def kill9(self, i):
        """SIGKILL server i and reap it (its store stays for restart)."""
        s = self._server(i)
        if s.proc is None:
            raise NatsClusterError('kill9: %s is not running' % s.name)
        if s.proc.poll() is not None:
            raise NatsClusterError('kill9: %s had already exited with rc=%s\n%s'
                                   % (s.name, s.proc.returncode, self.log_tail(i)))
        s.proc.kill()
        s.proc.wait(timeout=STOP_TIMEOUT_S)
        s.proc = None
        s.paused = False

    def restart(self, i, wait=True, timeout=READY_TIMEOUT_S):
        """Starts server i again (same config, ports and store_dir); stops it first if running.
        With wait, waits until JetStream is ready on every running server."""
        s = self._server(i)
        if s.alive():
            self._stop_one(s)
        self._spawn(s)
        if wait:
            self.wait_ready(timeout=timeout)
        return self

    def pause(self, i):
        s = self._server(i)
        if not s.alive():
            raise NatsClusterError('pause: %s is not running' % s.name)
        os.kill(s.proc.pid, signal.SIGSTOP)
        s.paused = True

    def resume(self, i):
        s = self._server(i)
        if not s.alive():
            raise NatsClusterError('resume: %s is not running' % s.name)
        os.kill(s.proc.pid, signal.SIGCONT)
        s.paused = False

    def alive(self, i):
        return self._server(i).alive()

    def _stop_one(self, s, signaled=False):
        proc, s.proc = s.proc, None
        if proc is None or proc.poll() is not None:
            s.paused = False
            return
        try:
            if not signaled:
                if s.paused:
                    os.kill(proc.pid, signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
            s.paused = False
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            sys.stderr.write('WARNING: nats-server %s ignored SIGTERM for %.0f s; killed\n'
                             % (s.name, STOP_TIMEOUT_S))
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
        except ProcessLookupError:
            pass

    def stop(self, i=None):
        """SIGTERM (after SIGCONT if paused) and wait; SIGKILL after STOP_TIMEOUT_S.
        Without i, stops every server (all signalled first: a graceful stop takes 1-3 s)."""
        if not self._configured:
            return
        targets = [self._server(i)] if i is not None else list(self.servers)
        signaled = set()
        for s in targets:
            if s.alive():
                if s.paused:
                    os.kill(s.proc.pid, signal.SIGCONT)
                s.proc.send_signal(signal.SIGTERM)
                signaled.add(s.index)
        for s in targets:
            self._stop_one(s, signaled=s.index in signaled)

    def cleanup(self):
        """Removes the temporary directory (configs, stores, logs) unless EDDY_E2E_KEEP=1."""
        if os.environ.get('EDDY_E2E_KEEP') == '1':
            sys.stderr.write('keeping %s\n' % self.root)
            return
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            for s in self.servers:
                shutil.rmtree(s.dir, ignore_errors=True)

    def close(self):
        try:
            self.stop()
        finally:
            self.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------------------------- status
    def jsz(self, i, query=''):
        """GET /jsz[?query] of server i as a dict (raises on connection errors)."""
        s = self._server(i)
        return http_get_json(s.monitor_url + '/jsz' + (('?' + query) if query else ''))

    def _ready(self, s):
        """None when server s is ready, else why not."""
        if not s.alive():
            return 'not running'
        if s.paused:
            return 'paused'
        try:
            j = http_get_json(s.monitor_url + '/jsz')
        except (OSError, ValueError) as e:
            return '/jsz: %s' % e
        if j.get('disabled'):
            return 'JetStream disabled'
        if self.n == 1:
            return None
        meta = j.get('meta_cluster') or {}
        if not meta.get('leader'):
            return 'no meta leader yet (%s)' % json.dumps(meta)[:200]
        if meta.get('cluster_size') != self.n:
            return 'cluster_size %s, want %d' % (meta.get('cluster_size'), self.n)
        return None

    def wait_ready(self, timeout=READY_TIMEOUT_S, servers=None):
        """Waits until every running (or each listed) server reports JetStream ready."""
        targets = ([self._server(i) for i in servers] if servers is not None
                   else [s for s in self.servers if s.alive() and not s.paused])
        deadline = time.monotonic() + timeout
        while True:
            for s in targets:
                if not s.alive():
                    raise NatsClusterError('nats-server %s exited (rc=%s) while starting\n%s'
                                           % (s.name, s.proc.returncode if s.proc else None,
                                              self.log_tail(s.index)))
            pending = {s.name: self._ready(s) for s in targets}
            pending = {k: v for k, v in pending.items() if v is not None}
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise NatsClusterError('JetStream not ready within %.0f s: %s\n%s'
                                       % (timeout, pending, self.logs()))
            time.sleep(0.1)

    def meta_leader(self):
        """server_name of the JetStream meta leader, as any running server sees it (or None)."""
        for s in self.servers:
            if s.alive() and not s.paused:
                try:
                    leader = (http_get_json(s.monitor_url + '/jsz').get('meta_cluster') or {}).get('leader')
                except (OSError, ValueError):
                    continue
                if leader:
                    return leader
        return None

    def streams(self):
        """{stream name: {'leader': server_name or None, 'description': str, 'messages': int,
        'replicas': int}} of every JetStream stream, from /jsz of every running server (a stream
        with fewer replicas than servers is listed only by the servers that hold it)."""
        out, answered, last_err = {}, 0, None
        for s in self.servers:
            if not (s.alive() and not s.paused):
                continue
            try:
                j = http_get_json(s.monitor_url + '/jsz?accounts=true&streams=true&config=true')
            except (OSError, ValueError) as e:
                last_err = e
                continue
            answered += 1
            for acc in j.get('account_details') or []:
                for st in acc.get('stream_detail') or []:
                    cfg = st.get('config') or {}
                    entry = {
                        'leader': (st.get('cluster') or {}).get('leader'),
                        'description': cfg.get('description', ''),
                        'messages': (st.get('state') or {}).get('messages'),
                        'replicas': cfg.get('num_replicas'),
                    }
                    # A server's view of another's leadership may be stale; the leader's own
                    # view wins, then any view naming a leader.
                    entry['_rank'] = 2 if entry['leader'] == s.name else 1 if entry['leader'] else 0
                    old = out.get(st.get('name'))
                    if old is None or entry['_rank'] > old['_rank']:
                        out[st.get('name')] = entry
        if not answered:
            raise NatsClusterError('no running nats-server answered /jsz: %s' % last_err)
        for entry in out.values():
            del entry['_rank']
        return out

    # ----------------------------------------------------------------------------- logs
    def log_tail(self, i, n=40):
        s = self._server(i)
        if not s.log_path or not os.path.exists(s.log_path):
            return '--- nats-server %s: (no log) ---' % s.name
        with open(s.log_path, 'rb') as f:
            lines = f.read().decode('utf-8', 'replace').splitlines()
        return '--- nats-server %s %s (last %d lines) ---\n%s' % (s.name, s.log_path, n,
                                                                 '\n'.join(lines[-n:]))

    def logs(self, n=40):
        """The tails of every server's latest log, for a failure report."""
        if not self._configured:
            return '(nats cluster not configured)'
        return '\n'.join(self.log_tail(s.index, n) for s in self.servers)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description='Run nats-servers with JetStream on loopback until Ctrl-C.')
    ap.add_argument('--servers', type=int, default=3)
    ap.add_argument('--dir', default=None, help='where configs and stores go (default: a temp dir, removed)')
    args = ap.parse_args(argv)
    try:
        cluster = NatsCluster(args.servers, root=args.dir)
        cluster.start()
    except NatsClusterError as e:
        sys.stderr.write('%s\n' % e)
        return 1
    try:
        print('--cluster %s' % cluster.url_arg, flush=True)
        for s in cluster.servers:
            print('%s: %s (monitoring %s, log %s)' % (s.name, s.url, s.monitor_url, s.log_path),
                  flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        if args.dir is None:
            cluster.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
