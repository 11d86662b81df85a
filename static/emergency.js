/* The emergency dashboard live: pending alerts first, acknowledgement over the socket, the
   coordinator's acknowledgement view, and the sitrep and 4W table refreshed when they change.
   The socket is the page's one socket, chat.js's (frames arrive as 'convene:frame' events and go out
   as 'convene:send' ones), so the top navigation's badges stay live here too; chat.js shows the
   connection's state. Without JavaScript the page works through its forms. */
(function () {
  'use strict';

  const root = document.getElementById('emergency');
  if (!root || !('WebSocket' in window)) return;

  const ROOM = Number(root.dataset.roomId);
  const ME = Number(root.dataset.memberId);
  const COORDINATOR = root.dataset.coordinator === 'true';
  const API = '/api/emergencies/' + ROOM;
  const [pendingList, noPending, connText, alertForm, ackStatus] =
    ['pending', 'no-pending', 'conn-state', 'alert-form', 'ack-status'].map((id) => document.getElementById(id));

  let lastSeq = Number(root.dataset.lastSeq) || 0;
  let refs = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function send(frame) {
    const request = { frame: frame, sent: false };
    document.dispatchEvent(new CustomEvent('convene:send', { detail: request }));
    return request.sent;
  }
  async function getJson(path) {
    const response = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(response.status);
    return response.json();
  }

  // Alerts waiting for this member: shown until acknowledged, newest on top.
  function showPending(alert) {
    if (alert.sender && alert.sender.id === ME) return;
    if (pendingList.querySelector('li[data-alert="' + alert.seq + '"]')) return;
    const li = el('li', 'alert');
    li.dataset.alert = alert.seq;
    const body = el('p', 'body');
    body.append(el('strong', '', alert.body));
    const button = el('button', 'ack', 'Acknowledge');
    button.type = 'button';
    button.dataset.alert = alert.seq;
    li.append(body, el('p', 'meta', (alert.sender ? alert.sender.display_name : '') + ' · ' +
      new Date(alert.ts).toLocaleString()), button);
    pendingList.prepend(li);
    noPending.hidden = true;
  }
  function dropPending(seq) {
    const li = pendingList.querySelector('li[data-alert="' + seq + '"]');
    if (li) li.remove();
    noPending.hidden = pendingList.children.length > 0;
  }
  pendingList.addEventListener('click', (event) => {
    const button = event.target.closest('button.ack');
    if (!button) return;
    event.preventDefault();   // the form posts when the socket is down
    if (send({ type: 'alert.ack', room: ROOM, alert: Number(button.dataset.alert), ref: 'ack' + (++refs) })) {
      button.disabled = true;
    } else {
      button.closest('form') && button.closest('form').submit();
    }
  });

  // The coordinator's view of one alert: who acknowledged, who has not.
  async function refreshStatus(seq) {
    if (!COORDINATOR || !ackStatus) return;
    const data = await getJson(API + '/alerts/' + seq);
    let li = ackStatus.querySelector('li[data-alert="' + seq + '"]');
    if (!li) {
      li = el('li');
      li.dataset.alert = seq;
      const body = el('p', 'body');
      body.append(el('strong', '', data.alert.body));
      li.append(body, el('p', 'acked'), el('p', 'waiting'));
      ackStatus.prepend(li);
    }
    const names = (list) => list.join(', ');
    li.querySelector('.acked').textContent = 'Acknowledged (' + data.acknowledged.length + '): ' +
      names(data.acknowledged.map((a) => a.member.display_name));
    li.querySelector('.waiting').textContent = 'Not yet (' + data.pending.length + '): ' +
      names(data.pending.map((m) => m.display_name));
  }
  if (alertForm) {
    alertForm.addEventListener('submit', (event) => {
      const text = alertForm.elements.body.value.trim();
      if (!text) return;
      const clientId = alertForm.elements.client_id.value;
      if (send({ type: 'alert', room: ROOM, client_id: clientId, body: text, ref: 'alert' })) {
        event.preventDefault();
        alertForm.querySelector('button').disabled = true;
      }
    });
  }

  async function refreshSitrep() {
    const data = await getJson(API + '/sitrep');
    if (!data.sitrep) return;
    let article = document.getElementById('sitrep-current');
    if (!article) {
      const none = document.getElementById('sitrep-none');
      article = el('article');
      article.id = 'sitrep-current';
      const heading = el('h3');
      heading.id = 'sitrep-heading';
      const meta = el('p', 'meta');
      meta.id = 'sitrep-meta';
      const body = el('div');
      body.id = 'sitrep-body';
      article.append(heading, meta, body);
      (none || document.getElementById('sitrep-title')).after(article);
      if (none) none.remove();
    }
    article.dataset.version = data.sitrep.version;
    document.getElementById('sitrep-heading').textContent = data.sitrep.title;
    document.getElementById('sitrep-meta').textContent = 'Version ' + data.sitrep.version + ' by ' +
      data.sitrep.author.display_name;
    // Rendered from Markdown and sanitised by the server (no raw HTML, no scripts); CSP forbids inline code.
    document.getElementById('sitrep-body').innerHTML = data.sitrep.html;
  }

  async function refreshTable() {
    const data = await getJson(API + '/fourw' + location.search);
    const tbody = document.querySelector('#fourw-table tbody');
    tbody.replaceChildren(...data.entries.map((e) => {
      const tr = el('tr');
      tr.dataset.entry = e.id;
      tr.append(el('td', '', e.organisation), el('td', '', e.activity), el('td', '', e.layer_label),
        el('td', '', e.country + ' ' + e.admin_area),
        el('td', '', e.start_date + (e.end_date ? ' to ' + e.end_date : '')));
      return tr;
    }));
  }

  function onEvent(f) {
    if (f.seq <= lastSeq) return;
    lastSeq = f.seq;
    switch (f.type) {
      case 'alert': showPending(f); refreshStatus(f.seq); break;
      case 'alert.ack':
        if (f.sender && f.sender.id === ME) dropPending(f.alert);
        refreshStatus(f.alert);
        break;
      case 'sitrep': refreshSitrep(); break;
      case 'fourw': refreshTable(); break;
      case 'emergency': if (f.status) document.getElementById('e-status').textContent = f.status;
        if (f.region) document.getElementById('e-region').textContent = f.region; break;
    }
  }

  function onFrame(f) {
    switch (f.type) {
      case 'hello':
        // Pending alerts first, then the room's events from where this page left off.
        send({ type: 'alerts', room: ROOM, ref: 'e-pending' });
        send({ type: 'subscribe', room: ROOM, since: lastSeq, ref: 'e-sub' });
        break;
      case 'alerts': if (f.room === ROOM) f.alerts.forEach(showPending); break;
      case 'alert.reminder': if ((f.to || []).includes(ME)) showPending({ ...f, seq: f.alert }); break;
      case 'ack':
        if (f.ref === 'alert' && alertForm) {
          alertForm.reset();
          alertForm.elements.client_id.value = Date.now().toString(36) + Math.random().toString(36).slice(2);
          alertForm.querySelector('button').disabled = false;
        }
        if (f.alert) dropPending(f.alert);
        break;
      case 'error':
        if (!/^(e-|ack|alert)/.test(f.ref || '')) break;   // another script's
        connText.textContent = f.message || f.code;
        if (alertForm) alertForm.querySelector('button').disabled = false;
        break;
      default: if (typeof f.seq === 'number' && f.room === ROOM) onEvent(f);
    }
  }

  document.addEventListener('convene:frame', (event) => onFrame(event.detail));
})();
