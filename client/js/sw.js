// The service worker: the page opens when the relay that serves it cannot
// be reached. The release build (.ci/service-worker) writes it to dist/sw.js
// with the release's files in SHELL and their hash in RELEASE.
//
// - Install: the release's files (the page, its script, wasm and styles:
//   trunk names them by content hash) go into a cache of their own,
//   `order-relay-<release>`. Activate: older releases' caches are deleted.
// - The page (a navigation) comes from the network when it answers, so an
//   online visit always gets the newest release, and from this release's
//   cache otherwise (no answer, or a 5xx from a proxy in front). The hashed files come from the cache of the release
//   that names them, or the network: files of two releases never mix.
// - Nothing else is touched: the API, the socket and the admin pages always
//   go to the network.
'use strict';
const RELEASE = '__RELEASE__';
const SHELL = __SHELL__;
const CACHE = `order-relay-${RELEASE}`;

// The page must be this release's (it names this release's script): during
// a rolling deploy `/` may already answer with the next release's page,
// which names files this cache lacks. Then the install fails, and the next
// visit tries again. (SHELL is sorted: `/`, then the script.)
self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then(async (cache) => {
    const page = await fetch('/', { cache: 'no-cache' });
    if (!(await page.clone().text()).includes(SHELL[1])) throw new Error(`/ is not release ${RELEASE}'s page`);
    await cache.addAll(SHELL.slice(1));
    await cache.put('/', page);
    return self.skipWaiting();
  }));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key.startsWith('order-relay-') && key !== CACHE).map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== location.origin) return;
  if (request.mode === 'navigate') {
    if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/admin/')) return;
    // The network's page, unless there is none: no answer, or a proxy's
    // error page while the relay is down.
    const cached = () => caches.open(CACHE).then((cache) => cache.match('/'));
    event.respondWith(fetch(request)
      .then((page) => (page.status >= 500 ? cached().then((c) => c || page) : page))
      .catch(() => cached().then((page) => page || Response.error())));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.open(CACHE).then((cache) => cache.match(url.pathname))
      .then((file) => file || fetch(request)));
  }
});
