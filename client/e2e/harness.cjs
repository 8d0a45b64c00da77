// What every E2E runner needs, in one place: a free port, waiting for a
// condition, starting a child process with its log under .ci/artifacts,
// and a test counter that prints `ok - …` / `FAILED - …`.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

const root = path.resolve(__dirname, '../..');
const out = path.join(root, '.ci/artifacts');
const relayBinary = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'debug/relay');

// A loopback port nothing listens on, never one this process was given
// before: the kernel may hand the same port to two binds in a row.
const given = new Set();
function onePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
async function freePort() {
  for (;;) {
    const port = await onePort();
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
}

async function until(what, check, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (_) { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Starts processes whose `kill` goes into `children`.
function starter(children) {
  fs.mkdirSync(out, { recursive: true });
  return (cmd, args, env = {}, name = path.basename(cmd)) => {
    const log = fs.openSync(path.join(out, `e2e-${name}.log`), 'w');
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
    children.push(child);
    return child;
  };
}

// `test(name, body)`, and how many passed and failed; `onFail` runs after a
// failure (screenshots). `E2E_ONLY=words` runs only the tests whose name
// contains them (a developer's loop; CI runs all).
function tests(onFail = async () => {}) {
  const count = { passed: 0, failed: 0 };
  const only = process.env.E2E_ONLY;
  const test = async (name, body) => {
    if (only && !name.includes(only)) return;
    try {
      await body();
      count.passed += 1;
      console.log(`ok - ${name}`);
    } catch (e) {
      count.failed += 1;
      console.log(`FAILED - ${name}: ${e.message}`);
      await onFail(count.passed + count.failed).catch(() => {});
    }
  };
  return { test, count };
}

async function launchChromium() {
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

async function shot(page, name) {
  const file = path.join(out, `e2e-${name}.png`);
  await page.screenshot({ path: file });
  console.log(`  screenshot: ${path.relative(root, file)}`);
}

module.exports = { root, out, relayBinary, freePort, until, starter, tests, launchChromium, shot };
