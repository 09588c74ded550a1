"""Hostile resource use (issue 21): idle and slow connections, too many connections, the open-file
limit, and request bodies that would not fit the server's budget. Each case must leave the server
answering /health at once, refuse cleanly (a 503 clients retry, or a closed idle socket) and never
spin the CPU.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_hostile_resources
"""

import http.client
import json
import os
import resource
import socket
import subprocess
import time
import unittest

import harness


def connect(port, timeout=5):
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    return s


def health(port, timeout=5):
    s = connect(port, timeout)
    try:
        s.sendall(b'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
        data = b''
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def closed_within(sock, seconds):
    """Seconds until the server closed `sock` (recv returns b''), or None if it stayed open."""
    sock.settimeout(seconds)
    start = time.time()
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return time.time() - start
    except socket.timeout:
        return None
    except ConnectionResetError:
        return time.time() - start


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class TimeoutsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(['--idle-timeout-s', '2', '--header-timeout-s', '2'],
                                        label='timeouts').start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_an_idle_connection_is_closed(self):
        s = connect(self.server.port)
        try:
            waited = closed_within(s, 15)
            self.assertIsNotNone(waited, 'an idle connection stayed open for 15 s')
            self.assertLess(waited, 10)
        finally:
            s.close()

    def test_a_kept_alive_connection_is_closed_when_idle(self):
        s = connect(self.server.port)
        try:
            s.sendall(b'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
            self.assertIn(b'200 OK', s.recv(4096))
            waited = closed_within(s, 15)
            self.assertIsNotNone(waited, 'a kept-alive connection stayed open for 15 s after its answer')
        finally:
            s.close()

    def test_headers_sent_one_byte_at_a_time_are_cut_off(self):
        # Slowloris: a byte every 0.5 s never finishes the headers; the header timeout ends it.
        s = connect(self.server.port)
        request = b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n'
        start = time.time()
        closed = False
        try:
            for b in request * 4:
                try:
                    s.sendall(bytes([b]))
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                s.settimeout(0.5)
                try:
                    if s.recv(4096) == b'':
                        closed = True
                        break
                except socket.timeout:
                    pass
                if time.time() - start > 20:
                    break
        finally:
            s.close()
        self.assertTrue(closed, 'a request trickling its headers was kept for %.0f s' % (time.time() - start))
        self.assertLess(time.time() - start, 15)
        self.assertIn(b'200 OK', health(self.server.port))

    def test_a_body_that_never_comes_does_not_hold_the_server(self):
        s = connect(self.server.port)
        try:
            s.sendall(b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n'
                      b'Content-Type: application/x-amz-json-1.1\r\nContent-Length: 1000\r\n\r\n{')
            self.assertIn(b'200 OK', health(self.server.port))
        finally:
            s.close()


class ConnectionLimitTest(unittest.TestCase):
    def test_connections_beyond_the_limit_get_503_and_the_server_keeps_answering(self):
        server = harness.EddyServer(['--max-connections', '20', '--idle-timeout-s', '30'], label='connlimit').start()
        held = []
        try:
            for _ in range(20):
                held.append(connect(server.port))
            time.sleep(0.3)  # the server has accepted them all
            extra = connect(server.port)
            extra.sendall(b'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
            extra.settimeout(5)
            answer = extra.recv(4096)
            extra.close()
            self.assertIn(b'503', answer.split(b'\r\n')[0])
            self.assertIn(b'ServiceUnavailableException', answer)
            for s in held[:5]:
                s.close()
            held = held[5:]
            deadline = time.time() + 5
            while True:
                data = health(server.port)
                if b'200 OK' in data or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertIn(b'200 OK', data, 'connections freed, but the server still refuses')
        finally:
            for s in held:
                s.close()
            server.close()

    def test_at_the_open_file_limit_the_server_refuses_without_spinning(self):
        # A server allowed only 64 descriptors, and 150 clients: the accept loop must neither spin
        # nor stop; once the clients leave, the server answers again.
        server = harness.EddyServer(['--idle-timeout-s', '30'], label='fdlimit')
        real_popen = subprocess.Popen

        def limited(*args, **kw):
            kw['preexec_fn'] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
            return real_popen(*args, **kw)

        subprocess.Popen = limited
        try:
            server.start()
        finally:
            subprocess.Popen = real_popen
        held = []
        try:
            for _ in range(150):
                try:
                    held.append(connect(server.port, timeout=2))
                except OSError:
                    break
            time.sleep(0.5)
            before = cpu_seconds(server.proc.pid)
            time.sleep(2.0)
            used = cpu_seconds(server.proc.pid) - before
            self.assertLess(used, 0.5, 'the server used %.2f s of CPU in 2 s while its clients were idle' % used)
            for s in held:
                s.close()
            held = []
            deadline = time.time() + 10
            data = b''
            while time.time() < deadline:
                try:
                    data = health(server.port)
                    if b'200 OK' in data:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            self.assertIn(b'200 OK', data)
            self.assertTrue(server.alive())
        finally:
            for s in held:
                s.close()
            server.close()


class BodyBudgetTest(unittest.TestCase):
    def test_bodies_beyond_the_budget_are_refused_before_they_are_read(self):
        server = harness.EddyServer(['--body-budget-mb', '40', '--idle-timeout-s', '30'], label='budget').start()
        first = connect(server.port)
        try:
            head = (b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n'
                    b'Content-Type: application/x-amz-json-1.1\r\nContent-Length: 30000000\r\n\r\n')
            first.sendall(head)  # 30 MB announced and not sent: reserved while it is awaited
            time.sleep(0.3)
            second = connect(server.port)
            second.sendall(head)
            second.settimeout(5)
            answer = second.recv(4096)
            second.close()
            self.assertIn(b'503', answer.split(b'\r\n')[0])
            first.close()
            time.sleep(0.3)
            # The first reservation is given back when its connection goes.
            third = connect(server.port)
            third.sendall(b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n'
                          b'Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}')
            third.settimeout(5)
            self.assertIn(b'200 OK', third.recv(4096))
            third.close()
        finally:
            first.close()
            server.close()


class ResponseBoundTest(unittest.TestCase):
    def test_the_dashboards_records_answer_is_bounded_and_keeps_the_newest(self):
        # 30 records of 900 KB: limit=50000 would be 27 MB of data; the answer stops near 8 MiB and
        # holds the newest records.
        server = harness.EddyServer(label='bound').start()
        try:
            c = server.client()
            harness.create_stream(c, 'big', 2)
            for i in range(30):
                c.put_record(StreamName='big', Data=(('%02d' % i) + 'x' * 900000).encode(), PartitionKey=str(i))
            conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=60)
            conn.request('GET', '/dashboard/api/streams/big/records?limit=50000')
            r = conn.getresponse()
            body = r.read()
            conn.close()
            self.assertEqual(r.status, 200)
            self.assertLess(len(body), 12 << 20)
            records = json.loads(body)['records']
            self.assertGreaterEqual(len(records), 5)
            self.assertLess(len(records), 30)
            self.assertEqual(records[-1]['data'][:2], '29')  # the newest is kept
        finally:
            server.close()


if __name__ == '__main__':
    unittest.main()
