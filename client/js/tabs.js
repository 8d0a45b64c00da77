// The browser features behind one socket per browser and the offline page,
// as a few small functions the client (client/src/tabs.rs, cache.rs) calls
// through `globalThis.orderRelay`. Plain JavaScript on purpose: the same
// calls written through web-sys cost the WebAssembly bundle several times
// their size. What the messages and the cache hold is decided in Rust
// (client-core's `tabs` module); this file only moves strings.
//
// - tab(name, onMessage, onLead): joins the tabs of one user. A
//   BroadcastChannel carries strings between them; a Web Lock elects the one
//   leader (the lock is released when its tab closes or crashes, and the next
//   waiting tab gets it at once). Where Web Locks are missing, the tabs elect
//   by heartbeat over a second channel instead.
// - cacheLoad / cacheSave / cacheClear: one IndexedDB record per user. A
//   record of another schema or signer (the token's header) is ignored and
//   dropped. Without IndexedDB
//   (private modes) or on a quota error the calls resolve empty, with one
//   console note: the page then works as it did without a cache.
// - attention(onChange): whether the user is looking at this tab.
// - sha256(text): a checkout's order id is derived from its idempotency key
//   (client/src/api.rs), so the page can show the order before its event.
// - The service worker (/sw.js, written by the release build) is registered
//   when the page loads.
'use strict';
(function () {
  const note = (what, error) => console.warn(`[offline] ${what}, the page works without it:`, error);

  function tab(name, onMessage, onLead) {
    let channel;
    try {
      channel = new BroadcastChannel(name);
    } catch (error) {
      note('no BroadcastChannel', error);
      setTimeout(onLead);
      return { post() {}, leave() {} };
    }
    channel.onmessage = (event) => typeof event.data === 'string' && onMessage(event.data);
    let left = false;
    let release = () => {};
    if (navigator.locks) {
      const controller = new AbortController();
      navigator.locks.request(name, { signal: controller.signal }, () => {
        if (left) return undefined;
        onLead();
        return new Promise((resolve) => { release = resolve; });
      }).catch(() => {});
      release = () => controller.abort();
    } else {
      release = elect(name, onLead);
    }
    return {
      post(text) { if (!left) channel.postMessage(text); },
      leave() { left = true; release(); release = () => {}; channel.close(); },
    };
  }

  // Election without Web Locks (insecure contexts, old browsers): the
  // leader beats every 500 ms. A tab that hears nothing for 1.5 s claims the
  // lead and takes it one beat later unless it heard the leader or a higher
  // claim meanwhile. A leader never steps down (its socket is live); it
  // answers a claim with a beat, and says goodbye when its page goes.
  function elect(name, onLead) {
    const beats = new BroadcastChannel(`${name}#leader`);
    const id = Math.random();
    const say = (t) => beats.postMessage({ t, id });
    let state = 'follow';
    let heard = Date.now();
    let beaten = false;
    beats.onmessage = ({ data }) => {
      if (!data || data.id === id) return;
      if (state === 'lead') { if (data.t === 'claim') say('beat'); return; }
      if (data.t === 'bye') { heard = 0; return; }
      heard = Date.now();
      if (data.t === 'beat' || data.id > id) beaten = true;
    };
    const timer = setInterval(() => {
      if (state === 'lead') say('beat');
      else if (state === 'claim') {
        state = beaten ? 'follow' : 'lead';
        if (state === 'lead') { say('beat'); onLead(); }
      } else if (Date.now() - heard > 1500) {
        state = 'claim';
        beaten = false;
        say('claim');
      }
    }, 500);
    const bye = () => state === 'lead' && say('bye');
    addEventListener('pagehide', bye);
    return () => { bye(); clearInterval(timer); beats.close(); removeEventListener('pagehide', bye); };
  }

  const DB = 'order-relay';
  const STORE = 'orders';
  let db;
  function open() {
    db = db || new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return db;
  }
  // Resolves when the transaction commits (a quota error aborts it then).
  async function run(mode, act) {
    const tx = (await open()).transaction(STORE, mode);
    return new Promise((resolve, reject) => {
      const request = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onabort = tx.onerror = () => reject(tx.error || request.error);
    });
  }
  let noted = false;
  const quiet = (error) => {
    if (!noted) note('the offline cache failed', error);
    noted = true;
    return null;
  };

  // Gives up after 1 s: a database that does not open (an upgrade blocked
  // by another tab) must not hold the page's socket back.
  async function cacheLoad(key, schema, signer) {
    try {
      const record = await Promise.race([run('readonly', (store) => store.get(key)),
        new Promise((resolve) => setTimeout(resolve, 1000))]);
      if (!record) return null;
      if (record.schema !== schema || record.signer !== signer) {
        await run('readwrite', (store) => store.delete(key));
        return null;
      }
      return [record.savedAt, record.lines];
    } catch (error) { return quiet(error); }
  }
  function cacheSave(key, schema, signer, savedAt, lines) {
    return run('readwrite', (store) => store.put({ schema, signer, savedAt, lines }, key)).catch(quiet);
  }
  function cacheClear(key) {
    return run('readwrite', (store) => store.delete(key)).catch(quiet);
  }

  function attention(onChange) {
    const tell = () => onChange(!document.hidden);
    document.addEventListener('visibilitychange', tell);
    addEventListener('focus', tell);
    return !document.hidden;
  }

  // SHA-256 of a string, in hex; '' where Web Crypto is missing (a page
  // served over plain HTTP from another host than localhost).
  function sha256(text) {
    if (!crypto.subtle) return Promise.resolve('');
    return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)).then(
      (digest) => Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join(''),
      () => '',
    );
  }

  globalThis.orderRelay = { tab, cacheLoad, cacheSave, cacheClear, attention, sha256 };

  // A page without the mark (a `trunk serve` build, or a release that
  // drops the worker) removes a worker an earlier release installed.
  if ('serviceWorker' in navigator) {
    if (document.querySelector('meta[name="order-relay-sw"]')) {
      navigator.serviceWorker.register('/sw.js').catch((error) => note('no service worker', error));
    } else {
      navigator.serviceWorker.getRegistrations().then((all) => all.forEach((r) => r.unregister()), () => {});
    }
  }
})();
