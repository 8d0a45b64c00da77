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
//   record of another schema is ignored and dropped. Without IndexedDB
//   (private modes) or on a quota error the calls resolve empty, with one
//   console note: the page then works as it did without a cache.
// - attention(onChange): whether the user is looking at this tab.
// - The service worker (/sw.js, written by the release build) is registered
//   when the page loads.
'use strict';
(function () {
  const note = (what, error) => console.warn(`[offline] ${what}: ${error && error.message || error}; the page works without it`);

  function tab(name, onMessage, onLead) {
    let channel;
    try {
      channel = new BroadcastChannel(name);
    } catch (error) {
      note('no BroadcastChannel', error);
      onLead();
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

  // Election without Web Locks: the leader says so every 500 ms; a tab that
  // hears nobody for 1.5 s claims the lead, and of two claims the higher id
  // wins. A leader that closes says goodbye, so the next one need not wait.
  function elect(name, onLead) {
    const beats = new BroadcastChannel(`${name}#leader`);
    const id = Math.random();
    let leading = false;
    let heard = Date.now();
    beats.onmessage = ({ data }) => {
      if (data === 'bye') heard = 0;
      else if (data > id) { heard = Date.now(); leading = false; }
    };
    const timer = setInterval(() => {
      if (leading) beats.postMessage(id);
      else if (Date.now() - heard > 1500) { leading = true; beats.postMessage(id); onLead(); }
    }, 500);
    const bye = () => { if (leading) beats.postMessage('bye'); };
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
  async function run(mode, act) {
    const store = (await open()).transaction(STORE, mode).objectStore(STORE);
    return new Promise((resolve, reject) => {
      const request = act(store);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  let noted = false;
  const quiet = (what) => (error) => {
    if (!noted) note(`the offline cache could not ${what}`, error);
    noted = true;
    return null;
  };

  async function cacheLoad(key, schema) {
    try {
      const record = await run('readonly', (store) => store.get(key));
      if (!record) return null;
      if (record.schema !== schema || record.key !== key) {
        await run('readwrite', (store) => store.delete(key));
        return null;
      }
      return [record.savedAt, record.lines];
    } catch (error) { return quiet('be read')(error); }
  }
  function cacheSave(key, schema, savedAt, lines) {
    return run('readwrite', (store) => store.put({ key, schema, savedAt, lines }, key)).catch(quiet('be written'));
  }
  function cacheClear(key) {
    return run('readwrite', (store) => store.delete(key)).catch(quiet('be cleared'));
  }

  function attention(onChange) {
    const tell = () => onChange(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', tell);
    addEventListener('focus', tell);
    return document.visibilityState === 'visible';
  }

  globalThis.orderRelay = { tab, cacheLoad, cacheSave, cacheClear, attention };

  if ('serviceWorker' in navigator && document.querySelector('meta[name="order-relay-sw"]')) {
    navigator.serviceWorker.register('/sw.js').catch((error) => note('no service worker', error));
  }
})();
