// One socket per browser and the offline page (issue #25), for
// client/e2e/seed.cjs: a relay of its own on the same broker (topics of its
// own, so it can be stopped without disturbing the other scenarios).
//
// - Three tabs of one browser signed in as alice hold one connection; an
//   admin's change shows in all three with one toast; the leader tab closes
//   and the others carry on with nothing missed (the new leader resumes by
//   replay); sign-out in one tab signs out the others.
// - Offline: alice's page loads, the relay stops, the page is reloaded and
//   shows her orders from the cache (the service worker serves the page)
//   with an offline chip; events published meanwhile arrive by replay when
//   the relay is back.
'use strict';
const path = require('path');
const { ownTopics, relayApi } = require('./relay-api.cjs');

async function tabScenarios(h) {
  const listen = `127.0.0.1:${await h.freePort()}`;
  const base = `http://${listen}`;
  const topics = ownTopics('tabs');
  let dist = h.dist;
  const startRelay = () => h.start(h.relayBinary, ['--demo', '--listen', listen, '--kafka-brokers', h.kafka,
    '--static-dir', dist, '--simulator-rate', '0', '--ping-interval-secs', '2', ...topics],
  { RUST_LOG: 'info,rdkafka=warn', JWT_SECRET: 'e2e-tabs-secret-0123456789abcd' }, 'relay-tabs');
  let relay = startRelay();
  await h.until('the tabs relay ready', async () => (await fetch(`${base}/readyz`)).ok, 60000);
  const { api, metric } = relayApi(base);
  await h.until('seeded orders', async () => (await api('GET', '/api/orders')).orders.length >= 4, 30000);
  const aliceOrders = async () => (await api('GET', '/api/orders', undefined, 'alice', 'user')).orders;
  const badge = (page, id) => page.locator(`.order[data-order-id="${id}"] .badge`);
  const hasBadge = async (page, id, status) => (await badge(page, id).getAttribute('class') || '').includes(`badge-${status}`);
  const number = (id) => id.slice(-8).toUpperCase();
  const watch = (name, page) => {
    page.on('pageerror', (e) => h.errors.push(`${name}: ${e}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) h.errors.push(`${name}: ${m.text()}`);
    });
  };
  // Every toast a page shows from now on (a toast lives 4 s).
  const logToasts = (page) => page.evaluate(() => {
    window.toastLog = [];
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) {
          if (node.nodeType === 1 && node.classList.contains('toast')) window.toastLog.push(node.textContent);
        }
      }
    }).observe(document.querySelector('.toasts'), { childList: true });
  });

  const context = await h.browser.newContext({ viewport: { width: 1200, height: 800 } });
  const tabs = [];
  for (let i = 0; i < 3; i += 1) {
    const page = await context.newPage();
    watch(`alice tab ${i + 1}`, page);
    await page.goto(base);
    await page.click('button.account:has-text("alice")');
    await page.waitForSelector('.order[data-order-id]', { timeout: 20000 });
    tabs.push(page);
  }
  for (const page of tabs) await logToasts(page);

  await h.test('three tabs of one browser hold one connection; a change shows in all three, with one toast', async () => {
    await h.until('one connection for three tabs', async () => await metric('relay_ws_connections') === 1, 10000);
    await new Promise((r) => setTimeout(r, 1000));
    const open = await metric('relay_ws_connections');
    if (open !== 1) throw new Error(`the relay holds ${open} connections for alice's three tabs`);
    const order = (await aliceOrders()).find((o) => o.status === 'pending');
    await api('PATCH', `/api/admin/orders/${order.orderId}`, { status: 'processing' });
    for (const page of tabs) await h.until('the change in every tab', () => hasBadge(page, order.orderId, 'processing'), 10000);
    await new Promise((r) => setTimeout(r, 1000));
    const toasts = await Promise.all(tabs.map((page) => page.evaluate(() => window.toastLog.length)));
    if (toasts.reduce((a, b) => a + b, 0) !== 1) throw new Error(`toasts per tab: ${toasts.join(', ')}; want one in all`);
    console.log(`  toasts per tab: ${toasts.join(', ')}`);
    await h.shot(tabs[2], '15-three-tabs');
  });

  await h.test('the leader tab closes: another takes over by replay and nothing is missed', async () => {
    const replays = await metric('relay_resumes_total{kind="replay"}');
    const snapshots = await metric('relay_resumes_total{kind="snapshot"}');
    const order = (await aliceOrders()).find((o) => o.status === 'processing');
    // The first tab took the lead (the others waited for its lock).
    const closedAt = Date.now();
    await tabs[0].close();
    // The order moves on while the tabs change hands.
    await api('PATCH', `/api/admin/orders/${order.orderId}`, { status: 'shipped' });
    for (const page of tabs.slice(1)) await h.until('the event in the remaining tabs', () => hasBadge(page, order.orderId, 'shipped'), 10000);
    await h.until('one connection again', async () => await metric('relay_ws_connections') === 1, 10000);
    console.log(`  taken over and caught up ${((Date.now() - closedAt) / 1000).toFixed(1)} s after the close`);
    if (await metric('relay_resumes_total{kind="replay"}') <= replays) throw new Error('the new leader did not resume by replay');
    if (await metric('relay_resumes_total{kind="snapshot"}') !== snapshots) throw new Error('the new leader asked for a snapshot');
    // A new event after the hand-over reaches both.
    await api('PATCH', `/api/admin/orders/${order.orderId}`, { status: 'delivered' });
    for (const page of tabs.slice(1)) await h.until('a new event in both', () => hasBadge(page, order.orderId, 'delivered'), 10000);
    const rows = await Promise.all(tabs.slice(1).map((page) => page.locator('.order[data-order-id]').count()));
    const expected = (await aliceOrders()).length;
    if (rows.some((n) => n !== expected)) throw new Error(`rows per tab ${rows.join(', ')}, want ${expected}`);
  });

  await h.test('a command from a follower tab works, and its result shows in every tab', async () => {
    const order = (await aliceOrders()).find((o) => o.status === 'pending');
    const follower = tabs[2];
    await follower.locator(`.order[data-order-id="${order.orderId}"]`).getByText('Cancel Order').click();
    await follower.locator(`.order[data-order-id="${order.orderId}"]`).getByText('Yes, cancel').click();
    for (const page of tabs.slice(1)) await h.until('the cancel in both tabs', () => hasBadge(page, order.orderId, 'cancelled'), 10000);
  });

  await h.test('sign-out in one tab signs out the others', async () => {
    await tabs[1].click('button:has-text("Sign out")');
    await tabs[2].getByText('You signed out in another tab.').waitFor({ timeout: 5000 });
    await h.shot(tabs[2], '16-signed-out-elsewhere');
    await h.until('no connection left', async () => await metric('relay_ws_connections') === 0, 10000);
  });
  await context.close();

  await h.test('offline: the page opens from the cache with the relay down, then catches up by replay', async () => {
    // An order still to move (the tests above moved or cancelled hers).
    const placed = await api('POST', '/api/orders',
      { items: [{ productId: 'p-mug', name: 'Stoneware mug', quantity: 1, price: 12.5 }] }, 'alice', 'user');
    await h.until('her new order', async () => (await aliceOrders()).some((o) => o.orderId === placed.orderId), 10000);
    const offline = await h.browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await offline.newPage();
    watch('alice offline', page);
    await page.goto(base);
    await page.click('button.account:has-text("alice")');
    await page.waitForSelector('.order[data-order-id]', { timeout: 20000 });
    // The worker has the release's files, and the cache has her orders.
    await page.evaluate(() => navigator.serviceWorker.ready);
    await h.until('the page under its worker', () => page.evaluate(() => !!navigator.serviceWorker.controller), 10000)
      .catch(async () => { await page.reload(); await page.waitForSelector('.order[data-order-id]'); });
    await new Promise((r) => setTimeout(r, 1500));
    const rows = await page.locator('.order[data-order-id]').count();
    const order = placed;

    relay.kill('SIGKILL');
    await h.until('the relay gone', async () => { try { await fetch(`${base}/readyz`); return false; } catch { return true; } });
    await page.reload();
    await page.waitForSelector('.order[data-order-id]', { timeout: 10000 });
    const cached = await page.locator('.order[data-order-id]').count();
    if (cached !== rows) throw new Error(`${cached} orders from the cache, ${rows} before`);
    const chip = await page.locator('.chip').innerText();
    if (!/Offline · last updated/.test(chip)) throw new Error(`the chip says "${chip}"`);
    await h.shot(page, '17-offline-from-cache');

    // While the relay is down, the order service moves her order on.
    const { Kafka, logLevel } = require(path.join(h.root, 'bench/baseline-node/node_modules/kafkajs'));
    const producer = new Kafka({ brokers: [h.kafka], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic: 'tabs.updated', messages: [{ key: order.orderId, value: JSON.stringify({
      orderId: order.orderId, status: 'shipped', updatedAt: new Date().toISOString(), message: 'Your order has been shipped' }) }] });
    await producer.disconnect();

    relay = startRelay();
    await h.until('the tabs relay back', async () => (await fetch(`${base}/readyz`)).ok, 60000);
    await h.until('caught up', () => hasBadge(page, order.orderId, 'shipped'), 30000);
    await page.locator('.chip-connected').waitFor({ timeout: 20000 });
    const replays = await metric('relay_resumes_total{kind="replay"}');
    const snapshots = await metric('relay_resumes_total{kind="snapshot"}');
    if (replays < 1 || snapshots !== 0) throw new Error(`resumes on the restarted relay: ${replays} replays, ${snapshots} snapshots`);
    await page.getByText(`Order #${number(order.orderId)}`).first().waitFor({ timeout: 5000 }).catch(() => {});
    await h.shot(page, '18-caught-up');

    // A new release: the next online visit gets it, and the worker's cache
    // then holds that release's files only.
    const release = (name) => page.evaluate(async (name) => {
      const sheet = document.querySelector('link[rel=stylesheet]').getAttribute('href');
      const keys = (await caches.keys()).filter((k) => k.startsWith('order-relay-'));
      const cached = keys.length === 1 ? (await (await caches.open(keys[0])).keys()).map((r) => new URL(r.url).pathname) : [];
      return { name, sheet, keys, cached };
    }, name);
    const before = await release('A');
    dist = makeRelease(h.dist);
    relay.kill('SIGKILL');
    await h.until('the relay gone', async () => { try { await fetch(`${base}/readyz`); return false; } catch { return true; } });
    relay = startRelay();
    await h.until('the tabs relay back', async () => (await fetch(`${base}/readyz`)).ok, 60000);
    await page.reload();
    await page.waitForSelector('.order[data-order-id]', { timeout: 20000 });
    const online = await release('B online');
    if (online.sheet === before.sheet) throw new Error(`an online visit kept the old release: ${JSON.stringify(online)}`);
    const installed = await h.until('the new worker and its cache', async () => {
      const now = await release('B cached');
      return now.keys.length === 1 && now.keys[0] !== before.keys[0] && now.cached.includes(online.sheet) && now;
    }, 20000);
    if (installed.cached.includes(before.sheet)) throw new Error(`release A's file in B's cache: ${JSON.stringify(installed)}`);
    relay.kill('SIGKILL');
    await h.until('the relay gone', async () => { try { await fetch(`${base}/readyz`); return false; } catch { return true; } });
    await page.reload();
    await page.waitForSelector('.order[data-order-id]', { timeout: 10000 });
    const offlineB = await release('B offline');
    if (offlineB.sheet !== online.sheet) throw new Error(`offline, the page is not release B's: ${JSON.stringify(offlineB)}`);
    console.log(`  release A ${before.keys[0]} -> B ${installed.keys[0]}: ${installed.cached.length} files cached, none of A's`);
    relay = startRelay();
    await h.until('the tabs relay back', async () => (await fetch(`${base}/readyz`)).ok, 60000);
    await offline.close();
  });
  relay.kill();
}

/// A copy of the release bundle in `dist` as the next release would be:
/// its stylesheet renamed (another content hash), index.html pointing at
/// it, the service worker written for it. Returns its directory.
function makeRelease(dist) {
  const fs = require('fs');
  const os = require('os');
  const { execFileSync } = require('child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-release-b-'));
  for (const name of fs.readdirSync(dist)) {
    if (!/\.(br|gz)$/.test(name) && name !== 'sw.js') fs.copyFileSync(path.join(dist, name), path.join(dir, name));
  }
  const sheet = fs.readdirSync(dir).find((n) => /^main-[0-9a-f]{10,16}\.css$/.test(n));
  const next = 'main-00000000000000b2.css';
  fs.writeFileSync(path.join(dir, next), `${fs.readFileSync(path.join(dir, sheet))}\n/* release B */\n`);
  fs.rmSync(path.join(dir, sheet));
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8')
    .replace(`/${sheet}`, `/${next}`)
    .replace(/(<link href=\/main-00000000000000b2\.css) integrity=[^ >]+/, '$1')
    .replace(/<meta name=order-relay-sw content=\/sw\.js>/g, '');
  fs.writeFileSync(path.join(dir, 'index.html'), html);
  const root = path.resolve(__dirname, '../..');
  execFileSync('bash', [path.join(root, '.ci/service-worker'), dir]);
  execFileSync('bash', [path.join(root, '.ci/precompress'), dir]);
  return dir;
}

module.exports = { tabScenarios };
