"""Helpers shared by the cluster end-to-end tests (test_cluster_*.py): polling, botocore error
inspection, eddy node arguments, boto3 clients and the log tails printed when a test fails."""

import hashlib
import sys
import time

from botocore.exceptions import ClientError

import harness


def poll(what, fn, timeout, delay=0.1):
    """Calls fn() until it returns a true value (returned); AssertionError after `timeout` s.
    Exceptions from fn count as "not yet"; the last one is reported."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = 'returned %r' % (v,)
        except Exception as e:  # noqa: BLE001 - reported below
            last = '%s: %s' % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise AssertionError('%s: not within %.0f s (last: %s)' % (what, timeout, last))
        time.sleep(delay)


def error_code(exc):
    return exc.response.get('Error', {}).get('Code') if isinstance(exc, ClientError) else None


def answers_not_found(call):
    """True if call() raises ResourceNotFoundException, False if it answers; other errors raise."""
    try:
        call()
    except ClientError as e:
        if error_code(e) == 'ResourceNotFoundException':
            return True
        raise
    return False


def http_status(exc):
    return (exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode')
            if isinstance(exc, ClientError) else None)


def record_data(rid):
    return rid.encode() + b'|' + hashlib.sha256(rid.encode()).hexdigest()[:24].encode()


def cluster_args(cluster, node_id, *extra, replicas=None):
    """`eddy serve` arguments of cluster node `node_id`: --cluster/--node-id, then `extra`, then
    --replicas if given."""
    args = ['--cluster', cluster.url_arg, '--node-id', node_id] + list(extra)
    if replicas is not None:
        args += ['--replicas', str(replicas)]
    return args


def boto3_client(service, endpoint, config, session=None):
    """A boto3 client of `service` at `endpoint` with the harness credentials; from `session`, or
    from boto3's default session when None."""
    if session is None:
        import boto3 as session
    return session.client(service, endpoint_url=endpoint, region_name=harness.REGION,
                          aws_access_key_id=harness.ACCESS_KEY,
                          aws_secret_access_key=harness.SECRET_KEY, config=config)


def log_tails(servers, cluster, server_lines, cluster_lines):
    """The last lines of every eddy server's log and of the nats-servers' logs."""
    parts = [n.log_tail(server_lines) for n in servers]
    if cluster is not None:
        parts.append(cluster.logs(cluster_lines))
    return '\n'.join(parts)


def close_all(servers, cluster):
    """Closes every eddy server (a ServerError is printed), then the nats cluster."""
    try:
        for n in servers:
            try:
                n.close()
            except harness.ServerError as e:
                sys.stderr.write('%s\n' % e)
    finally:
        if cluster is not None:
            cluster.close()


class LogsOnFailure:
    """TestCase mixin: prints self.logs() when the test failed or errored."""

    def run(self, result=None):
        before = (len(result.failures), len(result.errors)) if result is not None else None
        out = super().run(result)
        if result is not None and (len(result.failures), len(result.errors)) != before:
            sys.stderr.write('\n==== logs after %s ====\n%s\n' % (self.id(), self.logs()))
        return out
