// What the E2E scenarios that run a relay of their own share: the flags
// that give it topics of its own (named `<prefix>.created`, …), and what
// they ask it over HTTP: a demo token, an API call as a user (an admin by
// default), one Prometheus sample.
'use strict';

function ownTopics(prefix) {
  return ['--topic-order-created', `${prefix}.created`, '--topic-order-updated', `${prefix}.updated`,
    '--topic-order-cancelled', `${prefix}.cancelled`, '--topic-notifications', `${prefix}.notifications`,
    '--topic-state', `${prefix}.state`];
}

function relayApi(base) {
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
  return { token, api, metric };
}

module.exports = { ownTopics, relayApi };
