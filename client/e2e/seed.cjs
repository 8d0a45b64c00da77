// The seed's test scenarios, end to end in a real browser: Debian's Chromium
// driven by playwright-core, against the release bundle served by the relay
// (demo login on, simulator off), on a real Kafka broker (Apache Kafka, one
// KRaft node started by .ci/kafka/start-broker); then the same bundle
// embedded in a shop (client/e2e/shop.cjs), the admin Delivery panel
// under the demo simulator's traffic (client/e2e/delivery.cjs), and one
// socket per browser and the offline page (client/e2e/tabs.cjs); then the
// seed's own Socket.IO client against /socket.io/ (client/e2e/socketio.cjs).
//
// Needs: the debug relay (cargo build -p server; in $CARGO_TARGET_DIR if set), dist/ (trunk build
// --release), Apache Kafka and playwright-core (bash .ci/install). Run: node client/e2e/seed.cjs
'use strict';
const { chromium } = require('playwright-core');
const { shopScenarios } = require('./shop.cjs');
const { deliveryScenarios } = require('./delivery.cjs');
const { tabScenarios } = require('./tabs.cjs');
const { socketioScenarios } = require('./socketio.cjs');
const { pageScenarios } = require('./page.cjs');
const { freePort, until, relayBinary } = require('./harness.cjs');
const { spawn, execFileSync } = require('child_process');
const os = require('os');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '../..');
const out = path.join(root, '.ci/artifacts');
fs.mkdirSync(out, { recursive: true });
const children = [];

function start(cmd, args, env = {}, name = path.basename(cmd)) {
  const log = fs.openSync(path.join(out, `e2e-${name}.log`), 'w');
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  children.push(child);
  return child;
}

const number = (id) => id.slice(-8).toUpperCase();

async function main() {
  const kafka = `127.0.0.1:${await freePort()}`;
  // The broker runs in the background (not a child of node): its pid is
  // killed with the children, its directory removed.
  const brokerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-kafka-'));
  const brokerPid = Number(execFileSync('bash', [path.join(root, '.ci/kafka/start-broker'), brokerDir, kafka.split(':')[1]])
    .toString().trim());
  children.push({ kill: () => { try { process.kill(brokerPid, 'SIGKILL'); } catch {} fs.rmSync(brokerDir, { recursive: true, force: true }); } });
  const listen = `127.0.0.1:${await freePort()}`;
  const base = `http://${listen}`;
  // A fixed secret, so that signed-in pages stay signed in across a relay restart.
  const startRelay = () => start(relayBinary, ['--demo', '--listen', listen, '--kafka-brokers', kafka,
    '--static-dir', path.join(root, 'dist'), '--simulator-rate', '0',
    // Pings every 2 s: the relay announces a 6 s heartbeat window, which the
    // page follows, so the heartbeat test below takes seconds, not minutes.
    '--ping-interval-secs', '2'],
  { RUST_LOG: 'info,rdkafka=warn', JWT_SECRET: 'e2e-secret-0123456789abcdef' });
  let relay = startRelay();
  await until('relay ready', async () => (await fetch(`${base}/readyz`)).ok);

  const api = async (user, role, method, url, body) => {
    const login = await (await fetch(`${base}/api/dev/login`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: user, role }) })).json();
    const response = await fetch(`${base}${url}`, { method, headers: { authorization: `Bearer ${login.token}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body) });
    return response.json();
  };
  // The demo seeds two orders each for alice and bob.
  await until('seeded orders', async () => (await api('admin', 'admin', 'GET', '/api/orders')).orders.length >= 4);

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const loads = new Map();
  // Console errors a page logs: a CSP violation or a script error fails the run.
  const consoleErrors = [];
  async function signIn(name, before = () => {}) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    before(name, page);
    loads.set(name, 0);
    page.on('load', () => loads.set(name, loads.get(name) + 1));
    page.on('pageerror', (e) => { console.error(`[${name}] page error: ${e}`); consoleErrors.push(`${name}: ${e}`); });
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) consoleErrors.push(`${name}: ${m.text()}`);
    });
    await page.goto(base);
    await page.click(`button.account:has-text("${name}")`);
    await page.waitForSelector('.order[data-order-id]', { timeout: 20000 });
    return page;
  }
  // Every WebSocket each page opens, and the heartbeat frames on them.
  const sockets = new Map();
  const watchSockets = (name, page) => {
    sockets.set(name, { opened: 0, pings: 0, pongs: 0 });
    page.on('websocket', (ws) => {
      const s = sockets.get(name);
      s.opened += 1;
      ws.on('framesent', (f) => { if (String(f.payload).includes('"ping"')) s.pings += 1; });
      ws.on('framereceived', (f) => { if (String(f.payload).includes('"pong"')) s.pongs += 1; });
    });
  };
  const alice = await signIn('alice', watchSockets);
  const bob = await signIn('bob');
  // Every toast bob's page ever shows, from now on: a toast lives 4 s, so
  // looking at the page at the end would miss one shown earlier.
  await bob.evaluate(() => {
    window.toastLog = [];
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) {
          const el = node.nodeType === 1 ? node : node.parentElement;
          if (el && el.closest('.toasts')) window.toastLog.push(el.textContent);
        }
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
  const admin = await signIn('admin');
  const shot = async (page, name) => {
    const file = path.join(out, `e2e-${name}.png`);
    await page.screenshot({ path: file });
    console.log(`  screenshot: ${path.relative(root, file)}`);
  };
  const badge = (page, id) => page.locator(`.order[data-order-id="${id}"] .badge`);
  const expectBadge = async (page, id, status, label) => {
    await until(`badge ${label} on ${id}`, async () => (await badge(page, id).getAttribute('class')).includes(`badge-${status}`)
      && (await badge(page, id).innerText()).trim() === label, 10000);
  };
  const expectToast = (page, text) => page.locator('.toasts').getByText(text).first().waitFor({ timeout: 10000 });

  let passed = 0;
  let failed = 0;
  const test = async (name, body) => {
    try {
      await body();
      passed += 1;
      console.log(`ok - ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAILED - ${name}: ${e.message}`);
      for (const [who, page] of [['alice', alice], ['bob', bob], ['admin', admin]]) {
        await shot(page, `failed-${passed + failed}-${who}`).catch(() => {});
      }
    }
  };

  const aliceOrders = (await api('alice', 'user', 'GET', '/api/orders')).orders;
  const pending = aliceOrders.find((o) => o.status === 'pending');

  await test('admin moves alice\'s order to processing then shipped: badge and toast change live', async () => {
    const row = admin.locator(`.order[data-order-id="${pending.orderId}"]`);
    await row.getByText('Advance to processing').click();
    await expectBadge(alice, pending.orderId, 'processing', 'Processing');
    await expectToast(alice, `Order #${number(pending.orderId)} - Your order is being processed`);
    await row.getByText('Advance to shipped').click();
    await expectBadge(alice, pending.orderId, 'shipped', 'Shipped');
    await expectToast(alice, `Order #${number(pending.orderId)} - Your order has been shipped`);
    await shot(alice, '1-status-update');
  });

  let placed;
  await test('alice checks out: the new order appears on top with "created successfully!"', async () => {
    const before = new Set(aliceOrders.map((o) => o.orderId));
    await alice.getByText('Place a demo order').click();
    const toast = alice.locator('.toasts').getByText(/created successfully!/).first();
    await toast.waitFor({ timeout: 10000 });
    placed = await until('new order on top', async () => {
      const id = await alice.locator('.order[data-order-id]').first().getAttribute('data-order-id');
      return before.has(id) ? null : id;
    });
    const text = await toast.innerText();
    if (!text.includes(`Order #${number(placed)} created successfully!`)) throw new Error(`toast says ${text}`);
    // The admin dashboard, open all along, shows it too.
    await expectBadge(admin, placed, 'pending', 'Pending');
    await shot(alice, '2-checkout');
  });

  await test('alice cancels a pending order: red badge and "has been cancelled"', async () => {
    await alice.locator(`.order[data-order-id="${placed}"]`).getByText('Cancel Order', { exact: true }).click();
    await alice.locator(`.order[data-order-id="${placed}"]`).getByText('Yes, cancel', { exact: true }).click();
    await expectBadge(alice, placed, 'cancelled', 'Cancelled');
    await expectBadge(admin, placed, 'cancelled', 'Cancelled');
    await expectToast(alice, `Order #${number(placed)} has been cancelled`);
    const color = await badge(alice, placed).evaluate((el) => getComputedStyle(el).color + ' ' + getComputedStyle(el).backgroundColor);
    const [r, g] = color.match(/\d+/g).map(Number);
    if (!(r > g)) throw new Error(`cancelled badge is not red: ${color}`);
    await shot(alice, '3-cancel');
  });

  await test('bob, open all along, saw none of alice\'s orders or toasts', async () => {
    const ids = await bob.locator('.order[data-order-id]').evaluateAll((rows) => rows.map((r) => r.dataset.orderId));
    const alices = new Set((await api('alice', 'user', 'GET', '/api/orders')).orders.map((o) => o.orderId));
    if (ids.length === 0) throw new Error('bob sees no orders at all');
    if (ids.some((id) => alices.has(id))) throw new Error('bob sees one of alice\'s orders');
    const toasts = await bob.evaluate(() => window.toastLog);
    for (const id of alices) {
      if (toasts.some((t) => t.includes(number(id)))) throw new Error(`bob got a toast about ${id}: ${toasts}`);
    }
    await shot(bob, '4-bob');
  });

  await test('admin cancels one of bob\'s orders and filters the dashboard: bob sees it live', async () => {
    const order = (await api('bob', 'user', 'GET', '/api/orders')).orders.find((o) => o.status === 'pending');
    await admin.locator(`.order[data-order-id="${order.orderId}"]`).getByText('Cancel Order', { exact: true }).click();
    await admin.locator(`.order[data-order-id="${order.orderId}"]`).getByText('Yes, cancel', { exact: true }).click();
    await expectBadge(bob, order.orderId, 'cancelled', 'Cancelled');
    await expectToast(bob, `Order #${number(order.orderId)} has been cancelled`);
    // The recorder behind the previous test sees toasts (it is not vacuous).
    const log = await bob.evaluate(() => window.toastLog);
    if (!log.some((t) => t.includes(number(order.orderId)))) throw new Error(`bob's toast log missed his own toast: ${log}`);
    await admin.locator('.filters select').first().selectOption('cancelled');
    await admin.locator('.filters select').nth(1).selectOption('bob');
    const shown = await admin.locator('.order[data-order-id]').evaluateAll((rows) => rows.map((r) => r.dataset.orderId));
    if (shown.length !== 1 || shown[0] !== order.orderId) throw new Error(`filtered dashboard shows ${shown}`);
    await shot(admin, '5-admin-filtered');
    await admin.locator('.filters select').first().selectOption('');
    await admin.locator('.filters select').nth(1).selectOption('');
  });

  await test('the relay restarts while pages are open: reconnecting, then the right state, no reload', async () => {
    const order = (await api('alice', 'user', 'GET', '/api/orders')).orders.find((o) => o.status === 'pending');
    relay.kill('SIGKILL');
    await alice.locator('.chip-reconnecting').waitFor({ timeout: 10000 });
    await shot(alice, '6-reconnecting');
    // While no relay runs, the order service moves alice's order on.
    const { Kafka, logLevel } = require(path.join(root, 'bench/baseline-node/node_modules/kafkajs'));
    const producer = new Kafka({ brokers: [kafka], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic: 'order.updated', messages: [{ key: order.orderId, value: JSON.stringify({
      orderId: order.orderId, status: 'processing', previousStatus: 'pending',
      updatedAt: new Date().toISOString(), message: 'Your order is being processed' }) }] });
    await producer.disconnect();
    relay = startRelay();
    await expectBadge(alice, order.orderId, 'processing', 'Processing');
    await alice.locator('.chip-connected').waitFor({ timeout: 20000 });
    await shot(alice, '7-resumed');
  });

  await test('an idle page keeps one socket through several heartbeat windows; a relay that stops answering is noticed and the page resumes by cursor', async () => {
    const metric = async (sample) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      return Number(line.split(' ')[1]);
    };
    const at = { ...sockets.get('alice') };
    // 20 s idle: more than three 6 s windows.
    await new Promise((r) => setTimeout(r, 20000));
    const idle = sockets.get('alice');
    if (idle.opened !== at.opened) throw new Error(`the idle page reconnected ${idle.opened - at.opened} times`);
    if (idle.pings - at.pings < 3 || idle.pongs - at.pongs < 3) {
      throw new Error(`heartbeat: ${idle.pings - at.pings} pings, ${idle.pongs - at.pongs} pongs in 20 s`);
    }
    // The relay stops answering (a hung process: its sockets stay open).
    const replays = await metric('relay_resumes_total{kind="replay"}');
    const snapshots = await metric('relay_resumes_total{kind="snapshot"}');
    const order = (await api('alice', 'user', 'GET', '/api/orders')).orders.find((o) => o.status === 'pending' || o.status === 'processing');
    // The page says so on its console when its heartbeat window passes in
    // silence (the chip's "reconnecting" can be shorter than a frame).
    let silentAt = null;
    const onConsole = (m) => { if (!silentAt && m.text().includes('Nothing heard for too long')) silentAt = Date.now(); };
    alice.on('console', onConsole);
    relay.kill('SIGSTOP');
    const stoppedAt = Date.now();
    try {
      await until('the page noticing the silent relay', () => silentAt, 20000);
      const noticed = (silentAt - stoppedAt) / 1000;
      if (noticed > 12) throw new Error(`the dead link was noticed only after ${noticed} s (window 6 s)`);
      console.log(`  the dead link was noticed after ${noticed.toFixed(1)} s (window 6 s)`);
      await shot(alice, '7b-relay-hung');
      // Meanwhile the order service moves the order on.
      const { Kafka, logLevel } = require(path.join(root, 'bench/baseline-node/node_modules/kafkajs'));
      const producer = new Kafka({ brokers: [kafka], logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      await producer.send({ topic: 'order.updated', messages: [{ key: order.orderId, value: JSON.stringify({
        orderId: order.orderId, status: 'shipped', updatedAt: new Date().toISOString(), message: 'Your order has been shipped' }) }] });
      await producer.disconnect();
    } finally {
      alice.off('console', onConsole);
      relay.kill('SIGCONT');
    }
    await expectBadge(alice, order.orderId, 'shipped', 'Shipped');
    await alice.locator('.chip-connected').waitFor({ timeout: 20000 });
    if (await metric('relay_resumes_total{kind="snapshot"}') !== snapshots) throw new Error('a page resumed with a snapshot');
    if (await metric('relay_resumes_total{kind="replay"}') <= replays) throw new Error('no resume by cursor was counted');
    await shot(alice, '7c-resumed-after-hang');
  });

  await shopScenarios({
    browser, test, shot, until, freePort, errors: consoleErrors,
    relayPort: Number(listen.split(':')[1]), secret: 'e2e-secret-0123456789abcdef',
    checkout: (user) => api(user, 'user', 'POST', '/api/orders',
      { items: [{ productId: 'p-mug', name: 'Stoneware mug', quantity: 1, price: 12.5 }] }),
  });

  await deliveryScenarios({
    browser, test, shot, until, freePort, start, kafka, errors: consoleErrors,
    relayBinary,
    dist: path.join(root, 'dist'),
  });

  await tabScenarios({
    browser, test, shot, until, freePort, start, kafka, root, errors: consoleErrors,
    relayBinary,
    dist: path.join(root, 'dist'),
  });

  await socketioScenarios({
    browser, test, until, freePort, start, kafka,
    relayBinary,
  });

  await pageScenarios({
    browser, test, shot, until, freePort, start, root, out, errors: consoleErrors,
    cleanup: (stop) => children.push({ kill: stop }),
    relayBinary,
    dist: path.join(root, 'dist'),
  });

  await test('the pages ran under the Content-Security-Policy with no violation or script error', async () => {
    const page = await (await fetch(base)).headers;
    if (!(page.get('content-security-policy') || '').includes("script-src 'self'")) throw new Error('no CSP on the page');
    if (consoleErrors.length) throw new Error(consoleErrors.join('\n'));
  });

  await test('no page was reloaded', async () => {
    for (const [name, count] of loads) if (count !== 1) throw new Error(`${name}'s page loaded ${count} times`);
    await shot(admin, '8-admin');
  });

  // Close the browser before exiting: a renderer left behind keeps a core busy.
  await browser.close();
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0;
}

let browser;
main()
  .then((ok) => { children.forEach((c) => c.kill()); process.exit(ok ? 0 : 1); })
  .catch(async (e) => {
    console.error(e);
    if (browser) await browser.close().catch(() => {});
    children.forEach((c) => c.kill());
    process.exit(1);
  });
