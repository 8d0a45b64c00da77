// Smoke test for a running baseline relay. Starts nothing itself.
//   KAFKA_BROKERS=127.0.0.1:9092 JWT_SECRET=... BASE_URL=http://127.0.0.1:3010 node smoke.mjs
// Checks: /healthz, /readyz, 401 on a bad token, connection:success,
// subscribe -> orders:snapshot, a produced order.created arrives for u1,
// an order.updated without buyerId is routed to u1, u2's order is not, an admin
// sees both, bad JSON -> error frame.

import crypto from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import WebSocket from 'ws';

const BASE = process.env.BASE_URL || `http://127.0.0.1:${process.env.PORT || 3010}`;
const WS_BASE = BASE.replace(/^http/, 'ws');
const SECRET = process.env.JWT_SECRET;
const BROKERS = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',');
if (!SECRET) throw new Error('JWT_SECRET is required');

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}

function sign(claims, secret = SECRET) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const h = enc({ alg: 'HS256', typ: 'JWT' });
  const p = enc(claims);
  const s = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${s}`;
}

const now = () => Math.floor(Date.now() / 1000);

/** Opens a socket; resolves {ws, next(pred, ms)} after open, or the HTTP status on refusal. */
function connect(token) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${WS_BASE}/ws?token=${encodeURIComponent(token)}`);
    const queue = [];
    const waiters = [];
    ws.on('message', (d) => {
      const msg = JSON.parse(d.toString());
      const w = waiters.findIndex((x) => x.pred(msg));
      if (w >= 0) waiters.splice(w, 1)[0].resolve(msg);
      else queue.push(msg);
    });
    const next = (pred, ms = 5000) => {
      const i = queue.findIndex(pred);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
      return new Promise((res) => {
        const w = { pred, resolve: res };
        waiters.push(w);
        setTimeout(() => {
          const j = waiters.indexOf(w);
          if (j >= 0) { waiters.splice(j, 1); res(null); }
        }, ms);
      });
    };
    ws.on('open', () => resolve({ ws, next }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.on('error', (e) => resolve({ error: e.message }));
  });
}

async function waitReady(ms = 30000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(`${BASE}/readyz`);
      if (r.status === 200) return true;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function main() {
  const health = await fetch(`${BASE}/healthz`).then((r) => r.status, () => 0);
  check('GET /healthz -> 200', health === 200, `got ${health}`);
  check('GET /readyz -> 200 (within 30 s)', await waitReady());

  // Bad tokens: 401 before upgrade.
  for (const [name, tok] of [
    ['wrong secret', sign({ sub: 'u1', exp: now() + 600 }, 'not-the-secret')],
    ['expired', sign({ sub: 'u1', exp: now() - 10 })],
    ['garbage', 'abc.def'],
  ]) {
    const r = await connect(tok);
    check(`bad token (${name}) -> 401`, r.status === 401, JSON.stringify(r.status ?? r.error ?? 'opened'));
    if (r.ws) r.ws.terminate();
  }
  const noTok = await new Promise((resolve) => {
    const ws = new WebSocket(`${WS_BASE}/ws`);
    ws.on('unexpected-response', (_q, res) => resolve(res.statusCode));
    ws.on('open', () => { ws.terminate(); resolve('opened'); });
    ws.on('error', (e) => resolve(e.message));
  });
  check('missing token -> 401', noTok === 401, String(noTok));

  // Good token for u1.
  const c = await connect(sign({ sub: 'u1', exp: now() + 600 }));
  check('valid token upgrades', !!c.ws, JSON.stringify(c.status ?? c.error ?? ''));
  if (!c.ws) return;
  const hello = await c.next((m) => m.event === 'connection:success');
  check('connection:success', hello && hello.data.userId === 'u1' && hello.data.role === 'user'
    && typeof hello.data.socketId === 'string', JSON.stringify(hello));

  c.ws.send(JSON.stringify({ event: 'subscribe:orders', data: { cursor: null } }));
  const snap = await c.next((m) => m.event === 'orders:snapshot');
  check('orders:snapshot', snap && Array.isArray(snap.data.orders) && snap.data.cursor === '0', JSON.stringify(snap));

  const adm = await connect(sign({ sub: 'boss', role: 'admin', exp: now() + 600 }));
  check('admin token upgrades', !!adm.ws, JSON.stringify(adm.status ?? adm.error ?? ''));
  const ahello = adm.ws && await adm.next((m) => m.event === 'connection:success');
  check('admin connection:success has role admin', ahello && ahello.data.role === 'admin', JSON.stringify(ahello));

  c.ws.send('{not json');
  const err = await c.next((m) => m.event === 'error');
  check('bad frame -> error bad_json', err && err.data.code === 'bad_json', JSON.stringify(err));

  // Produce and expect delivery.
  const kafka = new Kafka({ clientId: 'baseline-smoke', brokers: BROKERS, logLevel: logLevel.WARN });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const orderId = `ord-${crypto.randomUUID()}`;
  const t = new Date().toISOString();
  const created = {
    orderId, buyerId: 'u1', items: [{ productId: 'p1', name: 'Thing', quantity: 1, price: 9.5 }],
    subtotal: 9.5, tax: 0.5, total: 10, status: 'pending', shippingAddress: '1 Main St', createdAt: t,
  };
  const sentAt = Date.now();
  await producer.send({ topic: 'order.created', messages: [{ key: orderId, value: JSON.stringify(created) }] });
  const got = await c.next((m) => m.event === 'order:created' && m.data.orderId === orderId, 10000);
  check('order:created delivered to u1', got && got.data.buyerId === 'u1' && got.data.total === 10
    && /^order\.created:\d+:\d+$/.test(got.cursor), got ? `${Date.now() - sentAt} ms, cursor ${got.cursor}` : 'timeout');

  await producer.send({
    topic: 'order.updated',
    messages: [{ key: orderId, value: JSON.stringify({ orderId, status: 'processing', previousStatus: 'pending', updatedAt: new Date().toISOString() }) }],
  });
  const upd = await c.next((m) => m.event === 'order:updated' && m.data.orderId === orderId, 10000);
  check('order:updated without buyerId routed to u1', upd && upd.data.buyerId === 'u1' && upd.data.status === 'processing',
    upd ? upd.cursor : 'timeout');

  // Another user's order must not arrive.
  const other = `ord-${crypto.randomUUID()}`;
  await producer.send({ topic: 'order.created', messages: [{ key: other, value: JSON.stringify({ ...created, orderId: other, buyerId: 'u2' }) }] });
  await producer.send({ topic: 'order.created', messages: [{ key: 'x', value: 'not json' }] });
  const leak = await c.next((m) => m.event === 'order:created' && m.data.orderId === other, 1500);
  check("u2's order not delivered to u1", leak === null);
  if (adm.ws) {
    const seen = [];
    for (const id of [orderId, other]) seen.push(await adm.next((m) => m.event === 'order:created' && m.data.orderId === id, 3000));
    check('admin receives every order', seen.every(Boolean), seen.map((m) => m && m.data.buyerId).join(','));
    adm.ws.close();
  }

  await producer.disconnect();
  c.ws.close();
}

main()
  .catch((e) => { failed++; console.log(`FAIL smoke crashed: ${e.stack || e}`); })
  .finally(() => {
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
