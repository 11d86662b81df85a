/* Live chat on a room page: one resumable websocket, an offline outbox, typing, presence and read markers. */
(function () {
  'use strict';

  const root = document.getElementById('room');
  if (!root || !('WebSocket' in window)) return;

  const ROOM = Number(root.dataset.roomId);
  const ME = Number(root.dataset.memberId);
  const MY_NAME = root.dataset.memberName || '';
  const JOINED = root.dataset.joined === 'true';
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const TYPING_EVERY_MS = 2000;     // the server ignores typing frames sent more often
  const TYPING_SHOWN_MS = 6000;     // someone else's "typing" fades if no update arrives
  const PING_EVERY_MS = 25000;      // below common mobile NAT idle timeouts
  const PONG_WITHIN_MS = 10000;
  const HELLO_WITHIN_MS = 15000;    // a black-holed mobile link can leave a connect hanging for minutes
  const HISTORY_PAGE = 50;

  const [list, stateText, retryText, retryNow, presentText, typingText, olderButton, composer, input] =
    ['messages', 'conn-state', 'conn-retry', 'conn-now', 'present', 'typing', 'older', 'composer', 'body']
      .map((id) => document.getElementById(id));

  // Storage may be missing or full (private browsing, quota): chat must still work from memory.
  const storage = {
    get(key, fallback) {
      try { const raw = localStorage.getItem(key); return raw === null ? fallback : JSON.parse(raw); } catch (e) { return fallback; }
    },
    set(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* memory only */ } },
  };
  const SEQ_KEY = 'convene.seq.' + ME + '.' + ROOM;
  const OUTBOX_KEY = 'convene.outbox.' + ME;   // per member, so a shared phone never sends as the wrong person

  // The page was rendered up to data-last-seq, so the live stream resumes there; the stored
  // value is only a fallback, because the DOM (not storage) holds what the reader sees.
  let lastSeq = Number(root.dataset.lastSeq || storage.get(SEQ_KEY, 0)) || 0;
  const bySeq = new Map();    // seq -> <li>: each message is rendered once
  for (const li of list.querySelectorAll('li[data-seq]')) bySeq.set(Number(li.dataset.seq), li);

  // Connection: 'connecting' | 'online' | 'offline' (waiting to retry) | 'stopped' (will not retry).
  let state = 'connecting', ws = null, subscribed = false, attempt = 0;
  let retryTimer = 0, countdownTimer = 0, pingTimer = 0, pongTimer = 0, readTimer = 0, flushTimer = 0;
  let sending = null;         // client_id of the one send awaiting its ack
  let readSent = 0, typingSentAt = 0;
  const present = new Map();  // member id -> {name, status}
  const typing = new Map();   // member id -> {name, timer}

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // Times arrive in UTC; show them in the reader's own time zone and language.
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  function localise(node) {
    const date = new Date(node.getAttribute('datetime'));
    if (isNaN(date)) return;
    node.textContent = (date.toDateString() === new Date().toDateString() ? timeFormat : dayFormat).format(date);
    node.title = date.toLocaleString();
  }

  function setState(next, detail) {
    if (next !== state || detail) {   // unchanged text is not announced again by the live region
      state = next;
      root.dataset.conn = next;
      stateText.textContent = detail || { connecting: 'Connecting…', online: 'Online', offline: 'Offline' }[next];
    }
    retryNow.hidden = next !== 'offline';
    if (next !== 'offline') retryText.textContent = '';
    olderButton.disabled = next !== 'online';
    if (composer) composer.querySelector('button').disabled = next === 'stopped';
  }
  const page = document.documentElement;
  const nearBottom = () => window.innerHeight + window.scrollY >= page.scrollHeight - 120;
  const toBottom = () => window.scrollTo(0, page.scrollHeight);
  const removeEmptyNote = () => { const note = document.getElementById('empty'); if (note) note.remove(); };

  // Messages -----------------------------------------------------------------

  function messageElement(m) {
    const li = el('li', 'msg' + (m.sender && m.sender.id === ME ? ' mine' : ''));
    li.id = 'm-' + m.seq;
    li.dataset.seq = m.seq;
    const meta = el('p', 'meta');
    const time = el('time');
    time.setAttribute('datetime', m.ts);
    localise(time);
    meta.append(el('span', 'who', m.sender ? m.sender.display_name : ''), ' ', time);
    if (m.edited_at && !m.deleted) meta.append(' ', el('span', 'edited', '(edited)'));
    li.append(meta, m.deleted ? el('p', 'body deleted', 'Message deleted') : el('p', 'body', m.body));
    return li;
  }

  // Keeps the list in seq order; unsent messages stay below every stored one.
  function place(li, seq) {
    let before = list.firstElementChild;
    for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
      if (node.dataset.seq && Number(node.dataset.seq) < seq) { before = node.nextElementSibling; break; }
    }
    list.insertBefore(li, before);
  }
  function addMessage(m) {
    if (bySeq.has(m.seq)) return;
    const li = messageElement(m);
    bySeq.set(m.seq, li);
    place(li, m.seq);
    removeEmptyNote();
    if (m.sender && m.sender.id === ME && m.client_id) settle(m.client_id);
    if (m.sender) stopTyping(m.sender.id);
  }

  // An edit or deletion of a loaded message; older ones show their current state when loaded.
  function applyChange(f) {
    const li = bySeq.get(f.target);
    if (!li) return;
    const body = li.querySelector('.body');
    const edited = li.querySelector('.edited');
    if (f.type === 'message.edited') {
      body.textContent = f.body;
      if (!edited) li.querySelector('.meta').append(' ', el('span', 'edited', '(edited)'));
    } else {
      body.textContent = 'Message deleted';
      body.className = 'body deleted';
      if (edited) edited.remove();
    }
  }

  function onRoomEvent(f) {
    const follow = nearBottom();
    if (f.type === 'message') addMessage(f); else applyChange(f);
    if (f.seq > lastSeq) {   // a subscription delivers in order and without gaps
      lastSeq = f.seq;
      storage.set(SEQ_KEY, lastSeq);
    }
    if (follow) toBottom();
    markRead();
  }

  // Outbox: typed messages are kept until the server acknowledges them, across reloads. ------

  let memoryOutbox = storage.get(OUTBOX_KEY, []);
  // Read afresh each time: another tab of this member may have queued or settled messages.
  const outbox = () => storage.get(OUTBOX_KEY, memoryOutbox);
  function saveOutbox(entries) { memoryOutbox = entries; storage.set(OUTBOX_KEY, entries); }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));   // randomUUID needs https; this does not
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function showPending(entry) {
    const li = el('li', 'msg mine pending');
    li.dataset.clientId = entry.client_id;
    const meta = el('p', 'meta');
    meta.append(el('span', 'who', MY_NAME), ' ', el('span', 'status', 'Waiting to send'));
    li.append(meta, el('p', 'body', entry.body));
    list.append(li);
    removeEmptyNote();
  }
  const pendingFor = (clientId) =>
    Array.from(list.querySelectorAll('li.pending')).find((li) => li.dataset.clientId === clientId);
  function setPendingStatus(clientId, text, failed) {
    const li = pendingFor(clientId);
    if (!li) return;
    li.querySelector('.status').textContent = text;
    if (failed) li.classList.add('failed');
  }

  // Stored on the server: drop it from the outbox and from the pending list.
  function settle(clientId, ack) {
    const entries = outbox();
    const entry = entries.find((e) => e.client_id === clientId);
    saveOutbox(entries.filter((e) => e.client_id !== clientId));
    const li = pendingFor(clientId);
    if (li) li.remove();
    const wasSending = sending === clientId;
    if (wasSending) sending = null;
    // The ack may beat the message event; show it now, the event is then dropped by seq.
    if (ack && entry && entry.room === ROOM) {
      addMessage({ seq: ack.seq, sender: { id: ME, display_name: MY_NAME }, client_id: clientId, body: entry.body, ts: ack.ts });
    }
    if (wasSending) flush();
  }

  // One send in flight at a time keeps messages in the order they were typed, even when the
  // server refuses one for a moment (rate limit, store restart) and it has to be retried.
  // Entries for other rooms go out too: a send needs no subscription.
  function flush() {
    clearTimeout(flushTimer);
    const entry = outbox()[0];
    if (sending || state !== 'online' || !entry) return;
    sending = entry.client_id;
    setPendingStatus(entry.client_id, 'Sending…');
    send({ type: 'send', room: entry.room, client_id: entry.client_id, body: entry.body, ref: 's:' + entry.client_id });
  }
  function onSendError(clientId, f) {
    sending = null;
    if (f.retryable) {
      setPendingStatus(clientId, 'Waiting to send');
      flushTimer = setTimeout(flush, Math.max(1, f.retry_after || 2) * 1000);
      return;
    }
    // Refused for good (too long, no longer a member): keep the text on screen, stop retrying.
    saveOutbox(outbox().filter((e) => e.client_id !== clientId));
    setPendingStatus(clientId, 'Not sent: ' + f.message, true);
    flush();
  }

  if (composer) {
    composer.hidden = false;
    for (const entry of outbox()) if (entry.room === ROOM) showPending(entry);
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!input.value.trim()) return;
      const entry = { room: ROOM, client_id: newClientId(), body: input.value };
      saveOutbox(outbox().concat([entry]));
      showPending(entry);
      input.value = '';
      if (typingSentAt) { send({ type: 'typing', room: ROOM, active: false }); typingSentAt = 0; }
      toBottom();
      flush();
    });
    input.addEventListener('keydown', (event) => {
      // Enter sends, Shift+Enter starts a new line; never while an input method is composing.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (composer.requestSubmit) composer.requestSubmit(); else composer.querySelector('button').click();
      }
    });
    input.addEventListener('input', () => {
      if (input.value && subscribed && Date.now() - typingSentAt >= TYPING_EVERY_MS) {
        typingSentAt = Date.now();
        send({ type: 'typing', room: ROOM, active: true });
      }
    });
  }

  // Typing, presence and read markers -----------------------------------------

  function renderTyping() {
    const names = Array.from(typing.values(), (t) => t.name);
    typingText.textContent = names.length === 0 ? '' : names.length === 1 ? names[0] + ' is typing…'
      : names.length === 2 ? names.join(' and ') + ' are typing…' : 'Several people are typing…';
  }
  function stopTyping(memberId) {
    const entry = typing.get(memberId);
    if (!entry) return;
    clearTimeout(entry.timer);
    typing.delete(memberId);
    renderTyping();
  }
  function onTyping(f) {
    stopTyping(f.member.id);
    if (!f.active || f.member.id === ME) return;
    typing.set(f.member.id, { name: f.member.display_name, timer: setTimeout(() => stopTyping(f.member.id), TYPING_SHOWN_MS) });
    renderTyping();
  }

  function setPresence(member, status) {
    if (status === 'offline') present.delete(member.id);
    else present.set(member.id, { name: member.display_name, status: status });
    renderPresent();
  }
  function renderPresent() {
    const others = Array.from(present.entries()).filter(([id]) => id !== ME)
      .map(([, p]) => p.name + (p.status === 'away' ? ' (away)' : ''));
    presentText.textContent = others.length ? 'Here now: ' + others.join(', ') : 'No one else is here right now.';
  }

  // Only while the page is actually being looked at, and one frame per burst of messages.
  function markRead() {
    if (!JOINED || !subscribed || document.visibilityState !== 'visible' || lastSeq <= readSent) return;
    clearTimeout(readTimer);
    readTimer = setTimeout(() => {
      if (subscribed && lastSeq > readSent && send({ type: 'read', room: ROOM, seq: lastSeq })) readSent = lastSeq;
    }, 1000);
  }

  // The socket ---------------------------------------------------------------

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }
  function connect() {
    clearTimeout(retryTimer);
    clearInterval(countdownTimer);
    setState('connecting');
    const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    ws = socket;
    pongTimer = setTimeout(drop, HELLO_WITHIN_MS);
    socket.onmessage = (event) => { if (ws === socket) receive(event.data); };
    socket.onclose = (event) => { if (ws === socket) closed(event.code); };
  }

  function forget() {
    const socket = ws;
    ws = null;
    subscribed = false;
    sending = null;
    [pingTimer, pongTimer, flushTimer, readTimer].forEach(clearTimeout);   // interval ids share the pool
    for (const id of Array.from(typing.keys())) stopTyping(id);
    present.clear();
    presentText.textContent = '';
    if (socket) {
      socket.onmessage = socket.onclose = null;
      try { socket.close(); } catch (e) { /* already closed */ }
    }
  }

  // Give up on the socket at once: a dead mobile link can take minutes to report its close.
  function drop() { closed(1006); }

  function closed(code) {
    forget();
    if (state === 'stopped') return;
    if (code === 4401) return stop('Your session has ended. Log in again to keep chatting.');
    if (code === 4400 || code === 4403) return stop('Live updates are unavailable. Reload the page.');
    // 1012 (server restart), 4408 (we read too slowly), 4429, network loss: reconnect and resume.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
    attempt += 1;
    // Jitter spreads out the crowd of clients that lost the same server at the same moment.
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    const due = Date.now() + delay;
    setState('offline');
    const tick = () => { retryText.textContent = '· reconnecting in ' + Math.max(1, Math.ceil((due - Date.now()) / 1000)) + ' s'; };
    tick();
    countdownTimer = setInterval(tick, 1000);
    retryTimer = setTimeout(connect, delay);
  }

  function stop(message) { forget(); setState('stopped', message); }
  function reconnectNow() { attempt = 0; connect(); }

  function receive(text) {
    let f;
    try { f = JSON.parse(text); } catch (e) { return; }
    clearTimeout(pongTimer);   // any frame proves the link is alive
    switch (f.type) {
      case 'hello':
        if (f.member && f.member.id !== ME) return stop('You are logged in as someone else in another tab. Reload the page.');
        setState('online');
        if (input && f.limits && f.limits.max_body_chars) input.maxLength = f.limits.max_body_chars;
        send({ type: 'subscribe', room: ROOM, since: lastSeq, ref: 'sub' });
        if (document.visibilityState !== 'visible') send({ type: 'presence', status: 'away' });
        clearInterval(pingTimer);
        pingTimer = setInterval(() => { if (send({ type: 'ping' })) pongTimer = setTimeout(drop, PONG_WITHIN_MS); }, PING_EVERY_MS);
        flush();
        break;
      case 'subscribed':
        attempt = 0;   // only now: a server that accepts sockets but cannot serve the room still backs off
        subscribed = true;
        send({ type: 'who', room: ROOM });
        markRead();
        break;
      case 'message': case 'message.edited': case 'message.deleted':
        if (f.room === ROOM) onRoomEvent(f);
        break;
      case 'ack': if (f.client_id) settle(f.client_id, f); break;
      case 'history': if (f.room === ROOM) onHistory(f); break;
      case 'who':
        present.clear();
        f.members.forEach((m) => present.set(m.id, { name: m.display_name, status: m.status }));
        renderPresent();
        break;
      case 'presence': if (f.room === ROOM) setPresence(f.member, f.status); break;
      case 'member.joined': if (f.room === ROOM) send({ type: 'who', room: ROOM }); break;
      case 'member.left': if (f.room === ROOM) setPresence(f.member, 'offline'); break;
      case 'typing': if (f.room === ROOM) onTyping(f); break;
      case 'unsubscribed': if (f.room === ROOM && f.reason === 'removed') stop('You are no longer a member of this room.'); break;
      case 'error': onError(f); break;
    }
  }
  function onError(f) {
    const ref = f.ref || '';
    if (ref.startsWith('s:')) onSendError(ref.slice(2), f);
    else if (ref === 'older') olderButton.disabled = false;
    else if (ref === 'sub' && f.retryable) drop();   // e.g. the store is restarting: reconnect and resume
    else if (ref === 'sub') stop('This room is not available: ' + f.message);
  }

  // Older messages -----------------------------------------------------------

  olderButton.hidden = root.dataset.hasMore !== 'true';
  olderButton.addEventListener('click', () => {
    const first = list.querySelector('li[data-seq]');
    if (first && send({ type: 'history', room: ROOM, before: Number(first.dataset.seq), limit: HISTORY_PAGE, ref: 'older' })) {
      olderButton.disabled = true;
    }
  });
  function onHistory(f) {
    // Keep the reader's place: the page grows above what they are looking at.
    const height = page.scrollHeight;
    f.messages.forEach(addMessage);
    window.scrollBy(0, page.scrollHeight - height);
    olderButton.hidden = !f.has_more;
    olderButton.disabled = false;
  }

  // Life cycle ---------------------------------------------------------------

  retryNow.addEventListener('click', reconnectNow);
  window.addEventListener('online', () => { if (state === 'offline') reconnectNow(); });
  window.addEventListener('offline', () => { if (ws) drop(); });
  document.addEventListener('visibilitychange', () => {
    const visible = document.visibilityState === 'visible';
    if (visible && state === 'offline') return reconnectNow();   // timers sleep in background tabs
    send({ type: 'presence', status: visible ? 'online' : 'away' });
    markRead();
  });

  list.querySelectorAll('time').forEach(localise);
  toBottom();
  connect();
}());
