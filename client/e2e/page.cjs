// The page a shop would ship (issue #26), for client/e2e/seed.cjs: the
// release bundle on a relay of its own, on an Apache Kafka broker of its own
// (the last scenario stops it).
//
// - Optimistic commands: "Cancelling…" is on the page before the next frame
//   is painted and before the relay's `order:cancelled` frame arrives
//   (measured in the page); an admin's change the relay refuses with 409
//   rolls back, and the live event held back meanwhile is not lost; with the
//   broker stopped a cancel rolls back with an error; so does a cancel
//   nothing answers, when its 10 s deadline passes.
// - The whole flow with the keyboard alone: sign in, check out, cancel, and
//   an admin's status change.
// - Money and times in the browser's locale and time zone.
// - axe-core's audit of every page and state (sign-in, orders, empty,
//   loading, unreachable, reconnecting, admin, toasts, phone width, dark):
//   no serious or critical violation. The report is kept as
//   .ci/artifacts/axe-report.json.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { ownTopics, relayApi } = require('./relay-api.cjs');

const number = (id) => id.slice(-8).toUpperCase();

// Records, in the page, when each WebSocket message arrives and when each
// badge of an order changes text, on the page's own clock.
function instrument() {
  window.__frames = [];
  window.__badges = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => window.__frames.push({ at: performance.now(), text: String(e.data) }));
    }
  };
  const watch = () => new MutationObserver(() => {
    for (const badge of document.querySelectorAll('.order[data-order-id] .badge')) {
      const id = badge.closest('.order').dataset.orderId;
      const text = badge.textContent;
      const last = window.__badges.filter((b) => b.id === id).pop();
      if (!last || last.text !== text) window.__badges.push({ id, text, at: performance.now() });
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
  if (document.body) watch(); else addEventListener('DOMContentLoaded', watch);
  // The first animation frame after each click: what was on the page then
  // is what the next paint showed.
  window.__clicks = [];
  addEventListener('click', () => {
    const click = { at: performance.now(), frame: null };
    window.__clicks.push(click);
    requestAnimationFrame(() => { click.frame = performance.now(); });
  }, true);
}

// Serves the release bundle's files alone (no relay, no API, no socket) on
// 127.0.0.1:PORT: a page whose relay cannot be reached.
function serveBundle(dist, port, cleanup) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
  const server = require('http').createServer((req, res) => {
    const name = path.basename(new URL(req.url, 'http://x').pathname) || 'index.html';
    const file = path.join(dist, name);
    if (!fs.existsSync(file) || name === 'sw.js') { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  cleanup(() => server.close());
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(`http://127.0.0.1:${port}`)));
}

async function pageScenarios(h) {
  const brokerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-page-kafka-'));
  const brokerPort = await h.freePort();
  const brokerPid = Number(execFileSync('bash', [path.join(h.root, '.ci/kafka/start-broker'), brokerDir, String(brokerPort)])
    .toString().trim());
  const stopBroker = () => { try { process.kill(brokerPid, 'SIGKILL'); } catch {} };
  h.cleanup(() => { stopBroker(); fs.rmSync(brokerDir, { recursive: true, force: true }); });
  const listen = `127.0.0.1:${await h.freePort()}`;
  const base = `http://${listen}`;
  h.start(h.relayBinary, ['--demo', '--listen', listen, '--kafka-brokers', `127.0.0.1:${brokerPort}`,
    '--static-dir', h.dist, '--simulator-rate', '0', ...ownTopics('page')],
  { RUST_LOG: 'info,rdkafka=warn', JWT_SECRET: 'e2e-page-secret-0123456789abcdef' }, 'relay-page');
  await h.until('the page relay ready', async () => (await fetch(`${base}/readyz`)).ok, 60000);
  const { token, api } = relayApi(base);
  const checkout = (user) => api('POST', '/api/orders',
    { items: [{ productId: 'p-mug', name: 'Stoneware mug', quantity: 2, price: 12.5 }] }, user, 'user');

  const open = async (name, options = {}, before = async () => {}) => {
    const context = await h.browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
    const page = await context.newPage();
    page.on('pageerror', (e) => h.errors.push(`page ${name}: ${e}`));
    await before(page);
    return page;
  };
  const signIn = async (page, user) => {
    await page.goto(base);
    await page.click(`button.account:has-text("${user}")`);
  };
  const row = (page, id) => page.locator(`.order[data-order-id="${id}"]`);
  // Cancels from the row: Cancel, then "Yes, cancel"; answers when "Yes"
  // was pressed (Date.now()), as the request leaves then.
  const cancelFromRow = async (page, id) => {
    await row(page, id).getByRole('button', { name: `Cancel order #${number(id)}` }).click();
    const confirmed = Date.now();
    await row(page, id).getByRole('button', { name: 'Yes, cancel' }).click();
    return confirmed;
  };
  const badgeIs = (page, id, text) => h.until(`${id} says ${text}`,
    async () => (await row(page, id).locator('.badge').innerText()).trim() === text, 20000);

  await h.test('a cancel says "Cancelling…" in the frame after the click, before the relay\'s frame arrives', async () => {
    const order = await checkout('alice');
    const page = await open('alice', {}, (p) => p.addInitScript(instrument));
    await signIn(page, 'alice');
    await row(page, order.orderId).waitFor({ timeout: 20000 });
    await cancelFromRow(page, order.orderId);
    await badgeIs(page, order.orderId, 'Cancelled');
    const seen = await page.evaluate((id) => ({
      click: window.__clicks[window.__clicks.length - 1],
      badges: window.__badges.filter((b) => b.id === id),
      frame: window.__frames.find((f) => f.text.includes('order:cancelled') && f.text.includes(id)),
    }), order.orderId);
    const pending = seen.badges.find((b) => b.text === 'Cancelling…');
    const cancelled = seen.badges.find((b) => b.text === 'Cancelled');
    if (!pending) throw new Error(`the badge never said Cancelling…: ${JSON.stringify(seen.badges)}`);
    if (!seen.frame) throw new Error('no order:cancelled frame was seen');
    if (!(pending.at >= seen.click.at && pending.at <= seen.click.frame)) {
      throw new Error(`"Cancelling…" at ${pending.at}, click at ${seen.click.at}, next frame at ${seen.click.frame}`);
    }
    if (!(pending.at < seen.frame.at)) throw new Error(`"Cancelling…" at ${pending.at}, the relay's frame at ${seen.frame.at}`);
    if (!(cancelled.at >= seen.frame.at)) throw new Error('the badge said Cancelled before the relay did');
    console.log(`  "Cancelling…" ${(pending.at - seen.click.at).toFixed(1)} ms after the click (next frame at +${(seen.click.frame - seen.click.at).toFixed(1)} ms); the relay's frame at +${(seen.frame.at - seen.click.at).toFixed(1)} ms`);
    await page.context().close();
  });

  await h.test('an admin\'s change the relay refuses with 409 rolls back; the live event held meanwhile is kept', async () => {
    const order = await checkout('bob');
    // The admin's page does not get the order's cancellation (held back
    // here), so it still offers to advance it; the relay knows better.
    const held = [];
    let release = null;
    const page = await open('admin-409', {}, (p) => p.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => {
        if (String(m).includes('order:cancelled') && String(m).includes(order.orderId)) {
          held.push(m);
          release = () => held.splice(0).forEach((f) => ws.send(f));
        } else {
          ws.send(m);
        }
      });
    }));
    await signIn(page, 'admin');
    await row(page, order.orderId).waitFor({ timeout: 20000 });
    await api('POST', `/api/orders/${order.orderId}/cancel`, undefined, 'bob', 'user');
    await h.until('the cancellation held back', () => held.length > 0, 10000);
    let refused = null;
    page.on('response', (r) => { if (r.request().method() === 'PATCH') refused = r.status(); });
    await row(page, order.orderId).getByRole('button', { name: `Advance to Processing: order #${number(order.orderId)}` }).click();
    const alert = page.locator('.toast[role=alert]', { hasText: `Could not update order #${number(order.orderId)}` });
    await alert.waitFor({ timeout: 15000 });
    if (refused !== 409) throw new Error(`the relay answered ${refused}, not 409`);
    await badgeIs(page, order.orderId, 'Pending');
    await h.shot(page, '26-rollback-409');
    release();
    await badgeIs(page, order.orderId, 'Cancelled');
    // An error stays until dismissed.
    await new Promise((r) => setTimeout(r, 4500));
    if (!(await alert.isVisible())) throw new Error('the error toast closed itself');
    await alert.getByRole('button', { name: 'Dismiss notification' }).click();
    await alert.waitFor({ state: 'detached', timeout: 5000 });
    await page.context().close();
  });

  await h.test('keyboard alone: sign in, check out, cancel with confirmation, and an admin\'s status change', async () => {
    const press = async (page, key) => page.keyboard.press(key);
    // Tabs until the focused element matches, at most `max` times.
    const tabTo = async (page, describe, matches, arg = null, max = 120) => {
      for (let i = 0; i < max; i += 1) {
        await press(page, 'Tab');
        if (await page.evaluate(matches, arg)) return;
      }
      throw new Error(`Tab never reached ${describe}`);
    };
    const signInByKeyboard = async (page, user) => {
      await page.goto(base);
      await page.locator('button.account').first().waitFor();
      await tabTo(page, `${user}'s account`, (name) => document.activeElement.matches('button.account')
        && document.activeElement.textContent.includes(name), user);
      await press(page, 'Enter');
    };
    const page = await open('keyboard');
    await signInByKeyboard(page, 'alice');
    await page.locator('.order[data-order-id]').first().waitFor({ timeout: 20000 });
    const before = await page.locator('.order[data-order-id]').count();
    await tabTo(page, 'Place a demo order', () => document.activeElement.textContent.trim() === 'Place a demo order');
    await h.shot(page, '26-keyboard-focus');
    await press(page, 'Enter');
    await h.until('the new order', async () => (await page.locator('.order[data-order-id]').count()) === before + 1, 15000);
    const placed = await page.locator('.order[data-order-id]').first().getAttribute('data-order-id');
    await badgeIs(page, placed, 'Pending');
    const label = (name) => document.activeElement.getAttribute('aria-label') === name;
    await tabTo(page, `Cancel order #${number(placed)}`, label, `Cancel order #${number(placed)}`);
    await press(page, 'Enter');
    // The confirmation takes the focus once drawn (the next frame).
    const focused = await h.until('the focus on the confirmation', async () => {
      const text = await page.evaluate(() => document.activeElement.textContent.trim());
      return text === 'Yes, cancel' && text;
    }, 2000).catch(async () => page.evaluate(() => document.activeElement.outerHTML));
    if (focused !== 'Yes, cancel') throw new Error(`after Cancel the focus is on ${focused}`);
    await press(page, 'Enter');
    await badgeIs(page, placed, 'Cancelled');

    const admin = await open('keyboard-admin');
    await signInByKeyboard(admin, 'admin');
    const order = await checkout('alice');
    await row(admin, order.orderId).waitFor({ timeout: 20000 });
    const advance = `Advance to Processing: order #${number(order.orderId)}`;
    await tabTo(admin, advance, label, advance);
    await press(admin, 'Enter');
    await badgeIs(admin, order.orderId, 'Processing');
    await page.context().close();
    await admin.context().close();
  });

  await h.test('a cancel nothing answers rolls back when its 10 s deadline passes, with an error that stays', async () => {
    const order = await checkout('bob');
    const page = await open('deadline');
    // The request reaches nobody and is never answered: neither a refusal
    // nor the relay's event ends the command, only its deadline.
    await page.route(/\/cancel$/, () => {});
    await signIn(page, 'bob');
    await row(page, order.orderId).waitFor({ timeout: 20000 });
    const sent = await cancelFromRow(page, order.orderId);
    await badgeIs(page, order.orderId, 'Cancelling…');
    const alert = page.locator('.toast[role=alert]', { hasText: 'was not confirmed in time' });
    await alert.waitFor({ timeout: 20000 });
    const after = (Date.now() - sent) / 1000;
    if (after < 9.5) throw new Error(`rolled back after ${after} s, before its 10 s deadline`);
    await badgeIs(page, order.orderId, 'Pending');
    if (!(await row(page, order.orderId).getByRole('button', { name: `Cancel order #${number(order.orderId)}` }).isEnabled())) {
      throw new Error('the row\'s Cancel stays disabled after the rollback');
    }
    console.log(`  rolled back after ${after.toFixed(1)} s: "${(await alert.innerText()).replace(/\s+/g, ' ').replace('×', '').trim()}"`);
    await h.shot(page, '26-rollback-deadline');
    await page.context().close();
  });

  await h.test('money and times read in the browser\'s locale and time zone', async () => {
    const order = await checkout('bob');
    const page = await open('locale', { locale: 'de-DE', timezoneId: 'Asia/Tokyo' });
    await signIn(page, 'bob');
    await row(page, order.orderId).waitFor({ timeout: 20000 });
    const total = (await row(page, order.orderId).locator('.order-total').innerText()).trim();
    const placed = (await row(page, order.orderId).locator('.order-time').innerText()).trim();
    const money = new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'USD' }).format(order.total);
    const time = new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Tokyo' })
      .format(new Date(order.createdAt));
    if (total !== money) throw new Error(`total "${total}", expected "${money}"`);
    if (placed !== time) throw new Error(`placed "${placed}", expected "${time}"`);
    console.log(`  de-DE, Asia/Tokyo: ${total}, ${placed}`);
    await page.context().close();
  });

  await h.test('axe-core finds no serious or critical violation on any page or state, light and dark, laptop and phone', async () => {
    const axe = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    const report = [];
    const audit = async (name, page) => {
      // Evaluated through the DevTools protocol: the page's CSP stays on.
      await page.evaluate(axe);
      const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      const violations = result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
      report.push({ state: name, violations });
      await h.shot(page, `26-axe-${name}`);
      return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    };
    const nobody = await token('nobody');
    const bundleOnly = await serveBundle(h.dist, await h.freePort(), h.cleanup);
    const mobile = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
    const reconnecting = async (p) => {
      let first = null;
      await p.routeWebSocket(/\/ws(\?|$)/, (ws) => {
        if (first) { setTimeout(() => ws.close({ code: 1011, reason: 'gone' }), 50); return; }
        first = ws;
        const server = ws.connectToServer();
        ws.onMessage((m) => server.send(m));
        server.onMessage((m) => ws.send(m));
      });
      await signIn(p, 'alice');
      await p.locator('.order[data-order-id]').first().waitFor();
      first.close({ code: 1011, reason: 'gone' });
      // A countdown of 2 s or more: the audit runs inside it.
      await h.until('a long countdown', async () => /Reconnecting in ([2-9]|\d\d) s/.test(
        await p.locator('.chip').innerText()), 20000);
    };
    const states = [
      ['signin', {}, async (p) => { await p.goto(base); await p.locator('button.account').first().waitFor(); }],
      ['signin-dark', { colorScheme: 'dark' }, async (p) => { await p.goto(base); await p.locator('button.account').first().waitFor(); }],
      ['orders', {}, async (p) => { await signIn(p, 'alice'); await p.locator('.order[data-order-id]').first().waitFor(); }],
      ['orders-dark', { colorScheme: 'dark' }, async (p) => { await signIn(p, 'alice'); await p.locator('.order[data-order-id]').first().waitFor(); }],
      ['orders-phone', mobile, async (p) => { await signIn(p, 'alice'); await p.locator('.order[data-order-id]').first().waitFor(); }],
      ['empty', {}, async (p) => { await p.goto(`${base}/?token=${nobody}`); await p.locator('.state-empty').waitFor({ timeout: 20000 }); }],
      ['loading', {}, async (p) => {
        await p.routeWebSocket(/\/ws(\?|$)/, () => {}); // opens, never answers
        await p.goto(`${base}/?token=${nobody}`); await p.locator('.state-loading').waitFor({ timeout: 20000 });
      }],
      // The bundle served without a relay behind it: the socket never opens.
      ['unreachable', {}, async (p) => {
        await p.goto(`${bundleOnly}/?token=${nobody}`); await p.locator('.state-error').waitFor({ timeout: 20000 });
      }],
      ['unreachable-dark', { colorScheme: 'dark' }, async (p) => {
        await p.goto(`${bundleOnly}/?token=${nobody}`); await p.locator('.state-error').waitFor({ timeout: 20000 });
      }],
      // Signed in with orders, then the relay goes away: the first socket
      // passes through until the orders are shown and is then closed; every
      // later one opens and closes at once, so the page counts down to its
      // next try.
      ['reconnecting', {}, reconnecting],
      ['reconnecting-dark', { colorScheme: 'dark' }, reconnecting],
      ['admin', {}, async (p) => { await signIn(p, 'admin'); await p.locator('.order[data-order-id]').first().waitFor(); }],
      ['admin-dark', { colorScheme: 'dark' }, async (p) => { await signIn(p, 'admin'); await p.locator('.order[data-order-id]').first().waitFor(); }],
      ['admin-phone', mobile, async (p) => { await signIn(p, 'admin'); await p.locator('.order[data-order-id]').first().waitFor(); }],
      ['toasts', {}, async (p) => {
        await signIn(p, 'alice'); await p.locator('.order[data-order-id]').first().waitFor();
        await checkout('alice');
        await p.locator('.toast').first().waitFor({ timeout: 10000 });
      }],
    ];
    const serious = [];
    for (const [name, options, reach] of states) {
      const page = await open(`axe-${name}`, options);
      await reach(page);
      await new Promise((r) => setTimeout(r, 300)); // transitions settle
      for (const v of await audit(name, page)) serious.push(`${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.join(', ')}`);
      await page.context().close();
    }
    fs.writeFileSync(path.join(h.out, 'axe-report.json'), JSON.stringify(report, null, 2));
    const all = report.reduce((n, s) => n + s.violations.length, 0);
    console.log(`  ${states.length} states audited, ${all} violations of any impact (.ci/artifacts/axe-report.json)`);
    if (serious.length) throw new Error(`serious or critical:\n${serious.join('\n')}`);
  });

  await h.test('with the broker stopped, a cancel rolls back to the confirmed status with an error that stays', async () => {
    const order = await checkout('alice');
    const page = await open('broker-down');
    await signIn(page, 'alice');
    await row(page, order.orderId).waitFor({ timeout: 20000 });
    stopBroker();
    // The relay answers 503 once the broker has not acknowledged for 5 s;
    // on a loaded machine the client's 10 s deadline may come first. Either
    // way the row rolls back with an alert.
    const sent = Date.now();
    let answered = 'no answer';
    page.on('response', (r) => { if (r.url().endsWith('/cancel')) answered = `${r.status()} after ${Date.now() - sent} ms`; });
    await cancelFromRow(page, order.orderId);
    await badgeIs(page, order.orderId, 'Cancelling…');
    const alert = page.locator('.toast[role=alert]', { hasText: `order #${number(order.orderId)}` });
    await alert.waitFor({ timeout: 30000 });
    await badgeIs(page, order.orderId, 'Pending');
    console.log(`  rolled back (the relay: ${answered}): "${(await alert.innerText()).replace(/\s+/g, ' ').replace('×', '').trim()}"`);
    await h.shot(page, '26-rollback-broker-down');
    await page.context().close();
  });
}

module.exports = { pageScenarios };

// Alone: `node client/e2e/page.cjs` (the debug relay built, dist/ the
// release bundle, Apache Kafka installed).
if (require.main === module) {
  const h = require('./harness.cjs');
  const children = [];
  const { test, count } = h.tests();
  (async () => {
    const browser = await h.launchChromium();
    const errors = [];
    try {
      await pageScenarios({ ...h, browser, test, errors, start: h.starter(children), dist: path.join(h.root, 'dist'),
        cleanup: (stop) => children.push({ kill: stop }) });
      if (errors.length) { count.failed += 1; console.log(`FAILED - page errors:\n${errors.join('\n')}`); }
    } finally {
      await browser.close();
      children.forEach((c) => c.kill());
    }
    console.log(`${count.passed} passed, ${count.failed} failed`);
    process.exit(count.failed ? 1 : 0);
  })().catch((e) => { console.error(e); children.forEach((c) => c.kill()); process.exit(1); });
}
