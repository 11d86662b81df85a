/* Notification settings: turns on Web Push for this device (the server's VAPID key, the browser's push
   service, then the subscription sent to /api/push/subscriptions). Loaded on that page only. */
(function () {
  'use strict';
  const button = document.getElementById('push-enable');
  const state = document.getElementById('push-state');
  const zone = document.getElementById('time_zone');
  if (zone && !zone.value && window.Intl) zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  if (!button || !('serviceWorker' in navigator) || !('PushManager' in window)) return;
  button.hidden = false;
  function key(base64url) {
    const raw = atob((base64url + '==='.slice((base64url.length + 3) % 4)).replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }
  button.addEventListener('click', async () => {
    try {
      if ((await Notification.requestPermission()) !== 'granted') return;
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(button.dataset.key) });
      const response = await fetch('/api/push/subscriptions', {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(subscription.toJSON()),
      });
      state.textContent = response.ok ? '✓' : response.statusText;
    } catch (error) {
      state.textContent = String(error.message || error);
    }
  });
}());
