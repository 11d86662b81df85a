/* Convene service worker: keeps the shell and the pages last seen, so the app opens with no link. */
'use strict';

const VERSION = '__VERSION__';        // filled in by the server (realtime/pages.py)
const SHELL = '__SHELL__';            // versioned static URLs
const STATIC_CACHE = 'convene-static-' + VERSION;
const PAGES = 'convene-pages';        // deleted on log-out and log-in: it holds private conversations
const PAGE_PATHS = /^\/(rooms(\/\d+)?|dms|members(\/\d+)?|settings)$/;
const SLOW_LINK_MS = 6000;            // after this, show the saved copy and let the network finish later
const MAX_PAGES = 40;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(STATIC_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('convene-static-') && k !== STATIC_CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('message', (event) => {
  if (event.data === 'forget') event.waitUntil(caches.delete(PAGES));
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
