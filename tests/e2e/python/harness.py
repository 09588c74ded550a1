"""End-to-end test harness for eddy's Kinesis API.

Starts the real `eddy` binary (path from the environment variable EDDY_BIN, which is required),
waits for its "listening on http://127.0.0.1:<PORT>" line on stderr ("https://" when it serves TLS,
with --tls-self-signed or --tls-cert/--tls-key), and hands out clients:
boto3 (imported lazily, so that this module also works under /usr/bin/python3, which has cbor2 but
no boto3), the AWS CLI, and raw HTTP requests (optionally SigV4-signed by a small stdlib signer).

Only the standard library is needed to import this module.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ACCESS_KEY = 'AKIDEXAMPLE'
SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
REGION = 'us-east-1'
TARGET_PREFIX = 'Kinesis_20131202.'
JSON_CT = 'application/x-amz-json-1.1'
CBOR_CT = 'application/x-amz-cbor-1.1'

STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
LISTEN_RE = re.compile(rb'listening on https?://127\.0\.0\.1:(\d+)')  # group 1: the port

MAX_HASH_KEY = 2 ** 128 - 1
SEQ_RE = re.compile(r'^(0|[1-9]\d{0,128})$')
SHARD_ID_RE = re.compile(r'^shardId-\d{12}$')


def shard_id(index):
    return 'shardId-%012d' % index


def md5_hash_key(partition_key):
    """Kinesis routing: MD5 of the UTF-8 partition key as a big-endian 128-bit integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode('utf-8')).digest(), 'big')


def even_ranges(n):
    """Hash-key ranges CreateStream(ShardCount=n) must produce (kinesis-api.md section 4)."""
    width = (2 ** 128) // n
    out = []
    for i in range(n):
        start = i * width
        end = MAX_HASH_KEY if i == n - 1 else (i + 1) * width - 1
        out.append((start, end))
    return out


def unique_name(prefix='e2e'):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:12])


def eddy_bin():
    path = os.environ.get('EDDY_BIN')
    if not path:
        raise RuntimeError(
            'EDDY_BIN is not set: point it at the eddy binary, e.g. '
            'EDDY_BIN=/work/main/build/dev/eddy (tests/e2e/python/run_all.sh finds it itself)')
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError('EDDY_BIN=%r is not an executable file' % path)
    return os.path.abspath(path)


class ServerError(RuntimeError):
    pass


class EddyServer:
    """One eddy process on 127.0.0.1:<ephemeral port> with its own data directory.

    start() / stop() / kill9() / restart(); restart keeps the data directory. cleanup() removes the
    temporary directory (data and logs) unless EDDY_E2E_KEEP=1.
    """

    def __init__(self, extra_args=(), label='eddy', native_jobs=True, preexec_fn=None):
        """native_jobs: start with --allow-native-jobs (the suites deploy the example C++ job);
        False for a server as `eddy serve` starts by default, which refuses job libraries.
        preexec_fn: run in the child before eddy starts (e.g. to lower its resource limits)."""
        self.preexec_fn = preexec_fn
        self.binary = eddy_bin()
        self.extra_args = list(extra_args) + (['--allow-native-jobs'] if native_jobs else [])
        self.label = label
        self.root = tempfile.mkdtemp(prefix='eddy-e2e-%s-' % label)
        self.data_dir = os.path.join(self.root, 'data')
        os.makedirs(self.data_dir)
        self.proc = None
        self.port = None
        self.log_path = None
        self._drain = None
        self._stderr = None
        self._starts = 0
        self.tls = None  # True once started if it printed "listening on https://"

    # ----------------------------------------------------------------------------- TLS
    @property
    def ca_bundle(self):
        """The PEM file a client trusts for this server's certificate, None without TLS flags: the
        --tls-cert file, or <data-dir>/tls/cert.pem with --tls-self-signed."""
        if '--tls-cert' in self.extra_args:
            return os.path.abspath(self.extra_args[self.extra_args.index('--tls-cert') + 1])
        if '--tls-self-signed' in self.extra_args:
            return os.path.join(self.data_dir, 'tls', 'cert.pem')
        return None

    def _peer_tls_args(self):
        """extra_args for the other nodes of a multi-node server: --tls-self-signed becomes this
        node's certificate and key, so that the balancer's nodes all present one certificate."""
        if '--tls-self-signed' not in self.extra_args:
            return list(self.extra_args)
        args = [a for a in self.extra_args if a != '--tls-self-signed']
        return args + ['--tls-cert', self.ca_bundle,
                       '--tls-key', os.path.join(self.data_dir, 'tls', 'key.pem')]

    # ----------------------------------------------------------------------------- lifecycle
    @property
    def endpoint(self):
        if self.port is None:
            raise ServerError('server %s is not running' % self.label)
        return '%s://127.0.0.1:%d' % ('https' if self.tls else 'http', self.port)

    @property
    def host_header(self):
        return '127.0.0.1:%d' % self.port

    def command(self):
        return [self.binary, 'serve', '--host', '127.0.0.1', '--port', '0',
                '--data-dir', self.data_dir] + self._cluster_args() + self.extra_args

    # EDDY_E2E_CLUSTER=N (1 or 3) runs every suite's servers in cluster mode: each EddyServer gets
    # N nats-servers of its own (a JetStream cluster when N is 3, with --replicas 3; kept across
    # restarts, so its data survives them as a data directory does) and a fresh --node-id per start
    # (a killed node's id stays taken until its lease expires; short leases take its applications
    # over within seconds).
    #
    # EDDY_E2E_NODES=M (with EDDY_E2E_CLUSTER) makes each EddyServer M eddy nodes over those
    # nats-servers behind a round-robin TCP load balancer (RoundRobinProxy): the suite's clients
    # talk to the balancer, so consecutive connections reach different nodes. The nodes share one
    # bucket directory (<data-dir>/bucket, --bucket-dir). stop(), kill9() and restart() act on
    # every node.
    _nats = None
    _peers = ()
    _proxy = None

    def _cluster_args(self):
        n = os.environ.get('EDDY_E2E_CLUSTER', '')
        if n not in ('1', '3') or '--cluster' in self.extra_args:
            return []
        if self._nats is None:
            import nats_cluster
            self._nats = nats_cluster.NatsCluster(int(n), root=os.path.join(self.root, 'nats'), label=self.label)
            self._nats.start()
        return ['--cluster', self._nats.url_arg, '--node-id', '%s-%d' % (self.label, self._starts),
                '--replicas', n, '--lease-ttl-ms', '2000']

    def _node_count(self):
        if not self._cluster_args():
            return 1
        return max(1, int(os.environ.get('EDDY_E2E_NODES', '1') or '1'))

    def start(self):
        self._start_one()
        nodes = self._node_count()
        if nodes > 1:
            if not self._peers:
                self._peers = [EddyServer(label='%s-n%d' % (self.label, k), native_jobs=False)
                               for k in range(1, nodes)]
            for k, peer in enumerate(self._peers, 1):
                # A fresh node id per start, as the first node gets: a killed node's stays taken
                # until its lease expires.
                peer.extra_args = (self._peer_tls_args() + self._cluster_args_for_peer(k)
                                   + ['--bucket-dir', os.path.join(self.data_dir, 'bucket')])
                peer.start()
            if self._proxy is None:
                self._proxy = RoundRobinProxy()
            self._proxy.backends = [self.port] + [peer.port for peer in self._peers]
            self.port = self._proxy.port
        return self

    def _cluster_args_for_peer(self, k):
        args = self._cluster_args()
        at = args.index('--node-id')
        args[at + 1] = '%s-n%d-%d' % (self.label, k, self._starts)
        return args

    def _start_one(self):
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError('server %s already running' % self.label)
        self._starts += 1
        self.log_path = os.path.join(self.root, '%s-%d.log' % (self.label, self._starts))
        log = open(self.log_path, 'wb')
        cmd = self.command()
        log.write(('$ %s\n' % ' '.join(cmd)).encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.PIPE,
                                preexec_fn=self.preexec_fn)
        lines = queue.Queue()

        def drain():
            # Copies every stderr line to the log; hands lines to start() until the port is known.
            announce = True
            try:
                for line in iter(proc.stderr.readline, b''):
                    log.write(line)
                    log.flush()
                    if announce:
                        lines.put(line)
                        if LISTEN_RE.search(line):
                            announce = False
            finally:
                lines.put(None)
                log.close()

        t = threading.Thread(target=drain, name='eddy-stderr-%s' % self.label, daemon=True)
        t.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        port = None
        while port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                proc.wait()
                raise ServerError('eddy did not print "listening on http://127.0.0.1:<port>" within '
                                  '%.0f s\n%s' % (STARTUP_TIMEOUT_S, self._log_tail_after(t)))
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                rc = proc.wait()
                raise ServerError('eddy exited (rc=%s) before listening\n%s'
                                  % (rc, self._log_tail_after(t)))
            m = LISTEN_RE.search(line)
            if m:
                port = int(m.group(1))
                tls = b'listening on https://' in line
        if port == 0:
            proc.kill()
            raise ServerError('eddy reported port 0')
        self.proc, self.port, self._drain, self._stderr = proc, port, t, proc.stderr
        self.tls = tls
        return self

    def _log_tail_after(self, drain_thread, n=40):
        drain_thread.join(timeout=2)
        return self.log_tail(n)

    def log_tail(self, n=40):
        peers = ''.join('\n' + peer.log_tail(n) for peer in self._peers)
        if not self.log_path or not os.path.exists(self.log_path):
            return '(no log)' + peers
        with open(self.log_path, 'rb') as f:
            data = f.read().decode('utf-8', 'replace').splitlines()
        return '--- %s (last %d lines) ---\n%s' % (self.log_path, n, '\n'.join(data[-n:])) + peers

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and all(p.alive() for p in self._peers)

    def stop(self):
        """SIGTERM and wait. Raises ServerError if the process had already died on its own."""
        for peer in self._peers:
            peer.stop()
        if self.proc is None:
            return None
        proc, self.proc, self.port = self.proc, None, None
        rc = proc.poll()
        if rc is not None:
            self._join_drain()
            raise ServerError('eddy %s had exited on its own with rc=%s before stop()\n%s'
                              % (self.label, rc, self.log_tail()))
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            sys.stderr.write('WARNING: eddy %s ignored SIGTERM for %.0f s; killed\n'
                             % (self.label, STOP_TIMEOUT_S))
        self._join_drain()
        return rc

    def kill9(self):
        for peer in self._peers:
            if peer.proc is not None:
                peer.kill9()
        if self.proc is None:
            raise ServerError('kill9: server %s is not running' % self.label)
        proc, self.proc, self.port = self.proc, None, None
        if proc.poll() is not None:
            self._join_drain()
            raise ServerError('kill9: eddy %s had already exited with rc=%s\n%s'
                              % (self.label, proc.returncode, self.log_tail()))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)
        self._join_drain()

    def restart(self):
        if self.proc is not None:
            self.stop()
        return self.start()

    def _join_drain(self):
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def cleanup(self):
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        for peer in self._peers:
            peer.cleanup()
        if self._nats is not None:
            self._nats.close()
            self._nats = None
        if os.environ.get('EDDY_E2E_KEEP') == '1':
            sys.stderr.write('keeping %s\n' % self.root)
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def close(self):
        """stop() then cleanup(); the directory is removed even if stop() raises."""
        try:
            self.stop()
        finally:
            self.cleanup()

    # ----------------------------------------------------------------------------- clients
    def client(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION,
               read_timeout=60, connect_timeout=10, validate=True, verify=None):
        """A boto3 Kinesis client for this server. verify as boto3's: None trusts this server's
        certificate (ca_bundle) when it serves TLS; True the default CAs; a path that PEM file."""
        import boto3
        from botocore.config import Config
        cfg = Config(retries={'total_max_attempts': 1},
                     read_timeout=read_timeout, connect_timeout=connect_timeout,
                     parameter_validation=validate)
        if verify is None and self.tls:
            verify = self.ca_bundle
        return boto3.client('kinesis', endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                            config=cfg, verify=verify)

    def cli(self, *args, check=True, timeout=120):
        """Runs `aws kinesis <args>` against this server; returns parsed JSON output (None if empty).

        With check=False returns the CompletedProcess instead.
        """
        tls = ['--ca-bundle', self.ca_bundle] if self.tls else []
        cmd = (['aws', '--endpoint-url', self.endpoint, '--region', REGION, '--output', 'json']
               + tls + ['kinesis'] + [str(a) for a in args])
        env = dict(os.environ)
        env.update({
            'AWS_ACCESS_KEY_ID': ACCESS_KEY,
            'AWS_SECRET_ACCESS_KEY': SECRET_KEY,
            'AWS_DEFAULT_REGION': REGION,
            'AWS_PAGER': '',
            'AWS_CONFIG_FILE': os.path.join(self.root, 'no-aws-config'),
            'AWS_SHARED_CREDENTIALS_FILE': os.path.join(self.root, 'no-aws-credentials'),
            'AWS_MAX_ATTEMPTS': '1',
            'AWS_RETRY_MODE': 'standard',
        })
        env.pop('AWS_SESSION_TOKEN', None)
        env.pop('AWS_PROFILE', None)
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        if not check:
            return p
        if p.returncode != 0:
            raise AssertionError('aws %s failed rc=%d\nstdout: %s\nstderr: %s'
                                 % (' '.join(cmd[7 + len(tls):]), p.returncode, p.stdout.decode(errors='replace'),
                                    p.stderr.decode(errors='replace')))
        out = p.stdout.decode().strip()
        return json.loads(out) if out else None

    def raw(self, target, body, content_type=JSON_CT, headers=None, sign=True,
            access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION, amz_date=None,
            timeout=60):
        """POST / with X-Amz-Target Kinesis_20131202.<target>. Returns (status, headers, body).

        `target` may be a full target (containing '.') or an operation name. The request is
        SigV4-signed with the test keys unless sign=False (as every SDK signs; a server without
        --access-key ignores the signature). Headers in the result are keyed in lower case.
        """
        if isinstance(body, str):
            body = body.encode('utf-8')
        full_target = target if '.' in target else TARGET_PREFIX + target
        hdrs = {'Content-Type': content_type, 'X-Amz-Target': full_target,
                'Host': self.host_header}
        if sign:
            # The credential scope names the service the target belongs to, as the SDKs sign.
            service = ('firehose' if full_target.startswith('Firehose_') else
                       'kinesisanalytics' if full_target.startswith('KinesisAnalytics_') else 'kinesis')
            hdrs.update(sigv4_headers('POST', '/', '', hdrs, body, access_key, secret_key,
                                      region, service, amz_date=amz_date))
        if headers:
            hdrs.update(headers)
        return http_post(self.port, '/', body, hdrs, timeout=timeout,
                         ca_bundle=self.ca_bundle if self.tls else None)

    def json_call(self, operation, payload, **kw):
        """Raw JSON 1.1 call; returns (status, decoded body or None, headers)."""
        status, hdrs, body = self.raw(operation, json.dumps(payload), **kw)
        return status, (json.loads(body) if body.strip() else None), hdrs


class RoundRobinProxy:
    """A TCP load balancer on 127.0.0.1 (what a user puts in front of cluster nodes): each accepted
    connection goes to the next backend port, skipping one that refuses it."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(('127.0.0.1', 0))
        self._sock.listen(256)
        self.port = self._sock.getsockname()[1]
        self.backends = []
        self._next = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name='proxy-%d' % self.port, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        with self._lock:
            backends, first = list(self.backends), self._next
            self._next += 1
        backend = None
        for i in range(len(backends)):
            try:
                backend = socket.create_connection(('127.0.0.1', backends[(first + i) % len(backends)]), timeout=5)
                break
            except OSError:
                continue
        if backend is None:
            client.close()
            return
        backend.settimeout(None)

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        back = threading.Thread(target=pump, args=(backend, client), daemon=True)
        back.start()
        pump(client, backend)
        back.join()
        client.close()
        backend.close()

    def close(self):
        self._sock.close()


def http_post(port, path, body, headers, timeout=60, ca_bundle=None):
    """POST over HTTP/1.1; over HTTPS trusting the PEM file ca_bundle when given."""
    if ca_bundle:
        import ssl
        conn = http.client.HTTPSConnection('127.0.0.1', port, timeout=timeout,
                                           context=ssl.create_default_context(cafile=ca_bundle))
    else:
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.putrequest('POST', path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader('Content-Length', str(len(body)))
        conn.endheaders()
        conn.send(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def error_type(body_obj):
    """'__type' of an AWS JSON/CBOR error body, with any 'namespace#' prefix removed."""
    t = body_obj.get('__type') if isinstance(body_obj, dict) else None
    return t.split('#')[-1] if isinstance(t, str) else None


# --------------------------------------------------------------------------------- SigV4 (stdlib)
def _hmac(key, msg):
    return hmac.new(key, msg.encode('utf-8'), hashlib.sha256).digest()


def sigv4_headers(method, path, query, headers, body, access_key, secret_key, region, service,
                  amz_date=None):
    """Returns {'X-Amz-Date': ..., 'Authorization': ...} signing every header in `headers`
    (which must include Host) plus x-amz-date. AWS SigV4 header form."""
    if amz_date is None:
        amz_date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    day = amz_date[:8]
    to_sign = {k.lower(): ' '.join(str(v).strip().split()) for k, v in headers.items()}
    to_sign['x-amz-date'] = amz_date
    names = sorted(to_sign)
    canonical_headers = ''.join('%s:%s\n' % (n, to_sign[n]) for n in names)
    signed_headers = ';'.join(names)
    canonical_request = '\n'.join([method, path, query, canonical_headers, signed_headers,
                                   hashlib.sha256(body).hexdigest()])
    scope = '%s/%s/%s/aws4_request' % (day, region, service)
    string_to_sign = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope,
                                hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()])
    k = _hmac(('AWS4' + secret_key).encode('utf-8'), day)
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, 'aws4_request')
    signature = hmac.new(k, string_to_sign.encode('utf-8'), hashlib.sha256).hexdigest()
    auth = ('AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s'
            % (access_key, scope, signed_headers, signature))
    return {'X-Amz-Date': amz_date, 'Authorization': auth}


# --------------------------------------------------------------------------------- boto3 helpers
def wait_exists(client, name=None, arn=None, delay=0.2, attempts=150):
    """stream_exists waiter, bounded (default at most ~30 s)."""
    kw = {'StreamARN': arn} if arn else {'StreamName': name}
    client.get_waiter('stream_exists').wait(
        WaiterConfig={'Delay': delay, 'MaxAttempts': attempts}, **kw)


def wait_not_exists(client, name, delay=0.2, attempts=150):
    client.get_waiter('stream_not_exists').wait(
        StreamName=name, WaiterConfig={'Delay': delay, 'MaxAttempts': attempts})


def create_stream(client, name, shards=1, **kw):
    client.create_stream(StreamName=name, ShardCount=shards, **kw)
    wait_exists(client, name)
    return name


def all_shards(client, name):
    shards, token = [], None
    for _ in range(1000):
        resp = (client.list_shards(NextToken=token) if token
                else client.list_shards(StreamName=name))
        shards.extend(resp['Shards'])
        token = resp.get('NextToken')
        if not token:
            return shards
    raise AssertionError('ListShards never stopped returning NextToken')


def read_shard(client, name, shard, iterator_type='TRIM_HORIZON', max_calls=500, limit=None,
               **iter_kw):
    """Reads a shard from the given position until caught up (MillisBehindLatest == 0 and an empty
    page) or until a closed shard ends (no NextShardIterator).

    Returns (records, last_response)."""
    it = client.get_shard_iterator(StreamName=name, ShardId=shard,
                                   ShardIteratorType=iterator_type, **iter_kw)['ShardIterator']
    records = []
    last = None
    for _ in range(max_calls):
        kw = {'ShardIterator': it}
        if limit:
            kw['Limit'] = limit
        last = client.get_records(**kw)
        assert "Records" in last, last
        records.extend(last["Records"])
        it = last.get('NextShardIterator')
        if not it:
            return records, last
        if not last['Records'] and last.get('MillisBehindLatest') == 0:
            return records, last
    raise AssertionError('shard %s of %s: not caught up after %d GetRecords calls'
                         % (shard, name, max_calls))


# ------------------------------------------------------------------ older botocore models (Debian)
# Debian 12 ships botocore 1.29.27 (December 2022). Its models lack what AWS added since, e.g. in
# Kinesis StreamARN parameters and ListStreams' NextToken/StreamSummaries (botocore 1.29.31),
# CreateStream's Tags (1.35.26), TagResource/UntagResource/ListTagsForResource (1.38.5); in Firehose
# CustomTimeZone (1.34.44); in Kinesis Analytics v2 the OperationId of StartApplication and others
# (1.34.134). boto3 cannot send a member its model lacks and drops one from a response. call() sends
# such a request as raw JSON instead and adds such response members from the raw body, so the test
# checks the server the same way with an old or a new botocore; with a new one it is a plain boto3
# call. (botocore is imported lazily: this module must import with the standard library only.)

def model_has(client, operation, member=None, output=False):
    """Whether this botocore's model of the client's service has `operation` and, if given, the
    top-level `member` of its input (or, with output=True, its output)."""
    model = client.meta.service_model
    if operation not in model.operation_names:
        return False
    if member is None:
        return True
    op = model.operation_model(operation)
    shape = op.output_shape if output else op.input_shape
    return shape is not None and member in shape.members


def _modeled(shape, value):
    """Whether every member in `value` (request parameters, at any depth) is in `shape`."""
    if shape is None:
        return False
    if shape.type_name == 'structure' and isinstance(value, dict):
        return all(k in shape.members and _modeled(shape.members[k], v) for k, v in value.items())
    if shape.type_name == 'list' and isinstance(value, (list, tuple)):
        return all(_modeled(shape.member, v) for v in value)
    if shape.type_name == 'map' and isinstance(value, dict):
        return all(_modeled(shape.value, v) for v in value.values())
    return True


def _to_wire(value):
    """Request parameters as AWS JSON 1.1 carries them: blobs base64, timestamps epoch seconds."""
    if isinstance(value, (bytes, bytearray)):
        import base64
        return base64.b64encode(bytes(value)).decode('ascii')
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:  # as botocore: a naive datetime is UTC
            value = value.replace(tzinfo=datetime.timezone.utc)
        return round(value.timestamp(), 3)
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_wire(v) for v in value]
    return value


def _add_unmodeled(parsed, raw, shape):
    """Adds to the botocore-parsed response `parsed` every member of the raw JSON response `raw`
    that `shape` (the model's output shape; None for an operation the model lacks) does not know,
    at any depth, as its raw JSON value."""
    if isinstance(parsed, dict) and isinstance(raw, dict):
        if shape is None:
            for k, v in raw.items():
                parsed.setdefault(k, v)
        elif shape.type_name == 'map':
            for k, v in raw.items():
                if k in parsed:
                    _add_unmodeled(parsed[k], v, shape.value)
        elif shape.type_name == 'structure':
            wire = {m.serialization.get('name', n): n for n, m in shape.members.items()}
            for k, v in raw.items():
                if k not in wire:
                    parsed[k] = v
                elif wire[k] in parsed:
                    _add_unmodeled(parsed[wire[k]], v, shape.members[wire[k]])
    elif (isinstance(parsed, list) and isinstance(raw, list) and shape is not None
          and shape.type_name == 'list'):
        for p, r in zip(parsed, raw):
            _add_unmodeled(p, r, shape.member)


def call(server, client, operation, **params):
    """`client`'s `operation` (the API name, e.g. 'ListShards') with `params`, answered by `server`.

    Through boto3 (client.<operation as a method>(**params)) when this botocore's model has the
    operation and every parameter, at any depth; members of the response the model lacks are added
    from the raw HTTP body. Otherwise the same request as raw JSON (SigV4-signed for the service's
    signing name, to the service's X-Amz-Target), its answer parsed by the model where it can be
    (timestamps as datetime, blobs as bytes) and left as the raw JSON value where not. Errors are
    raised as boto3 raises them: the modeled ClientError subclass of the error code."""
    from botocore import xform_name
    model = client.meta.service_model
    op = model.operation_model(operation) if operation in model.operation_names else None
    if op is not None and (_modeled(op.input_shape, params) if op.input_shape else not params):
        event = 'after-call.%s.%s' % (model.service_id.hyphenize(), operation)

        def add_unmodeled(http_response, parsed, **_):
            if http_response.status_code < 300 and http_response.content.strip():
                _add_unmodeled(parsed, json.loads(http_response.content), op.output_shape)
        client.meta.events.register(event, add_unmodeled)
        try:
            return getattr(client, xform_name(operation))(**params)
        finally:
            client.meta.events.unregister(event, add_unmodeled)
    from botocore import parsers
    meta = model.metadata
    status, headers, body = server.raw(
        '%s.%s' % (meta['targetPrefix'], operation), json.dumps(_to_wire(params)),
        content_type='application/x-amz-json-%s' % meta.get('jsonVersion', '1.1'))
    shape = op.output_shape if op is not None else None
    parsed = parsers.create_parser('json').parse(
        {'status_code': status, 'headers': headers, 'body': body}, shape)
    if status >= 300:
        code = parsed.get('Error', {}).get('Code')
        raise client.exceptions.from_code(code)(parsed, operation)
    if body.strip():
        _add_unmodeled(parsed, json.loads(body), shape)
    return parsed


def cli_response_body(stderr):
    """The decoded JSON body of the last HTTP response in the stderr of an `aws ... --debug` run
    (AWS CLI v1 and v2 both log it as "Response body:\\nb'...'"); None if there is none. For members
    the installed CLI's model lacks, which it does not print (e.g. Debian 12's AWS CLI 2.9.19 and
    Kinesis Analytics v2's OperationId)."""
    import ast
    text = stderr.decode('utf-8', 'replace') if isinstance(stderr, bytes) else stderr
    found = re.findall(r"Response body:\n(b'.*'|b\".*\")\n", text)
    if not found:
        return None
    raw = ast.literal_eval(found[-1])
    return json.loads(raw) if raw.strip() else None
