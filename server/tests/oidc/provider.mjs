// The identity provider of server/tests/identity.rs: a real OpenID provider
// (panva's oidc-provider, installed by .ci/install) on loopback. Test-only.
//
//   node provider.mjs --port 4455 --keys keys.json [--ttl 600] [--rotate] [--keys-only]
//   env fallbacks: OIDC_PORT, OIDC_KEYS, OIDC_TTL
//
// Keys file: {"keys":[<private JWK>, ...]} in order. The FIRST key of each alg
// (RS256, ES256) signs; every key in the file is published at /jwks.
// Missing file -> generated with one RS256 (RSA-2048) and one ES256 (P-256) key.
// --rotate     prepend a fresh RS256 + ES256 key (old keys stay published), then start.
// --keys-only  create/rotate the keys file and exit without starting the server.
// --port 0     pick a free port; the ready line on stdout shows the real one.
//
// Token: POST /token, grant_type=client_credentials, HTTP Basic client auth.
//   clients (secret = "<id>-secret"): alice, bob, admin (admin gets role:"admin")
//   resource=urn:<audience>:<rs256|es256>  -> JWT access token, aud=<audience>
//   (no resource -> urn:order-relay:rs256). Optional test-only form params:
//   sub=<user id> overrides sub (default = client_id), role=<r> sets the role claim.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

function arg(name, envName, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i !== -1 && process.argv[i + 1] !== undefined && !process.argv[i + 1].startsWith('--')) {
    return process.argv[i + 1];
  }
  return process.env[envName] ?? dflt;
}
const flag = (name) => process.argv.includes(`--${name}`);

const PORT = Number(arg('port', 'OIDC_PORT', '4455'));
const KEYS = arg('keys', 'OIDC_KEYS', 'keys.json');
const TTL = Number(arg('ttl', 'OIDC_TTL', '600')); // access token lifetime, seconds
const ALGS = { rs256: 'RS256', es256: 'ES256' };

function newKey(alg) {
  const kid = `${alg.toLowerCase()}-${new Date().toISOString().replace(/[-:.]/g, '')}-${crypto.randomBytes(3).toString('hex')}`;
  const { privateKey } = alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

function loadKeys() {
  let jwks = { keys: [] };
  if (fs.existsSync(KEYS)) jwks = JSON.parse(fs.readFileSync(KEYS, 'utf8'));
  const fresh = [];
  for (const alg of Object.values(ALGS)) {
    if (flag('rotate') || !jwks.keys.some((k) => k.alg === alg)) fresh.push(newKey(alg));
  }
  if (fresh.length) {
    jwks.keys = [...fresh, ...jwks.keys];
    fs.writeFileSync(KEYS, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  }
  return jwks;
}

const jwks = loadKeys();
if (flag('keys-only')) {
  console.log(JSON.stringify({ keys: KEYS, kids: jwks.keys.map((k) => k.kid) }));
  process.exit(0);
}
// First key per alg (file order) is the signing key; pinned explicitly by kid.
const signingKid = {};
for (const k of jwks.keys) signingKid[k.alg] ??= k.kid;

const CLIENTS = {
  alice: {},
  bob: {},
  admin: { role: 'admin' },
};

// Bind first so that --port 0 works and the issuer carries the real port.
const server = http.createServer();
await new Promise((resolve) => server.listen(PORT, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: Object.keys(CLIENTS).map((id) => ({
    client_id: id,
    client_secret: `${id}-secret`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks,
  cookies: { keys: ['test-only-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => 'urn:order-relay:rs256',
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        const m = /^urn:([A-Za-z0-9._~-]+):(rs256|es256)$/.exec(resourceIndicator);
        if (!m) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        const alg = ALGS[m[2]];
        return {
          audience: m[1],
          scope: 'read write',
          accessTokenTTL: TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg, kid: signingKid[alg] } },
        };
      },
    },
  },
  ttl: {
    ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL,
    AccessToken: TTL,
  },
  // extra claims land in the JWT payload (cannot override sub/iss/aud/etc.)
  extraTokenClaims: async (ctx, token) => {
    const role = ctx?.oidc?.body?.role ?? CLIENTS[token.clientId]?.role;
    return role ? { role } : undefined;
  },
  formats: {
    customizers: {
      // test-only: allow the caller to pick the subject (user id)
      jwt: async (ctx, token, jwt) => {
        const sub = ctx?.oidc?.body?.sub;
        if (typeof sub === 'string' && sub) jwt.payload.sub = sub;
      },
    },
  },
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
server.on('request', provider.callback());

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
console.log(JSON.stringify({ ready: true, issuer, port, keys: KEYS, signingKid }));
