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
// - A client that keeps the cursor (the last argument of each order event)
//   and sends it in `auth` gets what it missed once when it reconnects,
//   and again across a relay restart.
'use strict';
const path = require('path');

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
  const topics = ['--topic-order-created', 'sio.created', '--topic-order-updated', 'sio.updated',
    '--topic-order-cancelled', 'sio.cancelled', '--topic-notifications', 'sio.notifications',
    '--topic-state', 'sio.state'];
  const startRelay = () => h.start(h.relayBinary, ['--demo', '--listen', listen, '--kafka-brokers', h.kafka,
    '--simulator-rate', '0', ...topics],
  { RUST_LOG: 'info,rdkafka=warn', JWT_SECRET: 'e2e-sio-secret-0123456789abcdef' }, 'relay-socketio');
  let relay = startRelay();
  await h.until('the Socket.IO relay ready', async () => (await fetch(`${base}/readyz`)).ok, 60000);
  const token = async (user, role = 'user') => (await (await fetch(`${base}/api/dev/login`, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: user, role }) })).json()).token;
  const api = async (method, url, body, user = 'admin', role = 'admin') => {
    const response = await fetch(`${base}${url}`, { method, body: body && JSON.stringify(body),
      headers: { authorization: `Bearer ${await token(user, role)}`, 'content-type': 'application/json' } });
    if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const metric = async (sample) => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };
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
    const order = await aliceOrder();
    socket.disconnect();
    await api('PATCH', `/api/admin/orders/${order.orderId}`, { status: 'processing' });
    relay.kill('SIGTERM');
    await new Promise((resolve) => relay.on('exit', resolve));
    relay = startRelay();
    await h.until('the relay back', async () => (await fetch(`${base}/readyz`)).ok, 60000);
    await reconnect(socket);
    await h.until('the missed update', async () => state.updates.find((d) => d.orderId === order.orderId), 10000);
    await sleep(500);
    once(state, order.orderId, 'processing');
    if (await metric('relay_resumes_total{kind="snapshot"}') !== 0) throw new Error('the restarted relay answered with a snapshot');
  });

  for (const socket of clients) socket.close();
  relay.kill();
}

module.exports = { socketioScenarios };

// Alone: a broker of its own, then the scenarios.
if (require.main === module) {
  const { spawn, execFileSync } = require('child_process');
  const fs = require('fs');
  const net = require('net');
  const os = require('os');
  const out = path.join(root, '.ci/artifacts');
  fs.mkdirSync(out, { recursive: true });
  const children = [];
  const freePort = () => new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
  const until = async (what, check, ms = 20000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      try { const value = await check(); if (value) return value; } catch (_) { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const start = (cmd, args, env, name) => {
    const log = fs.openSync(path.join(out, `e2e-${name}.log`), 'w');
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
    children.push(child);
    return child;
  };
  let failed = 0;
  const test = async (name, body) => {
    try { await body(); console.log(`ok - ${name}`); } catch (e) { failed += 1; console.log(`FAILED - ${name}: ${e.message}`); }
  };
  (async () => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-kafka-'));
    const pid = Number(execFileSync('bash', [path.join(root, '.ci/kafka/start-broker'), dir, String(port)]).toString().trim());
    try {
      await socketioScenarios({ test, until, freePort, start, kafka: `127.0.0.1:${port}`,
        relayBinary: path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'debug/relay') });
    } finally {
      children.forEach((c) => c.kill());
      try { process.kill(pid, 'SIGKILL'); } catch (_) { /* gone */ }
      fs.rmSync(dir, { recursive: true, force: true });
    }
    process.exit(failed ? 1 : 0);
  })().catch((e) => { console.error(e); children.forEach((c) => c.kill()); process.exit(1); });
}
