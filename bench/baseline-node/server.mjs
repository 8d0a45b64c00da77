// Baseline realtime order relay in plain Node.js: kafkajs consumer + ws server
// with per-user rooms. It mirrors the architecture of the original NestJS
// realtime service (no read model, no replay) so the Rust relay can be
// benchmarked against it. See README.md for how it differs from the relay.
//
// With TRANSPORT=socketio it serves Socket.IO 4 at /socket.io/ instead, as
// the seed's NestJS gateway does: the same Kafka side, per-user rooms of
// socket.io, events `io.to(rooms).emit(event, data, cursor)`.

import http from 'node:http';
import crypto from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { WebSocketServer } from 'ws';
import { Server as SocketIoServer } from 'socket.io';

// ---------------------------------------------------------------- settings

function argValue(name) {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(name + '=')) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

function intSetting(value, fallback, name) {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) fail(`invalid ${name}: ${value}`);
  return n;
}

function fail(reason) {
  console.error(`baseline-relay: ${reason}`);
  process.exit(2);
}

const PORT = intSetting(argValue('--port') ?? process.env.PORT, 3010, 'port');
const HOST = process.env.HOST || '127.0.0.1';
const BROKERS = (process.env.KAFKA_BROKERS || '127.0.0.1:9092')
  .split(',').map((s) => s.trim()).filter(Boolean);
const JWT_SECRET = process.env.JWT_SECRET;
if (!JWT_SECRET) fail('JWT_SECRET is required');
const FETCH_WAIT_MS = intSetting(process.env.FETCH_WAIT_MS, 20, 'FETCH_WAIT_MS');
const NUM_PARTITIONS = intSetting(process.env.NUM_PARTITIONS, 3, 'NUM_PARTITIONS');
const PING_INTERVAL_MS = intSetting(process.env.PING_INTERVAL_MS, 15000, 'PING_INTERVAL_MS');
const MAX_FRAME_BYTES = intSetting(process.env.MAX_FRAME_BYTES, 64 * 1024, 'MAX_FRAME_BYTES');
const BUYER_CACHE_MAX = intSetting(process.env.BUYER_CACHE_MAX, 1_000_000, 'BUYER_CACHE_MAX');
const SOCKET_IO = process.env.TRANSPORT === 'socketio';

const TOPICS = ['order.created', 'order.updated', 'order.cancelled'];
const EVENT_BY_TOPIC = {
  'order.created': 'order:created',
  'order.updated': 'order:updated',
  'order.cancelled': 'order:cancelled',
};

const log = (...a) => console.log(new Date().toISOString(), ...a);

// ---------------------------------------------------------------- metrics

const stats = {
  consumed: 0, // Kafka messages seen
  delivered: 0, // events fanned out (to at least the admins room)
  skipped: 0, // not JSON / no orderId
  unroutable: 0, // buyer unknown: admins only
  framesSent: 0, // WebSocket frames written (events x recipients)
  connections: 0, // open WebSocket connections
  authRejected: 0, // 401s before upgrade
};

// ---------------------------------------------------------------- JWT (HS256)

const SECRET_KEY = Buffer.from(JWT_SECRET, 'utf8');

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** Returns {sub, role} for a valid token, or null. */
function verifyJwt(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts;
  let header;
  let claims;
  try {
    header = b64urlJson(h);
    claims = b64urlJson(p);
  } catch {
    return null;
  }
  if (!header || header.alg !== 'HS256') return null;
  const expected = crypto.createHmac('sha256', SECRET_KEY).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
  if (!claims || typeof claims !== 'object') return null;
  if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return null;
  if (typeof claims.sub !== 'string' || claims.sub === '') return null;
  const role = claims.role === undefined ? 'user' : claims.role;
  if (role !== 'user' && role !== 'admin') return null;
  return { sub: claims.sub, role };
}

// ---------------------------------------------------------------- rooms

/** room name -> Set<WebSocket> */
const rooms = new Map();

function join(room, ws) {
  let set = rooms.get(room);
  if (!set) rooms.set(room, (set = new Set()));
  set.add(ws);
  ws.rooms.push(room);
}

function leaveAll(ws) {
  for (const room of ws.rooms) {
    const set = rooms.get(room);
    if (!set) continue;
    set.delete(ws);
    if (set.size === 0) rooms.delete(room);
  }
  ws.rooms = [];
}

const TEXT = { binary: false };

/** Sends one pre-encoded frame to every open socket of a room. */
function emitTo(room, frame) {
  const set = rooms.get(room);
  if (!set) return;
  for (const ws of set) {
    if (ws.readyState === 1 /* OPEN */) {
      ws.send(frame, TEXT);
      stats.framesSent++;
    }
  }
}

// ---------------------------------------------------------------- HTTP + WS

let ready = false;

const server = http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (req.method === 'GET' && path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  } else if (req.method === 'GET' && path === '/readyz') {
    res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
      .end(ready ? 'ready\n' : 'not ready\n');
  } else if (req.method === 'GET' && path === '/metrics') {
    let body = '';
    for (const [k, v] of Object.entries(stats)) body += `baseline_${k} ${v}\n`;
    body += `baseline_ready ${ready ? 1 : 0}\n`;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
  } else if (path === '/ws') {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('upgrade required\n');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
});

const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, clientTracking: true });

function refuse(socket, status, text) {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n`);
}

// Socket.IO (TRANSPORT=socketio) handles its own upgrades.
if (!SOCKET_IO) server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/ws') return refuse(socket, 404, 'Not Found');
  const claims = verifyJwt(url.searchParams.get('token'));
  if (!claims) {
    stats.authRejected++;
    return refuse(socket, 401, 'Unauthorized');
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req, claims));
});

function sendJson(ws, obj) {
  if (ws.readyState === 1) ws.send(JSON.stringify(obj));
}

function sendError(ws, code, message) {
  sendJson(ws, { event: 'error', data: { code, message } });
}

const SNAPSHOT_FRAME = JSON.stringify({ event: 'orders:snapshot', data: { orders: [], cursor: '0' } });

wss.on('connection', (ws, _req, claims) => {
  stats.connections++;
  ws.isAlive = true;
  ws.userId = claims.sub;
  ws.role = claims.role;
  ws.rooms = [];
  const socketId = crypto.randomUUID();

  join(`user:${claims.sub}`, ws);
  if (claims.role === 'admin') join('admins', ws);
  sendJson(ws, { event: 'connection:success', data: { userId: claims.sub, socketId, role: claims.role } });

  ws.on('pong', () => { ws.isAlive = true; });
  ws.on('error', () => {});
  ws.on('close', () => {
    stats.connections--;
    leaveAll(ws);
  });

  ws.on('message', (data, isBinary) => {
    let msg;
    try {
      msg = JSON.parse(isBinary ? Buffer.from(data).toString('utf8') : data.toString('utf8'));
    } catch (e) {
      return sendError(ws, 'bad_json', `frame is not valid JSON: ${e.message}`);
    }
    if (!msg || typeof msg !== 'object' || typeof msg.event !== 'string') {
      return sendError(ws, 'bad_json', 'frame must be an object with a string "event"');
    }
    switch (msg.event) {
      case 'subscribe:orders':
        // No read model in the baseline: always an empty snapshot, then live events.
        if (ws.readyState === 1) ws.send(SNAPSHOT_FRAME);
        return;
      case 'ping':
        // The relay protocol's application heartbeat (docs/PROTOCOL.md §3.6),
        // answered as ours does, so the idle step loads both alike.
        if (ws.readyState === 1) ws.send('{"event":"pong","data":{}}');
        return;
      case 'auth:refresh': {
        const next = verifyJwt(msg.data && msg.data.token);
        if (!next || next.sub !== ws.userId) return sendError(ws, 'bad_token', 'refresh token invalid or for another user');
        return; // accepted; the baseline does not enforce expiry on live connections
      }
      default:
        return sendError(ws, 'unknown_event', `unknown event: ${msg.event}`);
    }
  });
});

// Standard ws heartbeat: ping every interval, terminate sockets that did not pong.
const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, PING_INTERVAL_MS);
heartbeat.unref();

// ---------------------------------------------------------------- Socket.IO

// TRANSPORT=socketio: the seed's own stack, Socket.IO 4 with per-user rooms.
const io = SOCKET_IO ? new SocketIoServer(server, {
  pingInterval: PING_INTERVAL_MS,
  pingTimeout: 2 * PING_INTERVAL_MS,
  serveClient: false,
}) : null;
if (io) {
  io.use((socket, next) => {
    const claims = verifyJwt(socket.handshake.auth && socket.handshake.auth.token);
    if (!claims) {
      stats.authRejected++;
      return next(new Error('invalid_token'));
    }
    socket.data.claims = claims;
    return next();
  });
  io.on('connection', (socket) => {
    const { claims } = socket.data;
    stats.connections++;
    socket.join(`user:${claims.sub}`);
    if (claims.role === 'admin') socket.join('admins');
    socket.emit('connection:success', { userId: claims.sub, socketId: socket.id, role: claims.role });
    // Subscribed at connect, as the relay's Socket.IO endpoint is.
    socket.emit('orders:snapshot', { orders: [], cursor: '0' });
    socket.on('subscribe:orders', () => socket.emit('orders:snapshot', { orders: [], cursor: '0' }));
    socket.on('ping', () => socket.emit('pong', {}));
    socket.on('disconnect', () => { stats.connections--; });
  });
}

// ---------------------------------------------------------------- Kafka

const kafka = new Kafka({
  clientId: 'baseline-relay',
  brokers: BROKERS,
  logLevel: process.env.KAFKAJS_LOG_LEVEL === 'error' ? logLevel.ERROR : logLevel.WARN,
});

/** orderId -> buyerId, learned from order.created (insertion-ordered, capped). */
const buyers = new Map();

function rememberBuyer(orderId, buyerId) {
  if (buyers.has(orderId)) buyers.delete(orderId);
  else if (buyers.size >= BUYER_CACHE_MAX) buyers.delete(buyers.keys().next().value);
  buyers.set(orderId, buyerId);
}

function handleMessage(topic, partition, message) {
  stats.consumed++;
  let payload;
  try {
    payload = JSON.parse(message.value);
  } catch {
    payload = null;
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)
      || typeof payload.orderId !== 'string' || payload.orderId === '') {
    stats.skipped++;
    return;
  }
  let buyerId = typeof payload.buyerId === 'string' && payload.buyerId !== '' ? payload.buyerId : undefined;
  if (topic === 'order.created') {
    if (buyerId) rememberBuyer(payload.orderId, buyerId);
  } else if (!buyerId) {
    buyerId = buyers.get(payload.orderId);
  }
  let data = payload;
  if (buyerId !== payload.buyerId || topic === 'order.cancelled') {
    data = { ...payload, buyerId };
    if (topic === 'order.cancelled') data.status = 'cancelled';
  }
  stats.delivered++;
  if (io) {
    // One broadcast to the buyer's room and the admins' (socket.io encodes
    // it once for all of them).
    const cursor = `${topic}:${partition}:${message.offset}`;
    if (!buyerId) stats.unroutable++;
    io.to(buyerId ? [`user:${buyerId}`, 'admins'] : 'admins').emit(EVENT_BY_TOPIC[topic], data, cursor);
    return;
  }
  // Serialize once; the same bytes go to every recipient.
  const frame = Buffer.from(JSON.stringify({
    event: EVENT_BY_TOPIC[topic],
    data,
    cursor: `${topic}:${partition}:${message.offset}`,
  }));
  if (buyerId) emitTo(`user:${buyerId}`, frame);
  else stats.unroutable++;
  emitTo('admins', frame);
}

async function ensureTopics(admin) {
  // Create only the missing topics: kafkajs logs every CreateTopics error
  // response (even TOPIC_ALREADY_EXISTS) at ERROR level.
  const existing = new Set(await admin.listTopics());
  const missing = TOPICS.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: NUM_PARTITIONS, replicationFactor: 1 })),
    });
    log(`created topics ${missing.join(', ')}`);
  } catch (e) {
    // Another process may have created them in between.
    const errs = e.errors || (e.type ? [e] : []);
    if (!errs.length || !errs.every((x) => x.type === 'TOPIC_ALREADY_EXISTS')) throw e;
  }
}

/** topic -> Map<partition, highWatermark at start> */
async function startHighWatermarks(admin) {
  const marks = new Map();
  for (const topic of TOPICS) {
    // Topics just created may have no leader yet (Apache Kafka answers "not
    // the leader" for a moment): retry what the broker calls retriable.
    for (let attempt = 1; ; attempt += 1) {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        marks.set(topic, new Map(offsets.map((o) => [o.partition, BigInt(o.high)])));
        break;
      } catch (e) {
        if (!e.retriable || attempt >= 50) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  return marks;
}

const consumer = kafka.consumer({
  groupId: `baseline-relay-${process.pid}-${Date.now()}-${crypto.randomBytes(4).toString('hex')}`,
  maxWaitTimeInMs: FETCH_WAIT_MS,
});

async function startKafka() {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin);
  const marks = await startHighWatermarks(admin);
  await admin.disconnect();

  // Readiness: joined and, on every partition, the next offset to consume is at
  // or past the high watermark seen at start. With fromBeginning false a fresh
  // group starts at the latest offset, which is >= that mark, so a partition
  // with no batch yet counts as caught up once the first fetch round is done.
  const lagging = new Map(); // "topic:partition" -> mark, for partitions behind it
  let joined = false;
  let fetched = false;
  const updateReady = () => {
    const was = ready;
    ready = joined && fetched && lagging.size === 0;
    if (ready && !was) log('ready');
  };

  const { GROUP_JOIN, FETCH, CRASH, STOP } = consumer.events;
  consumer.on(GROUP_JOIN, ({ payload }) => {
    joined = true;
    const parts = Object.entries(payload.memberAssignment)
      .map(([t, ps]) => `${t}[${ps.join(',')}]`).join(' ');
    log(`joined group ${payload.groupId}: ${parts}`);
    updateReady();
  });
  consumer.on(FETCH, () => {
    if (!fetched) {
      fetched = true;
      updateReady();
    }
  });
  consumer.on(CRASH, ({ payload }) => {
    log(`consumer crashed (restart=${payload.restart}): ${payload.error && payload.error.message}`);
    joined = false;
    fetched = false;
    updateReady();
  });
  consumer.on(STOP, () => { joined = false; updateReady(); });

  await consumer.connect();
  await consumer.subscribe({ topics: TOPICS, fromBeginning: false });
  await consumer.run({
    // The Rust relay does not commit offsets either; a group that is new on
    // every start never resumes from a commit.
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      const { topic, partition, messages } = batch;
      let last;
      for (let i = 0; i < messages.length; i++) {
        if (!isRunning() || isStale()) break;
        const m = messages[i];
        handleMessage(topic, partition, m);
        resolveOffset(m.offset);
        last = m.offset;
        if ((i & 1023) === 1023) await heartbeat();
      }
      await heartbeat();
      if (last !== undefined && !ready) {
        const mark = marks.get(topic)?.get(partition) ?? 0n;
        const key = `${topic}:${partition}`;
        if (BigInt(last) + 1n < mark) lagging.set(key, mark);
        else lagging.delete(key);
        updateReady();
      }
    },
  });
}

// ---------------------------------------------------------------- start / stop

server.listen(PORT, HOST, () => log(`listening on http://${HOST}:${PORT} (brokers ${BROKERS.join(',')})`));

startKafka().catch((e) => {
  console.error(`baseline-relay: kafka start failed: ${e.message}`);
  process.exit(1);
});

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: shutting down`);
  ready = false;
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  if (io) io.close();
  server.close();
  try {
    await consumer.disconnect();
  } catch { /* ignore */ }
  process.exit(0);
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
