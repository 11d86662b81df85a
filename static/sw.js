/* Convene service worker: keeps the shell and the pages last seen, so the app opens with no link, and shows
   Web Push notifications (docs/notifications.md), opening the room at the message when one is clicked. */
'use strict';

const VERSION = '__VERSION__';        // filled in by the server (realtime/pages.py)
const SHELL = '__SHELL__';            // versioned static URLs
const STATIC_CACHE = 'convene-static-' + VERSION;
const PAGES = 'convene-pages';        // deleted on log-out and log-in: it holds private conversations
const PAGE_PATHS = /^\/(rooms(\/\d+)?|dms|members(\/\d+)?|settings)$/;
const SLOW_LINK_MS = 6000;            // after this, show the saved copy and let the network finish later
const MAX_PAGES = 40;

self.addEventListener('install', (event) => {
  // The JSON API, which this worker never handles, goes straight to the network without waking it (the
  // static routing API, where the browser has it): a request sent as a page goes away (the webinar page's
  // `leave` beacon) was otherwise often lost on its way through the worker.
  if (event.addRoutes) {
    event.addRoutes([{ condition: { urlPattern: '/api/*' }, source: 'network' }])
      .catch(() => { /* not this form of the API: the fetch handler below lets these through anyway */ });
  }
  event.waitUntil(caches.open(STATIC_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('convene-static-') && k !== STATIC_CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// Web Push: the payload (rooms/notifications/push.py) is {title, body, url, tag, …}. A second push with the
// same tag replaces the first on screen, so a push delivered twice still shows once.
self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data ? event.data.text() : '' }; }
  const shown = self.registration.showNotification(data.title || 'Convene', {
    body: data.body || '', tag: data.tag || 'convene', icon: '/static/icon.svg', lang: data.lang || undefined,
    data: { url: sameSite(data.url) },
  }).then(() => self.clients.matchAll({ type: 'window', includeUncontrolled: true }))
    .then((windows) => windows.forEach((w) => w.postMessage({ type: 'push-shown', tag: data.tag || 'convene' })));
  event.waitUntil(shown);
});

function sameSite(url) {
  try {
    const target = new URL(url || '/notifications', self.location.origin);
    return target.origin === self.location.origin ? target.pathname + target.search + target.hash : '/notifications';
  } catch (e) { return '/notifications'; }
}

// What a click does: the room at the message, in a window of ours if there is one, else a new one.
async function openNotification(notification) {
  notification.close();
  const url = new URL(notification.data && notification.data.url || '/notifications', self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const mine = windows.find((w) => new URL(w.url).origin === self.location.origin && 'navigate' in w);
  if (mine) {
    const moved = await mine.navigate(url);
    try { await (moved || mine).focus(); } catch (e) { /* focus needs the click's user activation */ }
    return moved || mine;
  }
  return self.clients.openWindow(url);
}

self.addEventListener('notificationclick', (event) => { event.waitUntil(openNotification(event.notification)); });

self.addEventListener('message', (event) => {
  if (event.data === 'forget') event.waitUntil(caches.delete(PAGES));
  // The DevTools protocol cannot click a notification; tests ask the worker to run the click's own code.
  if (event.data && event.data.type === 'open-notification') {
    event.waitUntil(self.registration.getNotifications({ tag: event.data.tag })
      .then((found) => found.length && openNotification(found[0])));
  }
});

async function keep(request, response) {
  const cache = await caches.open(PAGES);
  await cache.put(request.url, response);
  const keys = await cache.keys();
  // Oldest first: insertion order. The newest MAX_PAGES pages are what a member last saw.
  await Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_PAGES)).map((k) => cache.delete(k)));
}

function offlinePage() {
  return new Response('<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
    '<title>Offline · Convene</title><main><h1>Offline</h1><p>This page was not saved on this device. ' +
    '<a href="/rooms">Your rooms</a></p></main>', { status: 503, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

async function page(event) {
  const request = event.request;
  const saved = caches.open(PAGES).then((cache) => cache.match(request.url));
  const network = fetch(request).then((response) => {
    if (response.ok && !response.redirected && (response.headers.get('content-type') || '').startsWith('text/html')) {
      event.waitUntil(keep(request, response.clone()));
    }
    return response;
  });
  const slow = new Promise((resolve) => setTimeout(resolve, SLOW_LINK_MS));
  try {
    const first = await Promise.race([network, slow.then(() => saved)]);
    if (first) return first;
    return await network;
  } catch (e) {
    return (await saved) || (await caches.match('/rooms', { cacheName: PAGES })) || offlinePage();
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== location.origin) return;
  if (request.method === 'POST' && (url.pathname === '/logout' || url.pathname === '/login')) {
    event.waitUntil(caches.delete(PAGES));   // a shared phone must not show the last person's chats
    return;
  }
  if (request.method !== 'GET') return;
  if (url.pathname.startsWith('/static/') && url.searchParams.has('v')) {
    // Versioned: the content of a URL never changes, so the saved copy is always right.
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request).then((response) => {
      if (response.ok) { const copy = response.clone(); event.waitUntil(caches.open(STATIC_CACHE).then((c) => c.put(request, copy))); }
      return response;
    })));
  } else if (request.mode === 'navigate' && PAGE_PATHS.test(url.pathname)) {
    event.respondWith(page(event));
  }
});
