// The page embedded in a shop (issue #23), for client/e2e/seed.cjs: a real
// "shop front" in Node serves the shop's own sign-in (a session cookie) and a
// token endpoint, and proxies everything else (the release bundle, /api, the
// /ws upgrade) to the relay, as the shop's reverse proxy would. Its index.html
// is the relay's with the shop's hook added: a same-origin script defining
// `window.orderRelayToken()`, which asks the shop's token endpoint with the
// session cookie (client/README.md "Signing in"). Tokens are HS256 for the
// relay's secret, minted by the shop with a short life, so that renewal
// before expiry happens within the test.
'use strict';
const crypto = require('crypto');
const http = require('http');
const net = require('net');

const TOKEN_TTL_SECS = 12;

function mint(secret, sub, ttl) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, role: 'user', iat: now, exp: now + ttl })}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}

const HOOK_JS = `window.orderRelayToken = async () => {
  const answer = await fetch('/shop/order-token', { credentials: 'same-origin' });
  return answer.ok ? (await answer.json()).token : null;
};`;

// Starts the shop front on `port`; resolves to its counters.
function startShop({ port, relayPort, secret }) {
  const issued = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://shop');
    const user = ((req.headers.cookie || '').match(/(?:^|;\s*)shop_session=(\w+)/) || [])[1];
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      res.end(body);
    };
    switch (url.pathname) {
      case '/shop/login':
        return send(200, 'text/plain', 'signed in',
          { 'set-cookie': `shop_session=${url.searchParams.get('user')}; Path=/; HttpOnly; SameSite=Lax` });
      case '/shop/logout':
        return send(200, 'text/plain', 'signed out', { 'set-cookie': 'shop_session=; Path=/; Max-Age=0' });
      case '/shop/order-token':
        if (!user) return send(401, 'application/json', '{"error":"not signed in"}');
        const token = mint(secret, user, TOKEN_TTL_SECS);
        issued.push({ user, token });
        return send(200, 'application/json', JSON.stringify({ token }));
      case '/shop/hook.js':
        return send(200, 'text/javascript', HOOK_JS);
      default:
    }
    // Everything else is the relay's. The page itself is rewritten: the
    // shop's build of index.html carries its hook.
    const page = url.pathname === '/';
    const headers = { ...req.headers };
    if (page) { delete headers['accept-encoding']; delete headers['if-none-match']; }
    const upstream = http.request({ host: '127.0.0.1', port: relayPort, method: req.method, path: req.url, headers }, (answer) => {
      if (!page) {
        res.writeHead(answer.statusCode, answer.headers);
        return answer.pipe(res);
      }
      const chunks = [];
      answer.on('data', (c) => chunks.push(c));
      answer.on('end', () => {
        const hook = '<script src="/shop/hook.js"></script>';
        // The page is minified (no <head> tag): the hook goes after <title>.
        const html = Buffer.concat(chunks).toString().replace('</title>', `</title>${hook}`);
        const out = { ...answer.headers, 'content-length': Buffer.byteLength(html) };
        delete out.etag;
        res.writeHead(answer.statusCode, out);
        res.end(html);
      });
    });
    upstream.on('error', () => send(502, 'text/plain', 'relay unreachable'));
    req.pipe(upstream);
  });
  // The WebSocket upgrade, passed through byte for byte.
  server.on('upgrade', (req, socket, head) => {
    const upstream = net.connect(relayPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    const close = () => { socket.destroy(); upstream.destroy(); };
    upstream.on('error', close);
    socket.on('error', close);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, issued })));
}

// The scenarios. `h` is seed.cjs's harness: browser, test, shot, until,
// freePort, relayPort, secret, checkout(user) (places an order for `user`
// through the API).
async function shopScenarios(h) {
  const port = await h.freePort();
  const shop = `http://127.0.0.1:${port}`;
  const { server, issued } = await startShop({ port, relayPort: h.relayPort, secret: h.secret });
  const open = async (name, setup = async () => {}) => {
    const context = await h.browser.newContext({ viewport: { width: 1200, height: 800 } });
    await setup(context);
    const page = await context.newPage();
    // Every URL the browser asks for (its own request log), sockets apart.
    const sockets = [];
    const requested = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    page.on('request', (r) => requested.push(r.url()));
    urlLogs.push(requested, sockets);
    page.on('pageerror', (e) => h.errors.push(`${name}: ${e}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`  [${name}] ${m.text()}`); });
    pages.push([name, page]);
    return { context, page, sockets };
  };
  const who = (page) => page.locator('.who').innerText();
  // On a failure, what each shop page showed.
  const pages = [];
  const urlLogs = [];
  // No token the shop issued is in any URL a page requested.
  const noTokenInUrls = () => {
    const urls = urlLogs.flat();
    if (urls.length === 0) throw new Error('no request was logged');
    for (const { token } of issued) {
      const leaked = urls.find((u) => u.includes(token) || u.includes(token.split('.')[2]));
      if (leaked) throw new Error(`a token in a requested URL: ${leaked}`);
    }
    const query = urls.find((u) => /[?&](token|access_token)=/.test(u));
    if (query) throw new Error(`a token parameter in a requested URL: ${query}`);
  };
  const test = (name, body) => h.test(name, async () => {
    try {
      await body();
    } catch (e) {
      for (const [who, page] of pages) await h.shot(page, `failed-shop-${who}`).catch(() => {});
      throw e;
    } finally {
      for (const [, page] of pages) await page.context().close().catch(() => {});
      pages.length = 0;
    }
  });

  await test('a shop page with window.orderRelayToken(): signed out at the shop it says so (no token screen); signed in, the page signs in by itself and renews the token on the same socket; no token in any URL the browser requested', async () => {
    const { page, sockets } = await open('carol');
    await page.goto(shop);
    await page.getByText('You are not signed in to the shop').waitFor({ timeout: 20000 });
    if (await page.locator('#token-input').count()) throw new Error('the release bundle shows the paste form to a shopper');
    if (await page.locator('button.account').count()) throw new Error('the demo accounts are shown on a shop page');
    await h.shot(page, '9-shop-signed-out');
    // The shopper signs in to the shop, and comes back.
    await page.evaluate(() => fetch('/shop/login?user=carol'));
    await page.click('button:has-text("Sign in")');
    await page.locator('.chip-connected').waitFor({ timeout: 20000 });
    await h.until('carol named in the header', async () => (await who(page)).includes('carol'));
    if (await page.locator('button:has-text("Sign out")').count()) throw new Error('a sign-out button on a page the shop signs in');
    const firstExpiry = Date.now() + TOKEN_TTL_SECS * 1000;
    // Renewed before expiry (at 80% of a 12 s life), twice, on the one socket.
    await h.until('two renewals', async () => issued.filter((t) => t.user === 'carol').length >= 3, 40000);
    if (Date.now() < firstExpiry) await new Promise((r) => setTimeout(r, firstExpiry - Date.now() + 1000));
    const order = await h.checkout('carol');
    await page.locator(`.order[data-order-id="${order.orderId}"]`).waitFor({ timeout: 20000 });
    await page.locator('.chip-connected').waitFor({ timeout: 1000 });
    if (sockets.length !== 1) throw new Error(`${sockets.length} sockets opened; renewal should keep the first`);
    noTokenInUrls();
    await h.shot(page, '10-shop-renewed');
  });

  await test('a shopper signed in at the shop is in at once, with no click; signed out at the shop, the page returns to its sign-in when the token runs out', async () => {
    const { page } = await open('dave', (c) => c.addCookies([{ name: 'shop_session', value: 'dave', url: shop }]));
    await page.goto(shop);
    await page.locator('.chip-connected').waitFor({ timeout: 20000 });
    await h.until('dave named in the header', async () => (await who(page)).includes('dave'));
    await h.shot(page, '11-shop-function');
    // The shop signs dave out: the next renewal is refused, the token
    // expires, and the relay's 4001 brings back the sign-in screen.
    await page.evaluate(() => fetch('/shop/logout'));
    await page.locator('button:has-text("Sign in")').waitFor({ timeout: 30000 });
    await h.shot(page, '12-shop-signed-out-later');
    noTokenInUrls();
  });
  server.close();
}

module.exports = { shopScenarios };
