// The real `eddy serve` for the Node end-to-end tests: started on an ephemeral port with a
// temporary data directory, its output kept (last 2000 lines) for failure messages, stopped with
// SIGTERM (SIGKILL after 5 s). Set EDDY_E2E_KEEP=1 to keep the data directory and server log.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

export class Server {
  constructor(extraArgs = []) {
    this.extraArgs = extraArgs;
    this.lines = [];
    this.exited = null; // {code, signal} once the process is gone
  }

  tail(n = 60) {
    return this.lines.slice(-n).join('\n');
  }

  async start() {
    this.bin = resolveBinary();
    this.dataDir = mkdtempSync(join(tmpdir(), 'eddy-e2e-'));
    const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', this.dataDir, ...this.extraArgs];
    this.proc = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exitedPromise = new Promise((res) => this.proc.once('exit', (code, signal) => {
      this.exited = { code, signal };
      res(this.exited);
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
            const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
            if (m && name === 'stderr') done(resolvePort, Number(m[1]));
          }
        });
      }
      this.proc.once('error', (err) => done(reject, new Error(`cannot start ${this.bin}: ${err.message}`)));
      exitedPromise.then(({ code, signal }) => done(reject, new Error(
        `eddy exited (code ${code}, signal ${signal}) before listening\noutput:\n${this.tail()}`)));
    });
    assert.ok(this.port > 0 && this.port < 65536, `bad port ${this.port}`);
    return this.port;
  }

  async stop() {
    if (this.proc && this.proc.pid !== undefined && !this.exited) { // pid is undefined if spawn failed
      this.proc.kill('SIGTERM');
      const t = await Promise.race([this.exitedPromise, sleep(5000).then(() => null)]);
      if (!t) {
        this.proc.kill('SIGKILL');
        await Promise.race([this.exitedPromise, sleep(5000)]);
      }
    }
    if (this.dataDir) {
      if (process.env.EDDY_E2E_KEEP) {
        writeFileSync(`${this.dataDir}.server.log`, this.lines.join('\n') + '\n');
        console.error(`# kept ${this.dataDir}`);
      } else {
        rmSync(this.dataDir, { recursive: true, force: true });
      }
    }
  }
}
