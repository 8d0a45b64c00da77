// The admin Delivery panel (issue #24), for client/e2e/seed.cjs: a relay of
// its own on the same broker (topics of its own), with the demo simulator
// placing and moving orders; an admin's orders page open in one tab (it
// measures and reports delivery, as every page does) and the panel, opened
// from it, in another. The panel first says it has no sample yet, then
// charts every stage, the browsers' one included.
'use strict';
const { ownTopics } = require('./relay-api.cjs');

async function deliveryScenarios(h) {
  const listen = `127.0.0.1:${await h.freePort()}`;
  const base = `http://${listen}`;
  const topics = ownTopics('delivery');
  h.start(h.relayBinary, ['--demo', '--listen', listen, '--kafka-brokers', h.kafka, '--static-dir', h.dist,
    '--simulator-rate', '20', ...topics],
  { RUST_LOG: 'info,rdkafka=warn', JWT_SECRET: 'e2e-delivery-secret-0123456789' }, 'relay-delivery');
  await h.until('the panel relay ready', async () => (await fetch(`${base}/readyz`)).ok, 60000);

  await h.test('the Delivery panel says it has no sample yet, then charts every stage under the simulator\'s traffic', async () => {
    const login = await (await fetch(`${base}/api/dev/login`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'admin', role: 'admin' }) })).json();
    const fragment = async () => (await fetch(`${base}/api/admin/delivery`, { headers: { authorization: `Bearer ${login.token}` } })).text();
    // A relay samples every 10 s: just after its start there is nothing to draw.
    const first = await fragment();
    if (!first.includes('No sample yet')) throw new Error(`a new relay's panel: ${first.slice(0, 300)}`);

    const context = await h.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const orders = await context.newPage();
    orders.on('pageerror', (e) => h.errors.push(`delivery orders page: ${e}`));
    await orders.goto(base);
    await orders.click('button.account:has-text("admin")');
    await orders.waitForSelector('.order[data-order-id]', { timeout: 20000 });
    const link = orders.locator('a[href="/admin/delivery"]');
    if ((await link.getAttribute('href')) !== '/admin/delivery') throw new Error('no Delivery link on the admin page');
    // Opened from the orders page, the panel shares its sign-in.
    const [panel] = await Promise.all([
      context.waitForEvent('page'),
      orders.evaluate(() => window.open('/admin/delivery')),
    ]);
    panel.on('pageerror', (e) => h.errors.push(`delivery panel: ${e}`));
    panel.on('console', (m) => {
      if (m.type() === 'error') h.errors.push(`delivery panel: ${m.text()}`);
    });
    await panel.waitForSelector('.delivery', { timeout: 20000 });
    await h.shot(panel, '13-delivery-empty');
    // Browsers report every 5 s, the relay samples every 10 s.
    await h.until('every stage charted, the browsers\' too', async () => {
      const captions = await panel.locator('.chart figcaption').allInnerTexts();
      const browser = captions.find((c) => c.startsWith('Relay → browser'));
      return captions.length >= 6 && browser && /p99 [\d.]+ (µs|ms|s)/.test(browser);
    }, 45000);
    // Three points or more: lines, not dots, in the screenshot.
    await h.until('three samples charted', async () => {
      const scale = await panel.locator('.chart .scale').first().innerText();
      const secs = Number((scale.match(/last (\d+) s/) || [])[1] || (scale.includes(' min') ? 999 : 0));
      return secs >= 30;
    }, 45000);
    const text = await panel.locator('.delivery').innerText();
    for (const title of ['Kafka → relay', 'Relay → socket', 'Relay → browser', 'Connections', 'Reconnects', 'Consumer lag']) {
      if (!text.includes(title)) throw new Error(`the panel lacks ${title}:\n${text}`);
    }
    await h.shot(panel, '14-delivery');
    await context.close();
  });
}

module.exports = { deliveryScenarios };
