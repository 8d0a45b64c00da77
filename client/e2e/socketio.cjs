// The Socket.IO endpoint (issue #27) with the real socket.io-client 4 from
// npm, running the seed's own `subscribeToOrders` callbacks against a relay
// of its own (topics of its own, so it can be restarted) on Apache Kafka.
// Run from client/e2e/seed.cjs, or alone: node client/e2e/socketio.cjs
//
// - alice over WebSocket, bob over HTTP long-polling only, the admin
//   upgrading from polling: `connection:success` with the seed's fields;
//   an admin's change, a checkout and a cancel reach alice with the seed's
//   payloads, the admin too, bob never.
// - Bad and missing tokens are a `connect_error` naming the code.
// - In Chromium: the client's browser bundle (socket.io.min.js) on a page
//   of the relay's origin, polling then WebSocket, alice's events only.
// - A client that keeps the cursor (the last argument of each order event)
//   and sends it in `auth` gets what it missed once when it reconnects,
//   and again across a relay restart.
'use strict';
const path = require('path');
const { ownTopics, relayApi } = require('./relay-api.cjs');

const root = path.resolve(__dirname, '../..');
const { io } = require(path.join(root, 'bench/baseline-node/node_modules/socket.io-client'));

// The seed's client/lib/websocket/socket.service.ts, as its summary shows it.
class SocketService {
  connect(url, auth, options = {}) {
    this.socket = io(url, { auth, reconnection: false, ...options });
    return this.socket;
  }

  subscribeToOrders(callbacks) {
    if (!this.socket) return;
    this.socket.emit('subscribe:orders');
    if (callbacks.onCreated) this.socket.on('order:created', callbacks.onCreated);
    if (callbacks.onUpdated) this.socket.on('order:updated', callbacks.onUpdated);
    if (callbacks.onCancelled) this.socket.on('order:cancelled', callbacks.onCancelled);
  }
}

async function socketioScenarios(h) {
  const listen = `127.0.0.1:${await h.freePort()}`;
  const base = `http://${listen}`;
  const topics = ownTopics('sio');
  const startRelay = () => h.start(h.relayBinary, ['--demo', '--listen', listen, '--kafka-brokers', h.kafka,
    '--simulator-rate', '0', ...topics],
  { RUST_LOG: 'info,rdkafka=warn', JWT_SECRET: 'e2e-sio-secret-0123456789abcdef' }, 'relay-socketio');
  let relay = startRelay();
  await h.until('the Socket.IO relay ready', async () => (await fetch(`${base}/readyz`)).ok, 60000);
  const { token, api, metric } = relayApi(base);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  await h.until('seeded orders', async () => (await api('GET', '/api/orders')).orders.length >= 4, 30000);
  const aliceOrder = async () => (await api('GET', '/api/orders', undefined, 'alice', 'user')).orders
    .find((o) => o.status === 'pending');

  // One seed client per user: what each callback received.
  const clients = [];
  const connect = async (user, role, options) => {
    const service = new SocketService();
    const seen = { created: [], updated: [], cancelled: [], hello: null, transports: new Set() };
    const socket = service.connect(base, { token: await token(user, role) }, options);
    socket.on('connection:success', (data) => { seen.hello = data; });
    socket.io.on('open', () => {
      seen.transports.add(socket.io.engine.transport.name);
      socket.io.engine.on('upgrade', (t) => seen.transports.add(t.name));
    });
    await new Promise((resolve, reject) => {
      socket.on('connect', resolve);
      socket.on('connect_error', reject);
    });
    service.subscribeToOrders({
      onCreated: (data) => seen.created.push(data),
      onUpdated: (data) => seen.updated.push(data),
      onCancelled: (data) => seen.cancelled.push(data),
    });
    clients.push(socket);
    return { socket, seen };
  };

  const alice = await connect('alice', 'user', { transports: ['websocket'] });
  const bob = await connect('bob', 'user', { transports: ['polling'] });
  const admin = await connect('admin', 'admin');

  await h.test('Socket.IO: the seed\'s client connects over WebSocket and long-polling and gets connection:success', async () => {
    await h.until('three hellos', async () => alice.seen.hello && bob.seen.hello && admin.seen.hello, 10000);
    for (const [who, c] of [['alice', alice], ['bob', bob], ['admin', admin]]) {
      if (c.seen.hello.userId !== who || typeof c.seen.hello.socketId !== 'string') {
        throw new Error(`${who}'s connection:success: ${JSON.stringify(c.seen.hello)}`);
      }
    }
    await h.until('the admin upgraded to WebSocket', async () => admin.socket.io.engine.transport.name === 'websocket', 10000);
    if (!admin.seen.transports.has('polling')) throw new Error('the admin did not start with polling');
    if (bob.socket.io.engine.transport.name !== 'polling') throw new Error('bob left polling');
    console.log(`  transports: alice ${[...alice.seen.transports]}, bob ${[...bob.seen.transports]}, admin ${[...admin.seen.transports]}`);
  });

  await h.test('Socket.IO: an admin\'s change, a checkout and a cancel reach the buyer with the seed\'s payloads, never bob', async () => {
    const order = await aliceOrder();
    await api('PATCH', `/api/admin/orders/${order.orderId}`, { status: 'processing' });
    await h.until('alice\'s order:updated', async () => alice.seen.updated.find((d) => d.orderId === order.orderId), 10000);
    const updated = alice.seen.updated.find((d) => d.orderId === order.orderId);
    if (updated.status !== 'processing' || !updated.updatedAt) throw new Error(`order:updated ${JSON.stringify(updated)}`);
    await h.until('the admin\'s too', async () => admin.seen.updated.find((d) => d.orderId === order.orderId), 10000);

    const created = await api('POST', '/api/orders',
      { items: [{ productId: 'p-mug', name: 'Stoneware mug', quantity: 2, price: 12.5 }] }, 'alice', 'user');
    const id = created.orderId || created.order?.orderId;
    await h.until('alice\'s order:created', async () => alice.seen.created.find((d) => d.orderId === id), 10000);
    const made = alice.seen.created.find((d) => d.orderId === id);
    for (const field of ['orderId', 'buyerId', 'items', 'subtotal', 'tax', 'total', 'status', 'shippingAddress', 'createdAt']) {
      if (!(field in made)) throw new Error(`order:created has no ${field}: ${JSON.stringify(made)}`);
    }
    if (made.buyerId !== 'alice' || made.status !== 'pending' || made.items[0].quantity !== 2) {
      throw new Error(`order:created ${JSON.stringify(made)}`);
    }
    // The seed's toast text works on it.
    console.log(`  toast: Order #${made.orderId.slice(-8).toUpperCase()} created successfully!`);

    await api('POST', `/api/orders/${id}/cancel`, { reason: 'changed my mind' }, 'alice', 'user');
    await h.until('alice\'s order:cancelled', async () => alice.seen.cancelled.find((d) => d.orderId === id), 10000);
    const cancelled = alice.seen.cancelled.find((d) => d.orderId === id);
    if (!cancelled.cancelledAt) throw new Error(`order:cancelled ${JSON.stringify(cancelled)}`);

    await sleep(1000);
    const bobs = [...bob.seen.created, ...bob.seen.updated, ...bob.seen.cancelled].filter((d) => d.buyerId !== 'bob');
    if (bobs.length) throw new Error(`bob saw another user's orders: ${JSON.stringify(bobs)}`);
    if (await metric('relay_ws_connections') !== 3) throw new Error('the connection gauge does not count the three sockets');
  });

  await h.test('Socket.IO: a bad or missing token is a connect_error that names the code', async () => {
    for (const [auth, code] of [[{ token: 'not-a-jwt' }, 'invalid_token'], [{}, 'missing_token']]) {
      const socket = io(base, { auth, reconnection: false, transports: ['websocket'] });
      const error = await new Promise((resolve) => {
        socket.on('connect_error', resolve);
        socket.on('connect', () => resolve(new Error('connected')));
      });
      socket.close();
      if (!error.message.startsWith(`${code}:`)) throw new Error(`${JSON.stringify(auth)}: ${error.message}`);
    }
  });

  if (h.browser) {
    await h.test('Socket.IO in Chromium: the browser bundle of socket.io-client runs the seed\'s callbacks', async () => {
      const bundle = require('fs').readFileSync(
        path.join(root, 'bench/baseline-node/node_modules/socket.io-client/dist/socket.io.min.js'), 'utf8');
      const context = await h.browser.newContext();
      const pages = {};
      for (const user of ['alice', 'bob']) {
        const page = await context.newPage();
        // A page of the relay's origin (long-polling is same-origin); the
        // bundle is evaluated through the DevTools protocol, as a page's
        // own script would run it.
        await page.goto(`${base}/healthz`);
        await page.evaluate(bundle);
        // The seed's SocketService, the very class the Node tests use.
        await page.evaluate((source) => { window.serviceSource = source; }, SocketService.toString());
        await page.evaluate(async ({ url, token }) => {
          // eslint-disable-next-line no-eval
          const Service = eval(`(${window.serviceSource})`);
          window.seen = { updated: [], created: [], hello: null };
          const service = new Service();
          const socket = service.connect(url, { token }, {});
          socket.on('connection:success', (data) => { window.seen.hello = data; });
          await new Promise((resolve, reject) => { socket.on('connect', resolve); socket.on('connect_error', reject); });
          service.subscribeToOrders({
            onCreated: (data) => window.seen.created.push(data),
            onUpdated: (data) => window.seen.updated.push(data),
          });
          window.socket = socket;
        }, { url: base, token: await token(user) }).catch(async (e) => {
          throw new Error(`${user}'s page: ${e.message}`);
        });
        pages[user] = page;
      }
      const order = await aliceOrder();
      await api('PATCH', `/api/admin/orders/${order.orderId}`, { status: 'processing' });
      await h.until('alice\'s page heard it', async () => pages.alice.evaluate(
        (id) => window.seen.updated.some((d) => d.orderId === id && d.status === 'processing'), order.orderId), 10000);
      await h.until('alice\'s page upgraded to WebSocket', async () => pages.alice.evaluate(
        () => window.socket.io.engine.transport.name === 'websocket'), 10000);
      const hello = await pages.alice.evaluate(() => window.seen.hello);
      if (hello.userId !== 'alice') throw new Error(`connection:success ${JSON.stringify(hello)}`);
      await sleep(500);
      const bobs = await pages.bob.evaluate(() => [...window.seen.created, ...window.seen.updated]);
      if (bobs.some((d) => d.buyerId !== 'bob')) throw new Error(`bob's page saw ${JSON.stringify(bobs)}`);
      await context.close();
    });
  }

  // A client that keeps the cursor: the last argument of each order event.
  const resuming = async () => {
    const jwt = await token('alice');
    const state = { cursor: null, updates: [] };
    const socket = io(base, { auth: (cb) => cb({ token: jwt, cursor: state.cursor }), reconnection: false,
      transports: ['websocket'] });
    const keep = (data, cursor) => { if (typeof cursor === 'string') state.cursor = cursor; return data; };
    socket.on('orders:snapshot', (data) => { state.cursor = data.cursor; });
    socket.on('order:created', keep);
    socket.on('order:cancelled', keep);
    socket.on('order:updated', (data, cursor) => state.updates.push(keep(data, cursor)));
    await h.until('a cursor', async () => state.cursor, 10000);
    clients.push(socket);
    return { socket, state };
  };
  const reconnect = async (socket) => {
    socket.connect();
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('connect_error', reject); });
  };
  const once = (state, id, status) => {
    const n = state.updates.filter((d) => d.orderId === id && d.status === status).length;
    if (n !== 1) throw new Error(`${id} → ${status} arrived ${n} times`);
  };

  await h.test('Socket.IO: a reconnect with the cursor in auth gets what it missed, once', async () => {
    const { socket, state } = await resuming();
    const order = (await api('GET', '/api/orders', undefined, 'alice', 'user')).orders
      .find((o) => o.status === 'processing');
    socket.disconnect();
    const replays = await metric('relay_resumes_total{kind="replay"}');
    await api('PATCH', `/api/admin/orders/${order.orderId}`, { status: 'shipped' });
    await api('PATCH', `/api/admin/orders/${order.orderId}`, { status: 'delivered' });
    await h.until('alice (connected) saw both', async () => alice.seen.updated.filter((d) => d.orderId === order.orderId).length >= 3, 10000);
    await reconnect(socket);
    await h.until('both missed updates', async () => state.updates.filter((d) => d.orderId === order.orderId).length >= 2, 10000);
    await sleep(500);
    once(state, order.orderId, 'shipped');
    once(state, order.orderId, 'delivered');
    if (await metric('relay_resumes_total{kind="replay"}') <= replays) throw new Error('no replay was counted');
    state.socket = socket;
    h.resumed = { socket, state };
  });

  await h.test('Socket.IO: and across a relay restart', async () => {
    const { socket, state } = h.resumed;
    // An order of alice's that can still move, and its next status.
    const next = { pending: 'processing', processing: 'shipped', shipped: 'delivered' };
    const order = (await api('GET', '/api/orders', undefined, 'alice', 'user')).orders.find((o) => next[o.status]);
    const status = next[order.status];
    socket.disconnect();
    await api('PATCH', `/api/admin/orders/${order.orderId}`, { status });
    relay.kill('SIGTERM');
    await new Promise((resolve) => relay.on('exit', resolve));
    relay = startRelay();
    await h.until('the relay back', async () => (await fetch(`${base}/readyz`)).ok, 60000);
    await reconnect(socket);
    await h.until('the missed update', async () => state.updates.find((d) => d.orderId === order.orderId && d.status === status), 10000);
    await sleep(500);
    once(state, order.orderId, status);
    if (await metric('relay_resumes_total{kind="snapshot"}') !== 0) throw new Error('the restarted relay answered with a snapshot');
  });

  for (const socket of clients) socket.close();
  relay.kill();
}

module.exports = { socketioScenarios };

// Alone: a broker of its own, then the scenarios.
if (require.main === module) {
  const { execFileSync } = require('child_process');
  const fs = require('fs');
  const os = require('os');
  const h = require('./harness.cjs');
  const children = [];
  const { test, count } = h.tests();
  (async () => {
    const port = await h.freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-kafka-'));
    const pid = Number(execFileSync('bash', [path.join(root, '.ci/kafka/start-broker'), dir, String(port)]).toString().trim());
    const browser = await h.launchChromium();
    try {
      await socketioScenarios({ ...h, test, start: h.starter(children), browser, kafka: `127.0.0.1:${port}` });
    } finally {
      await browser.close();
      children.forEach((c) => c.kill());
      try { process.kill(pid, 'SIGKILL'); } catch (_) { /* gone */ }
      fs.rmSync(dir, { recursive: true, force: true });
    }
    console.log(`${count.passed} passed, ${count.failed} failed`);
    process.exit(count.failed ? 1 : 0);
  })().catch((e) => { console.error(e); children.forEach((c) => c.kill()); process.exit(1); });
}
