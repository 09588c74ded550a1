// The real `eddy serve` for the Node end-to-end tests: started on an ephemeral port with a
// temporary data directory, its output kept (last 2000 lines) for failure messages, stopped with
// SIGTERM (SIGKILL after 5 s). Set EDDY_E2E_KEEP=1 to keep the data directory and server log.
// With TLS flags in extraArgs (--tls-self-signed, --tls-cert/--tls-key) it serves HTTPS: `tls` is
// then true, `endpoint` is https://127.0.0.1:<port> and `caFile` the certificate clients trust.
//
// EDDY_E2E_CLUSTER=N (1 or 3) with EDDY_E2E_NODES=M runs the server as a cluster, as the Python
// harness does: N nats-servers (JetStream; a cluster with --replicas N when N is 3) and M eddy
// nodes sharing one bucket directory, behind a round-robin TCP load balancer whose port start()
// returns, so consecutive connections reach different nodes.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const STARTUP_TIMEOUT_MS = 20_000;

export function resolveBinary() {
  if (process.env.EDDY_BIN) return resolve(process.env.EDDY_BIN);
  for (const p of ['build/dev/eddy', 'build/release/eddy']) {
    if (existsSync(join(REPO, p))) return join(REPO, p);
  }
  throw new Error('EDDY_BIN is not set and neither build/dev/eddy nor build/release/eddy exists');
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

function natsServerPath() {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) {
    if (existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  throw new Error('nats-server is not installed: run make deps');
}

// N nats-servers with JetStream on loopback, ready when each reports JetStream (and, for a
// cluster, a meta leader over all N).
class Nats {
  constructor(n, dir) {
    this.n = n;
    this.dir = dir;
    this.procs = [];
  }

  async start() {
    const ports = [];
    for (let i = 0; i < 3 * this.n; ++i) ports.push(await freePort());
    const servers = [...Array(this.n).keys()].map((i) => ({
      name: `n${i + 1}`, port: ports[3 * i], http: ports[3 * i + 1], route: ports[3 * i + 2],
    }));
    this.urls = servers.map((s) => `nats://127.0.0.1:${s.port}`);
    for (const s of servers) {
      const store = join(this.dir, s.name);
      mkdirSync(store, { recursive: true });
      const lines = [`server_name: ${s.name}`, `listen: 127.0.0.1:${s.port}`, `http: 127.0.0.1:${s.http}`,
        'max_payload: 16MB', `jetstream { store_dir: ${JSON.stringify(store)}, max_file_store: 1GB }`];
      if (this.n > 1) {
        const routes = servers.map((o) => `nats-route://127.0.0.1:${o.route}`).join(', ');
        lines.push('cluster {', '  name: eddy', `  listen: 127.0.0.1:${s.route}`, `  routes: [${routes}]`, '}');
      }
      const conf = join(this.dir, `${s.name}.conf`);
      writeFileSync(conf, lines.join('\n') + '\n');
      this.procs.push(spawn(natsServerPath(), ['-c', conf], { stdio: 'ignore' }));
    }
    const deadline = Date.now() + 30_000;
    for (const s of servers) {
      for (;;) {
        try {
          const jsz = await (await fetch(`http://127.0.0.1:${s.http}/jsz`)).json();
          const meta = jsz.meta_cluster || {};
          if (!jsz.disabled && (this.n === 1 || (meta.leader && meta.cluster_size === this.n))) break;
        } catch { /* not listening yet */ }
        assert.ok(Date.now() < deadline, `nats-server ${s.name} did not get JetStream ready within 30 s`);
        await sleep(100);
      }
    }
  }

  stop() {
    for (const p of this.procs) p.kill('SIGKILL');
  }
}

// A TCP load balancer on 127.0.0.1: each connection goes to the next backend port.
class RoundRobinProxy {
  constructor(ports) {
    this.ports = ports;
    this.next = 0;
    this.sockets = new Set();
    this.server = net.createServer((client) => {
      const port = this.ports[this.next++ % this.ports.length];
      const backend = net.connect(port, '127.0.0.1');
      for (const s of [client, backend]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => { client.destroy(); backend.destroy(); });
      }
      client.pipe(backend);
      backend.pipe(client);
    });
  }

  async listen() {
    await new Promise((res) => this.server.listen(0, '127.0.0.1', res));
    return this.server.address().port;
  }

  close() {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

export class Server {
  constructor(extraArgs = []) {
    this.extraArgs = extraArgs;
    this.lines = [];
    this.exited = null; // {code, signal} once the process (or, in a cluster, any node) is gone
    this.peers = [];
    this.tls = false; // true once started if it printed "listening on https://"
    this.caFile = null; // the certificate to trust when it serves TLS
  }

  get endpoint() {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  // The other nodes of a multi-node server present this node's certificate: --tls-self-signed
  // would make each its own.
  peerArgs() {
    if (!this.extraArgs.includes('--tls-self-signed')) return this.extraArgs;
    return [...this.extraArgs.filter((a) => a !== '--tls-self-signed'),
      '--tls-cert', join(this.dataDir, 'tls', 'cert.pem'), '--tls-key', join(this.dataDir, 'tls', 'key.pem')];
  }

  tail(n = 60) {
    return [this, ...this.peers].map((s) => s.lines.slice(-n).join('\n')).join('\n---\n');
  }

  async start() {
    const natsCount = Number(process.env.EDDY_E2E_CLUSTER || 0);
    if (natsCount !== 1 && natsCount !== 3) return this.startOne([]);
    const nodes = Math.max(1, Number(process.env.EDDY_E2E_NODES || 1));
    this.root = mkdtempSync(join(tmpdir(), 'eddy-e2e-cluster-'));
    this.nats = new Nats(natsCount, join(this.root, 'nats'));
    await this.nats.start();
    const clusterArgs = (k) => ['--cluster', this.nats.urls.join(','), '--node-id', `node-${k}`, '--replicas',
      String(natsCount), '--lease-ttl-ms', '2000', '--bucket-dir', join(this.root, 'bucket')];
    this.peers = [...Array(nodes - 1).keys()].map(() => new Server(this.extraArgs));
    const ports = [await this.startOne(clusterArgs(1), join(this.root, 'node-1'))];
    for (const [i, peer] of this.peers.entries()) {
      peer.extraArgs = this.peerArgs();
      ports.push(await peer.startOne(clusterArgs(i + 2), join(this.root, `node-${i + 2}`)));
      peer.exitedPromise.then((e) => { this.exited ??= e; });
    }
    this.proxy = new RoundRobinProxy(ports);
    this.port = await this.proxy.listen();
    return this.port;
  }

  async startOne(clusterArgs, dataDir) {
    this.bin = resolveBinary();
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'eddy-e2e-'));
    const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', this.dataDir, ...clusterArgs,
      ...this.extraArgs];
    this.proc = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exitedPromise = new Promise((res) => this.proc.once('exit', (code, signal) => {
      this.ownExit = { code, signal };
      this.exited ??= this.ownExit;
      res(this.ownExit);
    }));
    this.exitedPromise = exitedPromise;

    this.port = await new Promise((resolvePort, reject) => {
      let settled = false;
      const done = (fn, v) => { if (!settled) { settled = true; clearTimeout(timer); fn(v); } };
      const timer = setTimeout(() => done(reject, new Error(
        `eddy did not print "listening on http://127.0.0.1:<port>" within ${STARTUP_TIMEOUT_MS / 1000} s\n` +
        `command: ${this.bin} ${args.join(' ')}\noutput:\n${this.tail()}`)), STARTUP_TIMEOUT_MS);
      // Consume both pipes for the whole run, so the server never blocks on a full pipe.
      for (const [name, stream] of [['stderr', this.proc.stderr], ['stdout', this.proc.stdout]]) {
        let buf = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => {
          buf += chunk;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            this.lines.push(`[${name}] ${line}`);
            if (this.lines.length > 2000) this.lines.splice(0, 1000);
            const selfSigned = /TLS with the self-signed certificate (.+?) \(clients trust it/.exec(line);
            if (selfSigned && name === 'stderr') this.caFile = resolve(selfSigned[1]);
            const m = /listening on (https?):\/\/127\.0\.0\.1:(\d+)/.exec(line);
            if (m && name === 'stderr') {
              this.tls = m[1] === 'https';
              done(resolvePort, Number(m[2]));
            }
          }
        });
      }
      this.proc.once('error', (err) => done(reject, new Error(`cannot start ${this.bin}: ${err.message}`)));
      exitedPromise.then(({ code, signal }) => done(reject, new Error(
        `eddy exited (code ${code}, signal ${signal}) before listening\noutput:\n${this.tail()}`)));
    });
    assert.ok(this.port > 0 && this.port < 65536, `bad port ${this.port}`);
    if (this.tls && !this.caFile) {
      const i = this.extraArgs.indexOf('--tls-cert');
      if (i >= 0) this.caFile = resolve(this.extraArgs[i + 1]);
    }
    return this.port;
  }

  async stop() {
    this.proxy?.close();
    for (const peer of this.peers) await peer.stop();
    await this.stopOne();
    this.nats?.stop();
    if (this.root) {
      if (process.env.EDDY_E2E_KEEP) console.error(`# kept ${this.root}`);
      else rmSync(this.root, { recursive: true, force: true });
    }
  }

  // stop(), then, if eddy had exited on its own during the run, its last output on stderr: what a
  // suite's after() calls, so a crash is explained beside the tests it failed.
  async stopAndReport() {
    const crashed = this.exited;
    await this.stop();
    if (crashed) console.error(`# eddy exited during the run (${JSON.stringify(crashed)}); last output:\n${this.tail()}`);
  }

  async stopOne() {
    if (this.proc && this.proc.pid !== undefined && !this.ownExit) { // pid is undefined if spawn failed
      this.proc.kill('SIGTERM');
      const t = await Promise.race([this.exitedPromise, sleep(5000).then(() => null)]);
      if (!t) {
        this.proc.kill('SIGKILL');
        await Promise.race([this.exitedPromise, sleep(5000)]);
      }
    }
    if (this.dataDir && !this.root) {
      if (process.env.EDDY_E2E_KEEP) {
        writeFileSync(`${this.dataDir}.server.log`, this.lines.join('\n') + '\n');
        console.error(`# kept ${this.dataDir}`);
      } else {
        rmSync(this.dataDir, { recursive: true, force: true });
      }
    }
  }
}
