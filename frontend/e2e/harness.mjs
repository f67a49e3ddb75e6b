// Processes and helpers for the end-to-end run: a real `aigw serve` with a
// fresh data dir, `fake-upstream` servers, Debian's Chromium through
// playwright-core, a tiny step runner that prints `e2e: N passed, N failed`.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const SHOTS = path.join(HERE, 'screenshots');

const children = new Set();
function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
export function killAll() {
  for (const c of children) {
    try {
      c.stdin?.end();
      c.kill('SIGTERM');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function binary(envVar, name) {
  const p = process.env[envVar] || path.join(ROOT, 'target', 'debug', name);
  if (!fs.existsSync(p)) {
    throw new Error(
      `${name} not found at ${p}. Build it first from the repository root:\n    cargo build -p gateway-core --bin aigw -p aigw-release -p testkit --bins`,
    );
  }
  return p;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** `fake-upstream --upstream NAME=BEHAVIOR ...` → {NAME: baseUrl}. */
export async function startFakeUpstreams(specs) {
  const bin = binary('FAKE_UPSTREAM_BIN', 'fake-upstream');
  const args = Object.entries(specs).flatMap(([n, b]) => ['--upstream', `${n}=${b}`]);
  const child = track(spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  const rl = readline.createInterface({ input: child.stdout });
  const line = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('fake-upstream printed no URLs within 10 s')), 10_000);
    rl.once('line', (l) => {
      clearTimeout(t);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`fake-upstream exited (${code})`)));
  });
  return { urls: JSON.parse(line), child };
}

/** A stand-in for a local Ollama on its fixed port, when that port is free. */
export async function fakeOllama() {
  const server = http.createServer((req, res) => {
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'llama3.1:8b', object: 'model' }, { id: 'qwen2.5:7b', object: 'model' }] }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen(11434, '127.0.0.1', () => resolve(server));
  });
}

/**
 * Starts `aigw serve` on a free port with `configToml` and a fresh data dir.
 * `extraEnv` adds variables (the caller's own `AIGW_*` are dropped first).
 */
export async function startGateway(name, configFor, extraEnv = {}) {
  const bin = binary('AIGW_BIN', 'aigw');
  const dir = tmpDir(`aigw-e2e-${name}-`);
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const config = path.join(dir, 'aigw.toml');
  fs.writeFileSync(config, configFor(listen));
  const logPath = path.join(dir, 'aigw.log');
  const log = fs.openSync(logPath, 'w');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AIGW_')));
  env.AIGW_LOG = 'info';
  env.NO_COLOR = '1';
  Object.assign(env, extraEnv);
  const child = track(spawn(bin, ['serve', '--config', config, '--data-dir', dataDir, '--listen', listen], { stdio: ['ignore', log, log], env }));
  const base = `http://${listen}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`aigw exited (${child.exitCode}); log:\n${fs.readFileSync(logPath, 'utf8')}`);
    try {
      const r = await fetch(base + '/healthz');
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`aigw did not answer /healthz within 30 s; log:\n${fs.readFileSync(logPath, 'utf8')}`);
    await sleep(100);
  }
  const token = adminToken(dataDir);
  return {
    base,
    viewerToken: () => adminToken(dataDir, 'viewer'),
    listen,
    dataDir,
    logPath,
    token,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
    async admin(method, p, body) {
      const r = await fetch(base + '/admin/api' + p, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
  };
}

/**
 * A token of a fresh data dir (`admin` or `viewer`): in `admin-tokens.json` when no
 * keychain was reachable, else in the Secret Service under service
 * `ai-model-gateway-admin`, user `ROLE-token:<sha256(data dir)[..16]>`
 * (read with `secret-tool`, from libsecret-tools).
 */
export function adminToken(dataDir, role = 'admin') {
  const file = path.join(dataDir, 'admin-tokens.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'))[role];
  const canon = fs.realpathSync(dataDir);
  const user = `${role}-token:${createHash('sha256').update(canon).digest('hex').slice(0, 16)}`;
  const r = spawnSync('secret-tool', ['lookup', 'service', 'ai-model-gateway-admin', 'username', user], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  throw new Error(`no ${role} token: neither ${file} nor a keychain entry ${user} (secret-tool: ${r.error?.message ?? r.stderr})`);
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export function chromiumPath() {
  const candidates = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error('Chromium not found: apt-get install chromium (or set CHROMIUM_BIN)');
  return found;
}

/** A step runner: every step runs, failures are counted and screenshotted. */
export function runner(page) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  return {
    async step(name, fn) {
      const t0 = Date.now();
      try {
        const r = await fn();
        if (r === 'skip') {
          skipped++;
          console.log(`skip - ${name}`);
          return;
        }
        passed++;
        console.log(`ok   - ${name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        failures.push(name);
        console.log(`FAIL - ${name}\n       ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n       ')}`);
        const p = page();
        if (p) {
          const file = path.join(SHOTS, `FAIL-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
          await p.screenshot({ path: file, fullPage: true }).catch(() => {});
          console.log(`       screenshot: ${path.relative(ROOT, file)}`);
        }
      }
    },
    summary() {
      const tail = skipped ? `, ${skipped} skipped` : '';
      return { passed, failed, skipped, failures, line: `e2e: ${passed} passed, ${failed} failed${tail}` };
    },
  };
}

// ---- signed releases for the update scenario --------------------------------

/** The host's target triple (what the updater looks for in a manifest). */
export function hostTriple() {
  const r = spawnSync('rustc', ['-vV'], { encoding: 'utf8' });
  const host = r.status === 0 ? r.stdout.match(/^host: (.+)$/m)?.[1]?.trim() : undefined;
  if (!host) throw new Error(`cannot tell the host triple: rustc -vV failed (${r.error?.message ?? r.stderr})`);
  return host;
}

function run(bin, args) {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A tiny stand-in for aigw: a shell script that prints `aigw VERSION`. */
export function fakeAigw(file, version) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\necho "aigw ${version}"\n`, { mode: 0o755 });
  fs.chmodSync(file, 0o755);
  return file;
}

/**
 * Builds a real signed release with `target/debug/aigw-release` (keygen,
 * pack, sign) of a fake aigw reporting `version`, into `dir/release`.
 * Returns {releaseDir, archive, pubkey, target}.
 */
export function makeRelease(dir, version, target = hostTriple()) {
  const bin = binary('AIGW_RELEASE_BIN', 'aigw-release');
  const key = path.join(dir, 'release.key');
  run(bin, ['keygen', '--out', key]);
  const pubkey = run(bin, ['pubkey', '--key', key]).trim();
  const staged = fakeAigw(path.join(dir, 'stage', 'aigw'), version);
  const releaseDir = path.join(dir, 'release');
  fs.mkdirSync(releaseDir, { recursive: true });
  const archive = run(bin, ['pack', '--binary', staged, '--version', version, '--target', target, '--out-dir', releaseDir])
    .trim()
    .split('\n')
    .pop()
    .trim();
  if (!fs.existsSync(archive)) throw new Error(`aigw-release pack printed ${archive}, which does not exist`);
  run(bin, ['sign', '--key', key, '--version', version, '--archive', `${target}=${archive}`, '--out-dir', releaseDir]);
  if (!fs.existsSync(path.join(releaseDir, 'manifest.json'))) throw new Error('aigw-release sign wrote no manifest.json');
  return { releaseDir, archive, pubkey, target };
}

/** Serves `dir`'s files over HTTP on 127.0.0.1 (GET only, no listing). Returns {base, close, hits}. */
export async function serveDir(dir) {
  const hits = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    hits.push(url.pathname);
    const file = path.join(dir, path.normalize(decodeURIComponent(url.pathname)).replace(/^([/\\.])+/, ''));
    if (req.method !== 'GET' || !file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404);
      res.end();
      return;
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { base: `http://127.0.0.1:${server.address().port}`, hits, close: () => new Promise((r) => server.close(r)) };
}
