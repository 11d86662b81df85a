/* Convene's only script. On every page: the service worker, local times, log-out and settings.
   On a room page: one resumable websocket, an offline outbox, typing, presence, read markers,
   mentions, edit and delete, attachments shown, and a saved copy of what was last seen.
   Attaching and recording live in static/attachments.js, fetched the first time they are used. */
(function () {
  'use strict';

  // Captured before anything below changes the page: the service worker keeps it for offline use.
  const firstHtml = navigator.serviceWorker && !navigator.serviceWorker.controller
    ? '<!doctype html>' + document.documentElement.outerHTML : null;
  const LITE = document.body.dataset.lite === 'true';
  const NOTIFY = document.body.dataset.notify === 'true';
  const LANG = document.documentElement.lang || undefined;
  let strings = {};
  try { strings = JSON.parse(document.body.dataset.strings || '{}'); } catch (e) { /* English below */ }
  // The page hands over its translations; "{name}"-style holes are filled here.
  function t(key, values) {
    let text = strings[key] || key;
    for (const name in values || {}) text = text.split('{' + name + '}').join(values[name]);
    return text;
  }
  // Times arrive in UTC; show them in the reader's own time zone and language.
  const timeFormat = new Intl.DateTimeFormat(LANG, { hour: '2-digit', minute: '2-digit' });
  const dayFormat = new Intl.DateTimeFormat(LANG, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  function localise(node) {
    const date = new Date(node.getAttribute('datetime'));
    if (isNaN(date)) return;
    node.textContent = (date.toDateString() === new Date().toDateString() ? timeFormat : dayFormat).format(date);
    node.title = date.toLocaleString(LANG);
  }
  document.querySelectorAll('time[datetime]').forEach(localise);

  const PAGE_CACHE = 'convene-pages';   // the service worker's (static/sw.js)
  if (navigator.serviceWorker) {
    navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready).then(() => {
      // The first page a member opens is loaded before the worker runs; keep that one too.
      if (firstHtml && window.caches && document.getElementById('logout')) {
        return caches.open(PAGE_CACHE).then((cache) => cache.put(location.href.split('#')[0],
          new Response(firstHtml, { headers: { 'content-type': 'text/html; charset=utf-8' } })));
      }
    }).then(prefetchRooms).catch(() => { /* no offline copy; everything else still works */ });
  }
  const logout = document.getElementById('logout');
  if (logout) {
    logout.addEventListener('submit', () => {
      // Nothing private stays on a shared phone: saved pages, drafts' seq markers, recent messages.
      if (navigator.serviceWorker && navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage('forget');
      try {
        for (const key of Object.keys(localStorage)) if (key.startsWith('convene.') && !key.startsWith('convene.outbox.')) localStorage.removeItem(key);
      } catch (e) { /* nothing stored */ }
    });
  }
  // Opening the room list also saves the rooms with unread messages for reading offline, unless
  // the member is saving data.
  function prefetchRooms() {
    const saveData = LITE || (navigator.connection && navigator.connection.saveData);
    if (saveData || !navigator.onLine || !navigator.serviceWorker.controller) return;
    const links = Array.from(document.querySelectorAll('#your-rooms li a, #conversations li a'))
      .filter((a) => a.querySelector('.unread')).slice(0, 3);
    links.forEach((a) => fetch(a.href, { credentials: 'same-origin', mode: 'same-origin' }).catch(() => {}));
  }
  const notifyBox = document.getElementById('notifications');
  if (notifyBox && window.Notification) {
    notifyBox.addEventListener('change', () => { if (notifyBox.checked) Notification.requestPermission(); });
  }

  const root = document.getElementById('room');
  if (!root || !('WebSocket' in window)) return;

  const ROOM = Number(root.dataset.roomId);
  const ME = Number(root.dataset.memberId);
  const MY_NAME = root.dataset.memberName || '';
  const MY_USERNAME = (root.dataset.memberUsername || '').toLowerCase();
  const JOINED = root.dataset.joined === 'true';
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const TYPING_EVERY_MS = 2000;     // the server ignores typing frames sent more often
  const TYPING_SHOWN_MS = 6000;     // someone else's "typing" fades if no update arrives
  const PING_EVERY_MS = 25000;      // below common mobile NAT idle timeouts
  const PONG_WITHIN_MS = 10000;
  const HELLO_WITHIN_MS = 15000;    // a black-holed mobile link can leave a connect hanging for minutes
  const HISTORY_PAGE = 50;

  const RECENT_KEPT = 50;            // messages saved on the device for reading offline
  const MENTION = /(^|[^\w@])@([a-z0-9][a-z0-9_.-]{1,31})/gi;

  const [list, stateText, retryText, retryNow, presentText, typingText, olderButton, composer, input, announcer, editingNote] =
    ['messages', 'conn-state', 'conn-retry', 'conn-now', 'present', 'typing', 'older', 'composer', 'body', 'announce', 'editing']
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
  const RECENT_KEY = 'convene.recent.' + ME + '.' + ROOM;

  // The page was rendered up to data-last-seq, so the live stream resumes there; the stored
  // value is only a fallback, because the DOM (not storage) holds what the reader sees.
  let lastSeq = Number(root.dataset.lastSeq || storage.get(SEQ_KEY, 0)) || 0;
  const bySeq = new Map();    // seq -> <li>: each message is rendered once
  const filesBySeq = new Map();   // seq -> attachment descriptors of messages that arrived live
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
    if (text !== undefined) { node.textContent = text; node.dir = 'auto'; }   // members write in any script
    return node;
  }

  function setState(next, detail) {
    if (next !== state || detail) {   // unchanged text is not announced again by the live region
      state = next;
      root.dataset.conn = next;
      stateText.textContent = detail || t(next);
    }
    retryNow.hidden = next !== 'offline';
    if (next !== 'offline') retryText.textContent = '';
    olderButton.disabled = next !== 'online';
    if (composer) composer.querySelector('button[type=submit]').disabled = next === 'stopped';
    for (const button of list.querySelectorAll('.actions button')) button.disabled = next !== 'online';
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
    if (m.sender) li.dataset.sender = m.sender.id;
    const meta = el('p', 'meta');
    const time = el('time');
    time.setAttribute('datetime', m.ts);
    localise(time);
    meta.append(el('span', 'who', m.sender ? m.sender.display_name : ''), ' ', time);
    if (m.edited_at && !m.deleted) meta.append(' ', el('span', 'edited', t('edited')));
    li.append(meta, m.deleted ? el('p', 'body deleted', t('deleted')) : el('p', 'body', m.body));
    if (m.attachments && !m.deleted) li.append(attachmentList(m.attachments));
    decorate(li);
    return li;
  }

  // A message's files, as templates/attachments.html shows them; links redirect to fresh signed URLs.
  const number = (n, digits) => new Intl.NumberFormat(LANG, { maximumFractionDigits: digits }).format(n);
  const fileSize = (n) => n < 1048576 ? number(Math.max(1, Math.round(n / 1024)), 0) + ' KB' : number(n / 1048576, 1) + ' MB';
  function previewImage(data, alt) {
    const img = el('img');
    Object.assign(img, { src: data.preview, width: data.width, height: data.height, alt: alt, loading: 'lazy' });
    return img;
  }
  function attachmentList(items) {
    const ul = el('ul', 'atts');
    for (const a of items) {
      const li = el('li', 'att att-' + a.kind);
      let node;
      if (a.kind === 'image' && a.preview) {
        const data = { preview: a.preview.url, width: a.preview.width, height: a.preview.height, name: a.name };
        node = el('a', LITE ? 'att-hold' : '');
        if (LITE) { Object.assign(node.dataset, data); node.textContent = t('photo_hold', { size: fileSize(a.preview.size) }); }
        else node.append(previewImage(data, a.name));
      } else if (a.kind === 'audio') {
        node = Object.assign(el('audio'), { controls: true, preload: 'none' });
        node.setAttribute('aria-label', t('voice_note') + ': ' + a.name);
      } else {
        node = Object.assign(el('a', '', a.name), { download: a.name });
      }
      node[a.kind === 'audio' ? 'src' : 'href'] = a.url;
      const d = a.duration_s;
      li.append(node, ' ', el('span', 'att-size', d ? Math.floor(d / 60) + ':' + String(Math.floor(d % 60)).padStart(2, '0')
        : a.kind === 'image' ? '' : fileSize(a.size)));
      ul.append(li);
    }
    return ul;
  }
  // Low-bandwidth mode: a photo costs nothing until its placeholder is tapped.
  list.addEventListener('click', (event) => {
    const hold = event.target.closest('.att-hold');
    if (!hold) return;
    event.preventDefault();
    hold.classList.remove('att-hold');
    hold.replaceChildren(previewImage(hold.dataset, hold.dataset.name || ''));
  });

  // @username becomes a highlighted span, built from text nodes only (never from HTML), and a
  // message naming the reader is marked for them.
  function highlightMentions(body) {
    const text = body.textContent;
    MENTION.lastIndex = 0;
    if (body.classList.contains('deleted') || !MENTION.test(text)) return false;
    let mine = false, at = 0;
    const parts = [];
    text.replace(MENTION, (match, lead, name, offset) => {
      const start = offset + lead.length;
      parts.push(text.slice(at, start));
      const span = el('span', 'mention', '@' + name);
      if (name.toLowerCase() === MY_USERNAME) { span.classList.add('me'); mine = true; }
      parts.push(span);
      at = start + name.length + 1;
      return match;
    });
    parts.push(text.slice(at));
    body.replaceChildren(...parts);
    return mine;
  }
  // Mentions, and Edit/Delete buttons on the reader's own messages (keyboard reachable, labelled).
  function decorate(li) {
    const body = li.querySelector('.body');
    li.classList.toggle('mentions-me', highlightMentions(body));
    const old = li.querySelector('.actions');
    if (old) old.remove();
    if (Number(li.dataset.sender) !== ME || body.classList.contains('deleted') || !JOINED) return;
    const actions = el('p', 'actions');
    const edit = el('button', 'quiet', t('edit'));
    const remove = el('button', 'quiet', t('delete'));
    for (const [button, action] of [[edit, 'edit'], [remove, 'delete']]) {
      button.type = 'button';
      button.dataset.action = action;
      button.disabled = state !== 'online';
      button.setAttribute('aria-describedby', li.id + '-body');
    }
    body.id = li.id + '-body';
    actions.append(edit, ' ', remove);
    li.append(actions);
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
    if (m.attachments) filesBySeq.set(m.seq, m.attachments);
    place(li, m.seq);
    removeEmptyNote();
    if (m.sender && m.sender.id === ME && m.client_id) settle(m.client_id);
    if (m.sender) stopTyping(m.sender.id);
    return li;
  }

  // An edit or deletion of a loaded message; older ones show their current state when loaded.
  function applyChange(f) {
    const li = bySeq.get(f.target);
    if (!li) return;
    const body = li.querySelector('.body');
    const edited = li.querySelector('.edited');
    if (f.type === 'message.edited') {
      body.textContent = f.body;
      if (!edited) li.querySelector('.meta').append(' ', el('span', 'edited', t('edited')));
    } else {
      body.textContent = t('deleted');
      body.className = 'body deleted';
      if (edited) edited.remove();
      if (li.querySelector('.atts')) li.querySelector('.atts').remove();
    }
    decorate(li);
  }

  // What the reader saw, kept on the device: the page the service worker saved offline may be
  // older than the last messages that arrived live.
  function remember() {
    const recent = Array.from(list.querySelectorAll('li[data-seq]')).slice(-RECENT_KEPT).map((li) => ({
      seq: Number(li.dataset.seq), sender: { id: Number(li.dataset.sender), display_name: li.querySelector('.who').textContent },
      ts: li.querySelector('time').getAttribute('datetime'), body: li.querySelector('.body').textContent,
      deleted: li.querySelector('.body').classList.contains('deleted'), edited_at: li.querySelector('.edited') ? 'yes' : null,
      attachments: filesBySeq.get(Number(li.dataset.seq)),
    }));
    storage.set(RECENT_KEY, { seq: lastSeq, messages: recent });
  }
  function restoreRecent() {
    const saved = storage.get(RECENT_KEY, null);
    if (!saved || !(saved.seq > lastSeq)) return;   // the page itself is as new or newer
    for (const m of saved.messages) {
      const shown = bySeq.get(m.seq);
      if (!shown) { addMessage(m); continue; }
      const current = messageElement(m);   // edited or deleted since the saved page was made
      const files = shown.querySelector('.atts');   // as the page showed them (the saved copy has only live ones)
      if (files && !m.deleted && !current.querySelector('.atts')) current.querySelector('.body').after(files);
      shown.replaceWith(current);
      bySeq.set(m.seq, current);
    }
    lastSeq = saved.seq;
    if (!navigator.onLine) stateText.textContent = t('offline_copy');
  }
  function announce(m) {
    if (!m.sender || m.sender.id === ME || m.deleted) return;
    // The log region announces additions too, but many screen readers read only the last line of a
    // burst; this says who wrote what, once.
    announcer.textContent = t('new_message', { name: m.sender.display_name, body: m.body.slice(0, 200) });
    const li = bySeq.get(m.seq);
    if (NOTIFY && li && li.classList.contains('mentions-me') && document.visibilityState !== 'visible' &&
        window.Notification && Notification.permission === 'granted') {
      new Notification(t('mentioned', { name: m.sender.display_name }), { body: m.body.slice(0, 200), tag: 'convene-' + ROOM });
    }
  }

  function onRoomEvent(f) {
    const follow = nearBottom();
    const fresh = f.type === 'message' && !bySeq.has(f.seq);
    if (f.type === 'message') addMessage(f); else applyChange(f);
    if (fresh) announce(f);
    if (f.seq > lastSeq) {   // a subscription delivers in order and without gaps
      lastSeq = f.seq;
      storage.set(SEQ_KEY, lastSeq);
      remember();
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
    meta.append(el('span', 'who', MY_NAME), ' ', el('span', 'status', t('waiting')));
    li.append(meta, el('p', 'body', entry.body));
    if (entry.files) {
      const files = el('ul', 'atts');
      for (const f of entry.files) {
        const bar = Object.assign(el('progress'), { max: 1, value: f.id ? 1 : 0 });
        bar.setAttribute('aria-label', t('uploading', { name: f.name }));
        files.append(Object.assign(el('li', 'att'), { textContent: f.name }));
        files.lastChild.append(' ', el('span', 'att-size', fileSize(f.size)), bar);
      }
      li.append(files);
    }
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
    if (entry && entry.files) attachments().then((A) => A.forget(entry));
    // The ack may beat the message event; show it now, the event is then dropped by seq. A message with
    // files waits for its event, which carries them.
    if (ack && entry && entry.room === ROOM && !entry.files) {
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
    setPendingStatus(entry.client_id, t('sending'));
    if (entry.files && entry.files.some((file) => !file.id)) {
      if (!composer) { sending = null; return; }   // a page without a composer leaves files for one that has it
      // Files first (resuming where a lost link left off), then the send: attachments.js.
      attachments().then((A) => A.upload(entry)).then(() => { sending = null; flush(); },
        (error) => onSendError(entry.client_id, error));
      return;
    }
    const frame = { type: 'send', room: entry.room, client_id: entry.client_id, body: entry.body, ref: 's:' + entry.client_id };
    if (entry.files) frame.attachments = entry.files.map((file) => file.id);
    send(frame);
  }
  function onSendError(clientId, f) {
    sending = null;
    const entry = outbox().find((e) => e.client_id === clientId);
    if (f.field === 'attachments' && entry && !entry.uploaded_again) {
      // Uploaded long ago and dropped unsent meanwhile: upload once more from the copy on this device.
      entry.uploaded_again = true;
      entry.files.forEach((file) => { file.id = file.upload = null; });
      chat.update(entry);
      return flush();
    }
    if (f.retryable) {
      setPendingStatus(clientId, t('waiting'));
      flushTimer = setTimeout(flush, Math.max(1, f.retry_after || 2) * 1000);
      return;
    }
    // Refused for good (too long, no longer a member): keep the text on screen, stop retrying.
    saveOutbox(outbox().filter((e) => e.client_id !== clientId));
    if (entry && entry.files) attachments().then((A) => A.forget(entry));
    setPendingStatus(clientId, t('not_sent') + ' ' + f.message, true);
    flush();
  }

  // Files and voice notes: static/attachments.js, fetched the first time a member attaches, records or has
  // files waiting in the outbox, so the room page's first load stays small. It is handed `chat`.
  let attachmentsModule = null;
  function attachments() {
    attachmentsModule = attachmentsModule || new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement('script'), { src: composer.dataset.attachmentsJs });
      script.onload = () => resolve(window.ConveneAttachments(chat));
      script.onerror = () => { attachmentsModule = null; reject({ retryable: true, message: '' }); };
      document.head.append(script);
    });
    return attachmentsModule;
  }
  const chat = {
    room: ROOM, me: ME, t: t,
    queue(files) { enqueue(files); },   // files: [{key, name, size, type}], kept on the device
    update(entry) { saveOutbox(outbox().map((e) => e.client_id === entry.client_id ? entry : e)); },
    progress(clientId, index, fraction) {
      const li = pendingFor(clientId);
      const bar = li && li.querySelectorAll('progress')[index];
      if (bar) bar.value = fraction;
    },
  };
  function enqueue(files) {
    const entry = { room: ROOM, client_id: newClientId(), body: input.value };
    if (files) entry.files = files;
    saveOutbox(outbox().concat([entry]));
    showPending(entry);
    input.value = '';
    if (typingSentAt) { send({ type: 'typing', room: ROOM, active: false }); typingSentAt = 0; }
    toBottom();
    flush();
  }

  if (composer) {
    composer.hidden = false;
    for (const entry of outbox()) if (entry.room === ROOM) showPending(entry);
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!input.value.trim()) return;
      if (editing) {
        if (send({ type: 'edit', room: ROOM, target: editing, body: input.value, ref: 'edit' })) stopEditing();
        return;
      }
      enqueue(null);
    });
    const picker = document.getElementById('attach-file');
    if (picker) {
      picker.addEventListener('change', () => {
        const files = Array.from(picker.files);
        picker.value = '';
        if (files.length) attachments().then((A) => A.pick(files));
      });
      document.getElementById('record').addEventListener('click', () => attachments().then((A) => A.record()));
    }
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && editing) { event.preventDefault(); stopEditing(); return; }
      // Enter sends, Shift+Enter starts a new line; never while an input method is composing.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (composer.requestSubmit) composer.requestSubmit(); else composer.querySelector('button[type=submit]').click();
      }
    });
    input.addEventListener('input', () => {
      if (input.value && subscribed && Date.now() - typingSentAt >= TYPING_EVERY_MS) {
        typingSentAt = Date.now();
        send({ type: 'typing', room: ROOM, active: true });
      }
    });
  }

  // Edit and delete: the author's own messages, while online (they are not queued). --------

  let editing = 0;   // seq of the message being edited, or 0
  function stopEditing() {
    const target = bySeq.get(editing);
    editing = 0;
    editingNote.hidden = true;
    input.value = '';
    if (target) target.querySelector('[data-action=edit]').focus();
  }
  list.addEventListener('click', (event) => {
    const button = event.target.closest('.actions button');
    if (!button || state !== 'online') return;
    const li = button.closest('li[data-seq]');
    const seq = Number(li.dataset.seq);
    if (button.dataset.action === 'delete') {
      if (window.confirm(t('confirm_delete'))) send({ type: 'delete', room: ROOM, target: seq, ref: 'delete' });
      return;
    }
    editing = seq;
    editingNote.textContent = t('editing');
    editingNote.hidden = false;
    input.value = li.querySelector('.body').textContent;
    input.focus();
  });

  // Typing, presence and read markers -----------------------------------------

  function renderTyping() {
    const names = Array.from(typing.values(), (t) => t.name);
    typingText.textContent = names.length === 0 ? '' : names.length === 1 ? t('typing_one', { name: names[0] })
      : names.length === 2 ? t('typing_two', { name: names[0], other: names[1] }) : t('typing_many');
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
      .map(([, p]) => p.name + (p.status === 'away' ? ' ' + t('away') : ''));
    presentText.textContent = others.length ? t('here_now') + ' ' + others.join(', ') : t('alone');
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
    // Saving data: the server keeps a compression context for this socket (chat frames ~60 % smaller).
    const saveData = LITE || (navigator.connection && navigator.connection.saveData);
    const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' +
                                 (saveData ? '?compression=context' : ''));
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
    if (code === 4401) return stop(t('session_ended'));
    if (code === 4400 || code === 4403) return stop(t('unavailable'));
    // 1012 (server restart), 4408 (we read too slowly), 4429, network loss: reconnect and resume.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
    attempt += 1;
    // Jitter spreads out the crowd of clients that lost the same server at the same moment.
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    const due = Date.now() + delay;
    setState('offline');
    const tick = () => { retryText.textContent = t('reconnecting', { n: Math.max(1, Math.ceil((due - Date.now()) / 1000)) }); };
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
    // Other scripts of the page (webinar.js, media.js) see every frame, so a page keeps one socket.
    document.dispatchEvent(new CustomEvent('convene:frame', { detail: f }));
    switch (f.type) {
      case 'hello':
        if (f.member && f.member.id !== ME) return stop(t('other_tab'));
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
      case 'unsubscribed': if (f.room === ROOM && f.reason === 'removed') stop(t('removed')); break;
      case 'error': onError(f); break;
    }
  }
  function onError(f) {
    const ref = f.ref || '';
    if (ref.startsWith('s:')) onSendError(ref.slice(2), f);
    else if (ref === 'older') olderButton.disabled = false;
    else if (ref === 'sub' && f.retryable) drop();   // e.g. the store is restarting: reconnect and resume
    else if (ref === 'sub') stop(t('room_unavailable') + ' ' + f.message);
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
  // Infinite scroll: reaching the top loads the page before it, except in low-bandwidth mode,
  // where older messages cost nothing until the reader presses the button.
  if (!LITE && window.IntersectionObserver) {
    let armed = false;   // not on arrival: the page opens scrolled to the newest message
    setTimeout(() => { armed = true; }, 1500);
    new IntersectionObserver((entries) => {
      if (armed && entries[0].isIntersecting && !olderButton.hidden && !olderButton.disabled) olderButton.click();
    }).observe(olderButton);
  }

  // Life cycle ---------------------------------------------------------------

  retryNow.addEventListener('click', reconnectNow);
  // ...and send over it: detail.frame goes out, detail.sent says whether the socket was open.
  document.addEventListener('convene:send', (event) => { event.detail.sent = send(event.detail.frame); });
  window.addEventListener('online', () => { if (state === 'offline') reconnectNow(); });
  window.addEventListener('offline', () => { if (ws) drop(); });
  document.addEventListener('visibilitychange', () => {
    const visible = document.visibilityState === 'visible';
    if (visible && state === 'offline') return reconnectNow();   // timers sleep in background tabs
    send({ type: 'presence', status: visible ? 'online' : 'away' });
    markRead();
  });

  for (const li of list.querySelectorAll('li[data-seq]')) decorate(li);
  restoreRecent();
  toBottom();
  connect();
}());
