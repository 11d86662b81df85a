/* Convene's script. On every page: the service worker, times in the member's time zone and language,
   keyboard shortcuts and their help, log-out and settings, and for a member one resumable websocket per
   tab that keeps unread counts, mention badges, the alerts awaiting acknowledgement, the tab's title and
   icon live and shows a desktop notification while the tab is hidden (docs/notifications.md).
   On a room page, over that socket: an offline outbox (messages, edits and deletions) with each
   message's state (waiting, sending, failed with retry), typing, presence, read markers with the
   "new messages" line, day separators and a sender's messages grouped, replies, reactions, mentions
   with suggestions, pins, edit and delete, attachments shown, and a saved copy of what was last seen.
   Message text arrives as HTML the server formatted and sanitised; this script never turns Markdown
   into HTML itself. Attaching and recording live in static/attachments.js, fetched the first time
   they are used. */
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
  // Times arrive in UTC; show them in the member's time zone (their profile's, else the browser's) and
  // language: the time alone today, with the date otherwise (and the year when it is not this one).
  const TZ = document.body.dataset.tz || undefined;
  function zoned(options, lang) {
    try { return new Intl.DateTimeFormat(lang || LANG, Object.assign({ timeZone: TZ }, options)); } catch (e) {
      return new Intl.DateTimeFormat(lang || LANG, options);   // an unknown zone: the browser's own
    }
  }
  const HM = { hour: '2-digit', minute: '2-digit' };
  const timeFormat = zoned(HM);
  const dayFormat = zoned(Object.assign({ day: 'numeric', month: 'short' }, HM));
  const yearFormat = zoned(Object.assign({ day: 'numeric', month: 'short', year: 'numeric' }, HM));
  const fullFormat = zoned({ dateStyle: 'full', timeStyle: 'short' });
  const keyFormat = zoned({ year: 'numeric', month: '2-digit', day: '2-digit' }, 'en-CA');   // "2026-12-07"
  const dayOf = (date) => keyFormat.format(date);
  function localise(node) {
    const date = new Date(node.getAttribute('datetime'));
    if (isNaN(date)) return;
    const day = dayOf(date), today = dayOf(new Date());
    node.textContent = (day === today ? timeFormat : day.slice(0, 4) === today.slice(0, 4) ? dayFormat : yearFormat).format(date);
    node.title = fullFormat.format(date);
  }
  document.querySelectorAll('time[datetime]').forEach(localise);
  // A day separator's words: "Today", "Yesterday" (in the page's language), else the date in full.
  const longDay = zoned({ weekday: 'long', day: 'numeric', month: 'long' });
  const longDayYear = zoned({ weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
  function dayLabel(date) {
    const day = dayOf(date), today = dayOf(new Date());
    const ago = Math.round((Date.parse(today) - Date.parse(day)) / 86400000);
    if ((ago === 0 || ago === 1) && Intl.RelativeTimeFormat) {
      const words = new Intl.RelativeTimeFormat(LANG, { numeric: 'auto' }).format(-ago, 'day');
      return words.charAt(0).toLocaleUpperCase(LANG) + words.slice(1);
    }
    return (day.slice(0, 4) === today.slice(0, 4) ? longDay : longDayYear).format(date);
  }

  // Keyboard shortcuts (the /keyboard page lists them; "?" shows that list here). Single keys never act
  // while the member types in a field or holds a modifier, and the list's switch turns them off on this
  // device (for speech input, which types letters). The room's keys are filled in further down.
  const KEYS_KEY = 'convene.keys';
  const keysOff = () => { try { return localStorage.getItem(KEYS_KEY) === 'off'; } catch (e) { return false; } };
  const shortcuts = {
    '?': showShortcuts,
    '/': () => {
      const field = document.getElementById('q');   // the search page's own
      if (field) { field.focus(); field.select(); return; }
      const room = document.getElementById('room');
      location.href = '/search' + (room && !document.getElementById('webinar') ? '?room=' + room.dataset.roomId : '');
    },
  };
  const closers = [];   // what Escape closes, most recent first: each answers whether it closed something
  const inField = (node) => !!(node && node.closest && node.closest('input, textarea, select, [contenteditable]:not([contenteditable="false"])'));
  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.key === 'Escape') {
      if (closers.some((close) => close())) event.preventDefault();
      return;
    }
    const act = shortcuts[event.key];
    if (!act || inField(event.target) || keysOff()) return;
    event.preventDefault();
    act();
  });
  let keysDialog = null;
  function showShortcuts() {
    if (keysDialog) { if (!keysDialog.open) keysDialog.showModal(); return; }
    const here = document.getElementById('shortcuts');
    if (here) { here.querySelector('h1').focus(); return; }
    const back = document.activeElement;
    fetch('/keyboard', { credentials: 'same-origin' }).then((r) => r.text()).then((html) => {
      const found = new DOMParser().parseFromString(html, 'text/html').getElementById('shortcuts');
      if (!found || keysDialog) return;
      keysDialog = document.createElement('dialog');
      keysDialog.className = 'keys-dialog';
      keysDialog.setAttribute('aria-labelledby', 'keys-title');
      const close = Object.assign(document.createElement('button'), { type: 'button', className: 'quiet close', textContent: t('close') });
      close.addEventListener('click', () => keysDialog.close());
      keysDialog.append(close, document.adoptNode(found));
      keysDialog.addEventListener('close', () => { if (back && back.isConnected) back.focus(); });
      document.body.append(keysDialog);
      keysSwitch(keysDialog);
      keysDialog.showModal();
    }).catch(() => { location.href = '/keyboard'; });
  }
  function keysSwitch(scope) {
    const box = scope.querySelector('#keys-on');
    if (!box) return;
    box.closest('#keys-switch').hidden = false;
    box.checked = !keysOff();
    box.addEventListener('change', () => { try { localStorage.setItem(KEYS_KEY, box.checked ? 'on' : 'off'); } catch (e) { /* on */ } });
  }
  keysSwitch(document);
  // A status line for what a shortcut has to say ("no unread rooms").
  function tell(text) {
    let line = document.getElementById('key-status');
    if (!line) {
      line = Object.assign(document.createElement('p'), { id: 'key-status', className: 'vh' });
      line.setAttribute('role', 'status');
      document.body.append(line);
    }
    line.textContent = text;
  }

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
  // Nothing private stays on a shared phone: saved pages, drafts' seq markers, recent messages; a deleted
  // account's unsent messages too (they could never be sent).
  function forgetThisDevice(outboxToo) {
    if (navigator.serviceWorker && navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage('forget');
    try {
      for (const key of Object.keys(localStorage)) {
        if (key.startsWith('convene.') && (outboxToo || !key.startsWith('convene.outbox.')) && key !== KEYS_KEY) {
          localStorage.removeItem(key);   // the shortcuts' switch is the device's, not the member's
        }
      }
    } catch (e) { /* nothing stored */ }
  }
  const logout = document.getElementById('logout');
  if (logout) logout.addEventListener('submit', () => forgetThisDevice(false));
  const deletion = document.getElementById('delete-account');
  if (deletion) deletion.addEventListener('submit', () => forgetThisDevice(true));
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

  const ME = Number(document.body.dataset.memberId || 0);
  if (!ME || !('WebSocket' in window)) return;
  // The emergency dashboard follows its room itself (static/emergency.js) over this socket.
  const EMERGENCY_ROOM = Number((document.getElementById('emergency') || { dataset: {} }).dataset.roomId || 0);
  // One socket per tab on every member page. Without a room, the room's parts below work on detached
  // stand-ins (nothing shows, nothing is sent for a room) and the socket serves the app's badges.
  const IN_ROOM = !!document.getElementById('room');
  const root = document.getElementById('room') || document.createElement('div');
  const ROOM = IN_ROOM ? Number(root.dataset.roomId) : 0;
  const MY_NAME = root.dataset.memberName || '';
  const JOINED = root.dataset.joined === 'true';
  const MODERATOR = root.dataset.role === 'owner' || root.dataset.role === 'moderator';
  const CAN_PIN = MODERATOR || root.dataset.dm === 'true';   // in a conversation, anyone in it pins
  // A view of the room (its own URL, rendered by the server): one thread, the mentions of me, or an
  // older stretch. Live events outside the view are counted (lastSeq) but not shown.
  const THREAD = Number(root.dataset.thread || 0);
  const MENTIONS_ONLY = root.dataset.mentions === 'me';
  const BEFORE = Number(root.dataset.before || 0);
  const VIEW = THREAD || MENTIONS_ONLY || BEFORE;
  // The webinar's chat scrolls inside its tab; a room page scrolls the window.
  const OWN_SCROLL = root.dataset.scroller === 'list';
  const GROUP_WITHIN_MS = 5 * 60 * 1000;   // a sender's messages closer than this share one header
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const TYPING_EVERY_MS = 2000;     // the server ignores typing frames sent more often
  const TYPING_SHOWN_MS = 6000;     // someone else's "typing" fades if no update arrives
  const PING_EVERY_MS = 25000;      // below common mobile NAT idle timeouts
  const PONG_WITHIN_MS = 10000;
  const HELLO_WITHIN_MS = 15000;    // a black-holed mobile link can leave a connect hanging for minutes
  const HISTORY_PAGE = 50;
  const EXCERPT_CHARS = 140;        // as the server's reply previews (rooms/models.py)
  const SUGGESTIONS = 8;
  const QUICK_REACTIONS = ['👍', '❤️', '🙏', '👏', '😂', '😮', '😢', '✅'];

  const RECENT_KEPT = 50;            // messages saved on the device for reading offline

  const [list, stateText, retryText, retryNow, presentText, typingText, olderButton, composer, input, announcer,
    editingNote, replyNote, replyText, replyCancel, suggestList, suggestStatus, pinBox, pinList, pinCount] =
    ['messages', 'conn-state', 'conn-retry', 'conn-now', 'present', 'typing', 'older', 'composer', 'body', 'announce',
      'editing', 'replying', 'replying-to', 'reply-cancel', 'mention-list', 'suggest-status', 'pins', 'pin-list', 'pin-count']
      .map((id) => document.getElementById(id) ||
        (IN_ROOM || ['composer', 'body', 'pins', 'pin-list', 'pin-count'].includes(id) ? null : document.createElement('p')));

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
  const pinned = new Set(Array.from(pinList ? pinList.children : [], (li) => Number(li.dataset.seq)));

  // Connection: 'connecting' | 'online' | 'offline' (waiting to retry) | 'stopped' (will not retry).
  let state = 'connecting', ws = null, subscribed = false, attempt = 0;
  let retryTimer = 0, countdownTimer = 0, pingTimer = 0, pongTimer = 0, readTimer = 0, flushTimer = 0;
  let sending = null;         // client_id of the outbox entry awaiting its ack
  let readSent = 0, typingSentAt = 0;
  const present = new Map();  // member id -> {name, status}
  const typing = new Map();   // member id -> {name, timer}

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) { node.textContent = text; node.dir = 'auto'; }   // members write in any script
    return node;
  }
  function button(text, action, label) {
    const b = el('button', 'quiet', text);
    b.type = 'button';
    if (action) b.dataset.action = action;
    if (label) b.setAttribute('aria-label', label);
    return b;
  }
  const excerpt = (text) => {
    const line = text.split(/\s+/).filter(Boolean).join(' ');
    return line.length <= EXCERPT_CHARS ? line : line.slice(0, EXCERPT_CHARS - 1) + '…';
  };

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
    // Replies, edits and deletions wait in the outbox; reacting and pinning need the link.
    for (const b of list.querySelectorAll('[data-action=react], [data-action=pin], .reaction')) b.disabled = next !== 'online' || !JOINED;
  }
  const page = document.documentElement;
  const nearBottom = () => (OWN_SCROLL ? list.scrollTop + list.clientHeight >= list.scrollHeight - 120
    : window.innerHeight + window.scrollY >= page.scrollHeight - 120);
  const toBottom = () => { if (OWN_SCROLL) list.scrollTop = list.scrollHeight; else window.scrollTo(0, page.scrollHeight); };
  const removeEmptyNote = () => { const note = document.getElementById('empty'); if (note) note.remove(); };

  // Messages -----------------------------------------------------------------
  // Each <li> keeps its message's state in li.m (the event's fields), whether the server rendered
  // it or it arrived live; the markup is rebuilt from it.

  const mentionsMe = (m) => !m.deleted && ((m.mentions || []).includes(ME) || !!m.mentions_room);
  function shows(m) {
    if (THREAD) return m.seq === THREAD || m.reply_to === THREAD;
    if (MENTIONS_ONLY) return mentionsMe(m) && !(m.sender && m.sender.id === ME);
    return !BEFORE || m.seq < BEFORE;
  }

  // A message the server rendered into the page, read back into the same shape as an event.
  function fromElement(li) {
    const body = li.querySelector('.body');
    const quote = li.querySelector('.quote');
    const m = {
      seq: Number(li.dataset.seq), ts: li.querySelector('time').getAttribute('datetime'),
      sender: { id: Number(li.dataset.sender), display_name: li.querySelector('.meta .who').textContent },
      body: body.textContent, html: body.innerHTML, deleted: body.classList.contains('deleted'),
      edited_at: li.querySelector('.edited') ? 'yes' : null, mentions: li.classList.contains('mentions-me') ? [ME] : [],
    };
    if (li.dataset.replyTo) {
      const gone = quote.querySelector('.excerpt').classList.contains('deleted');
      m.reply_to = Number(li.dataset.replyTo);
      m.parent = { sender: { display_name: quote.querySelector('.who').textContent } };
      if (gone) m.parent.deleted = true; else m.parent.excerpt = quote.querySelector('.excerpt').textContent;
    }
    try { m.reactions = reactionList(JSON.parse(li.dataset.reactions || '{}')); } catch (e) { m.reactions = []; }
    try { if (li.dataset.attachments) m.attachments = JSON.parse(li.dataset.attachments); } catch (e) { /* shown as rendered */ }
    return m;
  }
  const reactionList = (byEmoji) => Object.keys(byEmoji).map((emoji) => ({ emoji: emoji, members: byEmoji[emoji] }));

  // A member who deleted their account keeps their id, with no name: "a former member".
  const who = (sender) => (sender ? (sender.former ? t('former_member') : sender.display_name || '') : '');

  function quoteElement(m) {
    const parent = m.parent || { deleted: true, sender: {} };
    const p = el('p', 'quote');
    const a = el('a');
    a.href = '/rooms/' + ROOM + '?thread=' + m.reply_to;
    a.dataset.thread = m.reply_to;
    const shown = el('span', 'excerpt' + (parent.deleted ? ' deleted' : ''), parent.deleted ? t('deleted') : parent.excerpt);
    a.append(el('span', 'vh', t('in_reply_to') + ' '), el('span', 'who', who(parent.sender)), ' ', shown);
    p.append(a);
    return p;
  }

  function messageElement(m) {
    const li = el('li', 'msg');
    li.id = 'm-' + m.seq;
    li.dataset.seq = m.seq;
    if (m.sender) li.dataset.sender = m.sender.id;
    if (m.reply_to) li.dataset.replyTo = m.reply_to;
    li.m = Object.assign({ reactions: [] }, m);
    render(li);
    return li;
  }

  function render(li) {
    const m = li.m;
    li.className = 'msg' + (m.sender && m.sender.id === ME ? ' mine' : '') + (mentionsMe(m) ? ' mentions-me' : '') +
      (li.classList.contains('pending') ? ' pending' : '') + (li.classList.contains('cont') ? ' cont' : '');
    const meta = el('p', 'meta');
    const time = el('time');
    time.setAttribute('datetime', m.ts);
    localise(time);
    meta.append(el('span', 'who', who(m.sender)), ' ', time);
    if (m.edited_at && !m.deleted) meta.append(' ', el('span', 'edited', t('edited')));
    if (li.status) meta.append(' ', el('span', 'status', li.status));
    if (!m.deleted && li.dataset.seq && m.sender && m.sender.id !== ME) {
      // Others' messages may be reported to the room's moderators (a plain page: no script needed).
      const report = el('a', 'report', t('report'));
      report.href = '/rooms/' + ROOM + '/messages/' + m.seq + '/report';
      meta.append(' ', report);
    }
    const body = el('div', 'body' + (m.deleted ? ' deleted' : ''));
    body.dir = 'auto';
    body.id = li.id + '-body';
    // Sanitised by the server when the message was stored (nh3 allow-list); never built from Markdown here.
    if (m.deleted) body.textContent = t('deleted');
    else if (m.html !== undefined) body.innerHTML = m.html;
    else { body.textContent = m.body; body.classList.add('plain'); }   // not yet formatted: queued here
    for (const mention of body.querySelectorAll('.mention')) {
      if (mention.dataset.mention === String(ME)) mention.classList.add('me');
    }
    const parts = [avatar(m.sender), meta];
    if (m.reply_to) parts.push(quoteElement(m));
    parts.push(body);
    if (m.attachments && m.attachments.length && !m.deleted) parts.push(attachmentList(m.attachments));
    if (!m.deleted && m.reactions.length) parts.push(reactionsElement(m));
    if (!THREAD && hasReplies(m.seq)) {
      const more = el('p', 'replies');
      const a = el('a', '', t('view_replies'));
      a.href = '/rooms/' + ROOM + '?thread=' + m.seq;
      more.append(a);
      parts.push(more);
    }
    const actions = actionsElement(li);
    if (actions) parts.push(actions);
    // A keyboard user keeps their place when the message changes under them (a reaction arrives).
    const focused = li.contains(document.activeElement) ? document.activeElement : null;
    const again = focused && (focused.dataset.action ? '[data-action="' + focused.dataset.action + '"]'
      : focused.dataset.emoji ? '[data-emoji="' + focused.dataset.emoji + '"]' : null);
    if (picker && picker.parentNode === li) {
      parts.push(picker);
      picker.opener = (actions && actions.querySelector('[data-action=react]')) || picker.opener;
    }
    li.replaceChildren(...parts);
    const refocus = again && (picker && picker.contains(focused) ? focused : li.querySelector(again));
    if (refocus) refocus.focus();
  }
  const hasReplies = (seq) => !!list.querySelector('li[data-reply-to="' + seq + '"]');
  // Initials on a colour of the sender's own (templates/chat_message.html draws the same).
  function avatar(sender) {
    const who = sender || { id: 0, display_name: '' };
    const span = el('span', 'avatar av' + (who.id % 6));
    span.setAttribute('aria-hidden', 'true');
    span.textContent = who.display_name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => Array.from(w)[0]).join('').toUpperCase();
    return span;
  }

  // Day separators and a sender's consecutive messages grouped, kept right as messages come and go.
  let arranging = false;   // a page of history arranges once, after its last message
  const dayOfMessage = (li) => (li.m && li.m.ts ? new Date(li.m.ts) : new Date());
  function arrange() {
    if (!IN_ROOM) return;
    const old = new Map(Array.from(list.querySelectorAll('li.day'), (node) => [node.dataset.day, node]));
    const kept = new Set();
    let lastDay = '', last = null;
    for (const li of Array.from(list.children)) {
      if (!li.classList.contains('msg')) continue;
      const date = dayOfMessage(li);
      const day = dayOf(date);
      if (day !== lastDay) {
        const sep = old.get(day) || el('li', 'day');
        sep.dataset.day = day;
        const label = dayLabel(date);
        if (sep.textContent !== label) sep.textContent = label;
        const before = li.previousElementSibling && li.previousElementSibling.classList.contains('unread-line') ? li.previousElementSibling : li;
        if (before.previousElementSibling !== sep) list.insertBefore(sep, before);
        kept.add(sep);
        last = null;
      }
      const grouped = last && last === li.previousElementSibling && last.m && li.m && last.m.sender && li.m.sender &&
        last.m.sender.id === li.m.sender.id && !li.m.reply_to && date - dayOfMessage(last) < GROUP_WITHIN_MS;
      li.classList.toggle('cont', !!grouped);
      lastDay = day;
      last = li;
    }
    for (const sep of old.values()) if (!kept.has(sep)) sep.remove();
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

  // Reply, react, pin and the author's own edit and delete: labelled buttons, reachable by keyboard.
  function actionsElement(li) {
    const m = li.m;
    if (!JOINED || m.deleted || !li.dataset.seq) return null;
    const actions = el('p', 'actions');
    const add = (b) => { b.setAttribute('aria-describedby', li.id + '-body'); actions.append(b, ' '); return b; };
    if (composer && !VIEW) add(button(t('reply'), 'reply'));   // in a thread, everything answers the thread
    add(button(t('react'), 'react')).disabled = state !== 'online';
    if (CAN_PIN) add(button(pinned.has(m.seq) ? t('unpin') : t('pin'), 'pin')).disabled = state !== 'online';
    if (m.sender && m.sender.id === ME) {
      add(button(t('edit'), 'edit'));
      add(button(t('delete'), 'delete'));
    }
    return actions;
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
    if (m.sender && m.sender.id === ME && m.client_id) settle(m.client_id);
    if (m.sender) stopTyping(m.sender.id);
    if (bySeq.has(m.seq) || !shows(m)) return null;
    const li = messageElement(m);
    bySeq.set(m.seq, li);
    place(li, m.seq);
    removeEmptyNote();
    if (!arranging) arrange();
    const parent = m.reply_to && bySeq.get(m.reply_to);
    if (parent && !parent.querySelector('.replies')) render(parent);   // its "View replies" link
    return li;
  }

  // An edit, deletion or reaction of a loaded message; older ones show their current state when loaded.
  function applyChange(f) {
    if (f.type === 'pin') return onPin(f);
    if (f.type === 'member.erased') return onErased(f.member.id);
    if (f.type === 'history.removed') return onRemoved(f.removed_through);
    if (f.type !== 'reaction') updateQuotes(f);
    const li = bySeq.get(f.target);
    if (!li) return;
    const m = li.m;
    if (f.type === 'message.edited') {
      Object.assign(m, { body: f.body, html: f.html, edited_at: f.ts, mentions: f.mentions || [], mentions_room: !!f.mentions_room });
    } else if (f.type === 'message.deleted') {
      Object.assign(m, { deleted: true, body: '', html: '', reactions: [] });
      if (pinned.delete(f.target)) refreshPins();
    } else {
      react(m, f.emoji, f.sender.id, f.active);
    }
    if (f.type !== 'reaction' || f.sender.id === ME) li.status = '';
    render(li);
  }
  // A member deleted their account: every message of theirs here is blanked, and so are the quotes of them.
  function onErased(memberId) {
    const former = { id: memberId, display_name: '', former: true };
    for (const li of bySeq.values()) {
      const m = li.m;
      if (m.sender && m.sender.id === memberId) {
        Object.assign(m, { deleted: true, body: '', html: '', reactions: [], attachments: undefined, sender: former });
        if (pinned.delete(m.seq)) refreshPins();
      } else if (m.parent && m.parent.sender && m.parent.sender.id === memberId) {
        m.parent = { sender: former, deleted: true };
      } else continue;
      render(li);
    }
  }
  // Retention removed everything up to `through`: those messages leave the page, and older ones are not asked for.
  function onRemoved(through) {
    for (const [seq, li] of bySeq) {
      if (seq <= through) { li.remove(); bySeq.delete(seq); }
    }
    arrange();
    olderButton.hidden = true;
    if (!removedNote.isConnected) list.before(removedNote);
  }
  const removedNote = document.querySelector('p.note.removed') || el('p', 'note removed', t('history_removed'));

  // The replies quoting an edited or deleted message show its new state, as their history would.
  function updateQuotes(f) {
    for (const li of list.querySelectorAll('li[data-reply-to="' + f.target + '"]')) {
      const parent = li.m.parent || (li.m.parent = { sender: {} });
      if (f.type === 'message.deleted') { parent.deleted = true; delete parent.excerpt; } else parent.excerpt = excerpt(f.body);
      render(li);
    }
  }

  // Reactions ----------------------------------------------------------------
  // Each change names who reacted, so applying one twice (the message's summary, then the event
  // again on resume) changes nothing.

  function react(m, emoji, memberId, active) {
    let entry = m.reactions.find((r) => r.emoji === emoji);
    if (!entry && active) m.reactions.push(entry = { emoji: emoji, members: [] });
    if (!entry) return;
    entry.members = entry.members.filter((id) => id !== memberId).concat(active ? [memberId] : []);
    if (!entry.members.length) m.reactions = m.reactions.filter((r) => r !== entry);
  }
  function reactionsElement(m) {
    const box = el('p', 'reactions');
    for (const r of m.reactions) {
      const mine = r.members.includes(ME);
      const chip = el('button', 'reaction');
      chip.type = 'button';
      chip.dataset.emoji = r.emoji;
      chip.setAttribute('aria-pressed', String(mine));
      chip.append(r.emoji + ' ', el('span', 'count', String(r.members.length)));
      chip.setAttribute('aria-label', t(mine ? 'reaction_mine' : 'reaction', { emoji: r.emoji, n: r.members.length }));
      chip.disabled = !JOINED || state !== 'online';
      chip.members = r.members;
      nameChip(chip);
      box.append(chip, ' ');
    }
    return box;
  }
  function sendReaction(seq, emoji, active) {
    send({ type: 'react', room: ROOM, target: seq, emoji: emoji, active: active, ref: 'react' });
  }

  // The quick choice of reactions: a row of buttons the arrow keys move through; Escape closes it.
  let picker = null;
  function closePicker(focusBack) {
    if (!picker) return;
    const opener = picker.opener;
    picker.remove();
    picker = null;
    if (focusBack && opener.isConnected) opener.focus();
  }
  function openPicker(li, opener) {
    closePicker(false);
    picker = el('div', 'picker');
    picker.opener = opener;
    picker.setAttribute('role', 'group');
    picker.setAttribute('aria-label', t('choose_reaction'));
    for (const emoji of QUICK_REACTIONS) {
      const b = button(emoji, 'pick');
      b.dataset.emoji = emoji;
      picker.append(b);
    }
    const other = el('input');
    other.setAttribute('aria-label', t('other_emoji'));
    other.maxLength = 16;
    other.size = 3;
    other.placeholder = '…';
    picker.append(other);
    li.querySelector('.actions').after(picker);
    picker.querySelector('button').focus();
    picker.addEventListener('keydown', (event) => {
      const items = Array.from(picker.querySelectorAll('button, input'));
      const at = items.indexOf(document.activeElement);
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (event.key === 'Escape') { event.preventDefault(); closePicker(true); }
      else if (step && !(document.activeElement === other && other.value)) {
        event.preventDefault();
        items[(at + step * (document.dir === 'rtl' && /Left|Right/.test(event.key) ? -1 : 1) + items.length) % items.length].focus();
      } else if (event.key === 'Enter' && document.activeElement === other) {
        event.preventDefault();
        if (other.value.trim()) { sendReaction(Number(li.dataset.seq), other.value.trim(), true); closePicker(true); }
      }
    });
    picker.addEventListener('click', (event) => {
      const b = event.target.closest('button[data-emoji]');
      if (!b) return;
      const r = li.m.reactions.find((x) => x.emoji === b.dataset.emoji);
      sendReaction(Number(li.dataset.seq), b.dataset.emoji, !(r && r.members.includes(ME)));
      closePicker(true);
    });
  }

  // The room's members: loaded once, when first needed (mention suggestions, who reacted).
  let names = null, namesLoading = null;
  function loadNames() {
    if (names || namesLoading) return namesLoading || Promise.resolve(names);
    namesLoading = fetch('/api/rooms/' + ROOM + '/members', { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : { members: [] }))
      .then((data) => { names = new Map(data.members.map((m) => [m.id, m])); return names; })
      .catch(() => null)
      .finally(() => { namesLoading = null; });
    return namesLoading;
  }
  // Who reacted shows on a chip's tooltip once the names are known (asked for on first pointing or focus).
  function nameChip(chip) {
    if (names && chip.members) chip.title = chip.members.map((id) => (names.get(id) || {}).display_name || '?').join(', ');
  }
  for (const type of ['pointerover', 'focusin']) {
    list.addEventListener(type, (event) => {
      if (!names && event.target.closest('.reaction')) loadNames().then(() => list.querySelectorAll('.reaction').forEach(nameChip));
    });
  }

  // Pins ---------------------------------------------------------------------

  function onPin(f) {
    if (f.active) pinned.add(f.target); else pinned.delete(f.target);
    const li = bySeq.get(f.target);
    if (li) render(li);
    refreshPins();
  }
  // The list at the top of the room comes from the server, which knows pinned messages not loaded here.
  function refreshPins() {
    if (!pinList) return;
    fetch('/api/rooms/' + ROOM + '/pins', { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : null)).then((data) => {
      if (!data) return;
      pinList.replaceChildren(...data.pins.map((p) => {
        const li = el('li');
        li.dataset.seq = p.seq;
        const a = el('a');
        a.href = '/rooms/' + ROOM + '?thread=' + p.seq;
        a.append(el('span', 'who', p.sender.display_name), ' ', el('span', 'excerpt', excerpt(p.body)));
        li.append(a);
        return li;
      }));
      pinCount.textContent = data.pins.length;
      pinBox.hidden = !data.pins.length;
    }).catch(() => { /* the list refreshes with the next pin or the next visit */ });
  }

  // What the reader saw, kept on the device: the page the service worker saved offline may be
  // older than the last messages that arrived live.
  function remember() {
    if (VIEW) return;   // the room's own copy, not a view of it
    const recent = Array.from(list.querySelectorAll('li[data-seq]')).slice(-RECENT_KEPT).map((li) => li.m);
    storage.set(RECENT_KEY, { seq: lastSeq, messages: recent });
  }
  function restoreRecent() {
    const saved = storage.get(RECENT_KEY, null);
    if (VIEW || !saved || !(saved.seq > lastSeq)) return;   // the page itself is as new or newer
    for (const m of saved.messages) {
      const shown = bySeq.get(m.seq);
      if (!shown) { addMessage(m); continue; }
      shown.m = Object.assign({ reactions: [] }, m);   // edited, deleted or reacted to since the page was made
      render(shown);
    }
    lastSeq = saved.seq;
    if (!navigator.onLine) stateText.textContent = t('offline_copy');
  }
  function announce(m) {
    if (!m.sender || m.sender.id === ME || m.deleted) return;
    // The log region announces additions too, but many screen readers read only the last line of a
    // burst; this says who wrote what, once.
    announcer.textContent = t('new_message', { name: m.sender.display_name, body: m.body.slice(0, 200) });
    if (NOTIFY && mentionsMe(m) && document.visibilityState !== 'visible' &&
        window.Notification && Notification.permission === 'granted') {
      new Notification(t('mentioned', { name: m.sender.display_name }), { body: m.body.slice(0, 200), tag: 'convene-' + ROOM });
    }
  }

  function onRoomEvent(f) {
    const follow = nearBottom();
    const fresh = f.type === 'message' && !bySeq.has(f.seq) && shows(f);
    const li = f.type === 'message' ? addMessage(f) : applyChange(f);
    if (fresh) announce(f);
    // Read elsewhere while this tab was hidden: the line shows where the reader will pick up.
    if (fresh && li && document.visibilityState !== 'visible' && !VIEW && f.sender && f.sender.id !== ME &&
        !document.getElementById('unread')) {
      const line = el('li', 'unread-line', t('new_messages'));
      line.id = 'unread';
      line.tabIndex = -1;
      list.insertBefore(line, li);
      arrange();
    }
    if (f.seq > lastSeq) {   // a subscription delivers in order and without gaps
      lastSeq = f.seq;
      storage.set(SEQ_KEY, lastSeq);
      remember();
    }
    if (follow) toBottom();
    markRead();
  }

  // Outbox: messages, edits and deletions are kept until the server acknowledges them, across
  // reloads, and sent one at a time in the order they were made. Each carries a client id, so one
  // sent again after a lost ack is answered, not applied twice. ----------------------------------

  let memoryOutbox = storage.get(OUTBOX_KEY, []);
  // Read afresh each time: another tab of this member may have queued or settled messages.
  const outbox = () => storage.get(OUTBOX_KEY, memoryOutbox);
  function saveOutbox(entries) { memoryOutbox = entries; storage.set(OUTBOX_KEY, entries); }
  const kindOf = (entry) => entry.type || 'send';   // entries queued before edits were queued are sends

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));   // randomUUID needs https; this does not
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  function queue(entry) {
    entry.client_id = newClientId();
    entry.room = ROOM;
    saveOutbox(outbox().concat([entry]));
    showQueued(entry);
    flush();
  }

  function showQueued(entry) {
    if (kindOf(entry) !== 'send') {   // an edit or deletion shows on the message it changes
      const li = bySeq.get(entry.target);
      if (!li) return;
      li.status = t(kindOf(entry) === 'edit' ? 'edit_waiting' : 'delete_waiting');
      if (kindOf(entry) === 'edit') Object.assign(li.m, { body: entry.body, html: undefined });
      render(li);
      return;
    }
    const li = el('li', 'msg mine pending');
    li.dataset.clientId = entry.client_id;
    const meta = el('p', 'meta');
    meta.append(el('span', 'who', MY_NAME), ' ', el('span', 'status', t('waiting')));
    li.append(avatar({ id: ME, display_name: MY_NAME }), meta);
    if (entry.reply_to) li.append(quoteElement({ reply_to: entry.reply_to, parent: entry.parent }));
    li.append(el('div', 'body plain', entry.body));
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
    if (entry.failed) failedSend(entry, li);
    arrange();
  }
  // Refused for good, kept on this device with its reason: the member may send it again or let it go.
  function failedSend(entry, li) {
    li.classList.add('failed');
    li.querySelector('.status').textContent = t('not_sent') + ' ' + entry.failed;
    if (li.querySelector('.retry')) return;
    const choice = el('p', 'retry');
    choice.append(button(t('retry'), 'retry'), button(t('discard'), 'discard'));
    li.append(choice);
  }
  const pendingFor = (clientId) =>
    Array.from(list.querySelectorAll('li.pending')).find((li) => li.dataset.clientId === clientId);
  function setPendingStatus(entry, text, failed) {
    const li = kindOf(entry) === 'send' ? pendingFor(entry.client_id) : bySeq.get(entry.target);
    if (!li) return;
    if (li.m) { li.status = text; render(li); } else li.querySelector('.status').textContent = text;
    if (failed) li.classList.add('failed');
  }

  // Stored on the server: drop it from the outbox and from the pending list.
  function settle(clientId, ack) {
    const entries = outbox();
    const entry = entries.find((e) => e.client_id === clientId);
    saveOutbox(entries.filter((e) => e.client_id !== clientId));
    const li = pendingFor(clientId);
    if (li) li.remove();
    const changed = entry && kindOf(entry) !== 'send' && bySeq.get(entry.target);
    if (changed) { changed.status = ''; render(changed); }   // its event shows (or showed) the change
    const wasSending = sending === clientId;
    if (wasSending) sending = null;
    if (entry && entry.files) attachments().then((A) => A.forget(entry));
    // The ack may beat the message event; show it now, the event is then dropped by seq. A message with
    // files waits for its event, which carries them.
    if (ack && entry && entry.room === ROOM && kindOf(entry) === 'send' && !entry.files) {
      addMessage({ seq: ack.seq, sender: { id: ME, display_name: MY_NAME }, client_id: clientId, body: entry.body,
                   ts: ack.ts, reply_to: entry.reply_to, parent: entry.parent });
    }
    if (wasSending) flush();
  }

  // One entry in flight at a time keeps them in the order they were made, even when the server
  // refuses one for a moment (rate limit, store restart) and it has to be retried.
  // Entries for other rooms go out too: a send needs no subscription.
  function flush() {
    clearTimeout(flushTimer);
    const entry = outbox().find((e) => !e.failed);
    if (sending || state !== 'online' || !entry) return;
    sending = entry.client_id;
    setPendingStatus(entry, t('sending'));
    if (entry.files && entry.files.some((file) => !file.id)) {
      if (!composer) { sending = null; return; }   // a page without a composer leaves files for one that has it
      // Files first (resuming where a lost link left off), then the send: attachments.js.
      attachments().then((A) => A.upload(entry)).then(() => { sending = null; flush(); },
        (error) => onSendError(entry.client_id, error));
      return;
    }
    const frame = { type: kindOf(entry), room: entry.room, client_id: entry.client_id, ref: 's:' + entry.client_id };
    if (kindOf(entry) !== 'delete') frame.body = entry.body;
    if (kindOf(entry) !== 'send') frame.target = entry.target;
    if (entry.reply_to) frame.reply_to = entry.reply_to;
    if (entry.files) frame.attachments = entry.files.map((file) => file.id);
    send(frame);
  }
  function onSendError(clientId, f) {
    sending = null;
    const entry = outbox().find((e) => e.client_id === clientId) || { client_id: clientId };
    if (f.field === 'attachments' && entry.files && !entry.uploaded_again) {
      // Uploaded long ago and dropped unsent meanwhile: upload once more from the copy on this device.
      entry.uploaded_again = true;
      entry.files.forEach((file) => { file.id = file.upload = null; });
      chat.update(entry);
      return flush();
    }
    if (f.retryable) {
      setPendingStatus(entry, t('waiting'));
      flushTimer = setTimeout(flush, Math.max(1, f.retry_after || 2) * 1000);
      return;
    }
    // Refused for good (too long, no longer a member, deleted meanwhile): stop retrying. A message stays in
    // the outbox, marked, for the member to send again (once changed, or later) or discard; the rest goes.
    if (kindOf(entry) === 'send' && !entry.files && entry.body !== undefined) {
      entry.failed = f.message || f.code || '';
      chat.update(entry);
      const li = pendingFor(clientId);
      if (li) failedSend(entry, li);
      return flush();
    }
    saveOutbox(outbox().filter((e) => e.client_id !== clientId));
    if (entry.files) attachments().then((A) => A.forget(entry));
    setPendingStatus(entry, t('not_sent') + ' ' + f.message, true);
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
    queue(files) { sendTyped(files); },   // files: [{key, name, size, type}], kept on the device
    update(entry) { saveOutbox(outbox().map((e) => e.client_id === entry.client_id ? entry : e)); },
    progress(clientId, index, fraction) {
      const li = pendingFor(clientId);
      const bar = li && li.querySelectorAll('progress')[index];
      if (bar) bar.value = fraction;
    },
  };
  // The messages the server rendered.
  for (const li of list.querySelectorAll('li[data-seq]')) {
    li.m = fromElement(li);
    bySeq.set(li.m.seq, li);
  }

  let editing = 0;      // seq of the message being edited, or 0
  let replyingTo = 0;   // seq of the message being answered, or 0 (in a thread view, always the thread)
  if (composer) {
    composer.hidden = false;
    for (const entry of outbox()) if (entry.room === ROOM && kindOf(entry) === 'send') showQueued(entry);
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!input.value.trim()) return;
      closeSuggestions();
      if (editing) {
        queue({ type: 'edit', target: editing, body: input.value });
        stopEditing();
        return;
      }
      sendTyped(null);
    });
    const filePicker = document.getElementById('attach-file');
    if (filePicker) {
      filePicker.addEventListener('change', () => {
        const files = Array.from(filePicker.files);
        filePicker.value = '';
        if (files.length) attachments().then((A) => A.pick(files));
      });
      document.getElementById('record').addEventListener('click', () => attachments().then((A) => A.record()));
    }
    input.addEventListener('keydown', (event) => {
      if (suggesting(event)) return;
      if (event.key === 'Escape' && editing) { event.preventDefault(); stopEditing(); return; }
      if (event.key === 'Escape' && replyingTo) { event.preventDefault(); stopReplying(true); return; }
      // Enter sends, Shift+Enter starts a new line; never while an input method is composing.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (composer.requestSubmit) composer.requestSubmit(); else composer.querySelector('button[type=submit]').click();
      }
    });
    input.addEventListener('input', () => {
      suggest();
      if (input.value && subscribed && Date.now() - typingSentAt >= TYPING_EVERY_MS) {
        typingSentAt = Date.now();
        send({ type: 'typing', room: ROOM, active: true });
      }
    });
    // Leaving the box closes the list, a moment later (so a click on a choice lands first) and only if
    // the focus has not come back meanwhile: a refocus within that moment must keep the list open.
    input.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== input) closeSuggestions(); }, 150));
    replyCancel.addEventListener('click', () => stopReplying(true));
    if (THREAD) { replyNote.hidden = false; replyText.textContent = t('replying_thread'); replyCancel.hidden = true; }
  }

  // What is in the message box (and the files given, from attachments.js) goes into the outbox.
  function sendTyped(files) {
    const entry = { body: input.value };
    if (files) entry.files = files;
    const target = replyingTo || THREAD;
    if (target) {
      const li = bySeq.get(target);
      entry.reply_to = target;
      entry.parent = li ? { sender: li.m.sender, excerpt: excerpt(li.m.body) } : null;
    }
    input.value = '';
    if (replyingTo) stopReplying(false);
    if (typingSentAt) { send({ type: 'typing', room: ROOM, active: false }); typingSentAt = 0; }
    queue(entry);
    toBottom();
  }

  // Edit, delete, reply, react and pin ----------------------------------------

  function stopEditing() {
    const target = bySeq.get(editing);
    editing = 0;
    editingNote.hidden = true;
    input.value = '';
    if (target && target.querySelector('[data-action=edit]')) target.querySelector('[data-action=edit]').focus();
  }
  function startReplying(li) {
    replyingTo = Number(li.dataset.seq);
    replyText.textContent = t('replying_to', { name: li.m.sender.display_name, excerpt: excerpt(li.m.body).slice(0, 60) });
    replyNote.hidden = false;
    input.focus();
  }
  function stopReplying(focusBack) {
    const target = bySeq.get(replyingTo);
    replyingTo = 0;
    replyNote.hidden = !THREAD;
    if (focusBack && target && target.querySelector('[data-action=reply]')) target.querySelector('[data-action=reply]').focus();
  }
  list.addEventListener('click', (event) => {
    const again = event.target.closest('.retry button');
    const waiting = again && again.closest('li.pending');
    if (waiting) {
      const id = waiting.dataset.clientId;
      if (again.dataset.action === 'discard') {
        saveOutbox(outbox().filter((e) => e.client_id !== id));
        waiting.remove();
        arrange();
        if (input) input.focus();
        return;
      }
      saveOutbox(outbox().map((e) => { if (e.client_id === id) delete e.failed; return e; }));
      waiting.classList.remove('failed');
      waiting.querySelector('.retry').remove();
      waiting.querySelector('.status').textContent = t('waiting');
      flush();
      return;
    }
    const chip = event.target.closest('.reaction');
    const li = event.target.closest('li[data-seq]');
    if (chip && li && state === 'online') {
      sendReaction(Number(li.dataset.seq), chip.dataset.emoji, chip.getAttribute('aria-pressed') !== 'true');
      return;
    }
    const action = event.target.closest('.actions button');
    if (!action || !li) return;
    const seq = Number(li.dataset.seq);
    switch (action.dataset.action) {
      case 'delete':
        if (window.confirm(t('confirm_delete'))) queue({ type: 'delete', target: seq });
        break;
      case 'edit':
        editing = seq;
        editingNote.textContent = t('editing');
        editingNote.hidden = false;
        input.value = li.m.body;
        input.focus();
        break;
      case 'reply': startReplying(li); break;
      case 'react': if (picker && picker.opener === action) closePicker(true); else openPicker(li, action); break;
      case 'pin': send({ type: 'pin', room: ROOM, target: seq, active: !pinned.has(seq), ref: 'pin' }); break;
    }
  });

  // Mention suggestions: "@" and the start of a name offer the room's members (and @room to its
  // owners and moderators) in a listbox under the message box; the box keeps the focus and points
  // at the highlighted one (aria-activedescendant). -------------------------------------------

  let choices = [], chosen = -1;
  const typedMention = () => {
    const before = input.value.slice(0, input.selectionStart);
    const found = /(^|[^\w@.+-])@([\w.-]{0,32})$/.exec(before);
    return found ? { start: before.length - found[2].length - 1, prefix: found[2].toLowerCase() } : null;
  };
  function suggest() {
    const typed = typedMention();
    if (!typed) return closeSuggestions();
    if (!names) { loadNames().then(() => { if (names) suggest(); }); return; }
    const starts = (text) => text.toLowerCase().split(/\s+/).some((word) => word.startsWith(typed.prefix));
    choices = Array.from(names.values())
      .filter((m) => m.id !== ME && (m.username.startsWith(typed.prefix) || starts(m.display_name)))
      .slice(0, SUGGESTIONS).map((m) => ({ username: m.username, label: m.display_name + ' @' + m.username }));
    if (MODERATOR && 'room'.startsWith(typed.prefix)) choices.push({ username: 'room', label: '@room · ' + t('mention_room') });
    if (!choices.length) return closeSuggestions(t('no_suggestions'));
    suggestList.replaceChildren(...choices.map((choice, i) => {
      const option = el('li', '', choice.label);
      option.id = 'mention-' + i;
      option.setAttribute('role', 'option');
      option.addEventListener('mousedown', (event) => { event.preventDefault(); pick(i); });
      return option;
    }));
    suggestList.hidden = false;
    choose(0);
    suggestStatus.textContent = t('suggestions', { n: choices.length });
  }
  function choose(i) {
    chosen = (i + choices.length) % choices.length;
    Array.from(suggestList.children).forEach((option, n) => option.setAttribute('aria-selected', String(n === chosen)));
    input.setAttribute('aria-activedescendant', 'mention-' + chosen);
  }
  function pick(i) {
    const typed = typedMention();
    if (!typed) return closeSuggestions();
    const text = '@' + choices[i].username + ' ';
    const after = input.value.slice(input.selectionStart);
    input.value = input.value.slice(0, typed.start) + text + after;
    input.selectionStart = input.selectionEnd = typed.start + text.length;
    closeSuggestions();
  }
  function closeSuggestions(status) {
    choices = [];
    chosen = -1;
    if (!suggestList) return;
    suggestList.hidden = true;
    suggestList.replaceChildren();
    input.removeAttribute('aria-activedescendant');
    suggestStatus.textContent = typeof status === 'string' ? status : '';
  }
  // Keys the open list takes before the message box does; answers whether it took this one.
  function suggesting(event) {
    if (suggestList.hidden || !choices.length || event.isComposing) return false;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) choose(chosen + moves[event.key]);
    else if (event.key === 'Enter' || event.key === 'Tab') pick(chosen);
    else if (event.key === 'Escape') closeSuggestions();
    else return false;
    event.preventDefault();
    return true;
  }
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
        if (IN_ROOM) send({ type: 'subscribe', room: ROOM, since: lastSeq, ref: 'sub' });
        else attempt = 0;
        app.online();
        if (document.visibilityState !== 'visible') send({ type: 'presence', status: 'away' });
        clearInterval(pingTimer);
        pingTimer = setInterval(() => { if (send({ type: 'ping' })) pongTimer = setTimeout(drop, PONG_WITHIN_MS); }, PING_EVERY_MS);
        flush();
        break;
      case 'subscribed':
        if (f.room !== ROOM) { app.subscribed(f); break; }
        attempt = 0;   // only now: a server that accepts sockets but cannot serve the room still backs off
        subscribed = true;
        send({ type: 'who', room: ROOM });
        markRead();
        break;
      case 'message': case 'message.edited': case 'message.deleted': case 'reaction': case 'pin':
      case 'member.erased': case 'history.removed':
        if (f.room === ROOM) onRoomEvent(f); else app.roomEvent(f);
        break;
      case 'notification': app.notification(f); break;
      case 'alert': case 'alert.ack': app.alertEvent(f); break;
      case 'read': app.read(f); break;
      case 'retention': if (f.room === ROOM) onRemoved(f.removed_through); break;
      case 'ack': if (f.client_id) settle(f.client_id, f); break;
      case 'history': if (IN_ROOM && f.room === ROOM) onHistory(f); break;
      case 'who':
        present.clear();
        f.members.forEach((m) => present.set(m.id, { name: m.display_name, status: m.status }));
        renderPresent();
        break;
      case 'presence': if (f.room === ROOM) setPresence(f.member, f.status); break;
      case 'member.joined': if (f.room === ROOM) send({ type: 'who', room: ROOM }); break;
      case 'member.left': if (f.room === ROOM) setPresence(f.member, 'offline'); break;
      case 'typing': if (f.room === ROOM) onTyping(f); break;
      case 'unsubscribed':
        if (f.room === ROOM && f.reason === 'removed') stop(t('removed'));
        if (f.room === ROOM && f.reason === 'banned') stop(t('banned'));
        break;
      case 'error': onError(f); break;
    }
  }
  function onError(f) {
    const ref = f.ref || '';
    if (ref.startsWith('s:')) onSendError(ref.slice(2), f);
    else if (ref === 'older') olderButton.disabled = false;
    else if (ref === 'sub' && f.retryable) drop();   // e.g. the store is restarting: reconnect and resume
    else if (ref === 'sub') stop(t('room_unavailable') + ' ' + f.message);
    else if (ref === 'react' || ref === 'pin') announcer.textContent = f.message;
  }

  // Older messages -----------------------------------------------------------

  olderButton.hidden = root.dataset.hasMore !== 'true';
  olderButton.addEventListener('click', () => {
    // In a thread the message answered comes first; the replies before the first one shown are older.
    const first = Array.from(list.querySelectorAll('li[data-seq]')).find((li) => Number(li.dataset.seq) !== THREAD);
    const frame = { type: 'history', room: ROOM, before: first ? Number(first.dataset.seq) : BEFORE || undefined,
                    limit: HISTORY_PAGE, ref: 'older' };
    if (THREAD) frame.thread = THREAD;
    if (MENTIONS_ONLY) frame.mentions = 'me';
    if ((first || BEFORE) && send(frame)) olderButton.disabled = true;
  });
  function onHistory(f) {
    // Keep the reader's place: the page grows above what they are looking at.
    const box = OWN_SCROLL ? list : page;
    const height = box.scrollHeight;
    arranging = true;
    f.messages.forEach(addMessage);
    arranging = false;
    arrange();
    if (OWN_SCROLL) list.scrollTop += list.scrollHeight - height; else window.scrollBy(0, page.scrollHeight - height);
    olderButton.hidden = !f.has_more;
    olderButton.disabled = false;
    if (f.removed_through) onRemoved(f.removed_through);
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

  for (const li of bySeq.values()) render(li);
  restoreRecent();
  // Edits and deletions still queued show on their messages (the saved copy may have brought them back).
  for (const entry of outbox()) if (entry.room === ROOM && kindOf(entry) !== 'send') showQueued(entry);
  arrange();
  // Opened from a notification (/rooms/1#m-42) or at the first unread (#unread): show that, not the newest.
  const target = IN_ROOM && /^#(m-\d+|unread)$/.test(location.hash) && document.getElementById(location.hash.slice(1));
  if (target) { target.classList.add('target'); target.scrollIntoView({ block: 'center' }); } else if (IN_ROOM) toBottom();

  // The way to the first unread message (the line at the read marker, or the older stretch that has it) and
  // back to the newest: each shows only while it leads somewhere not on screen.
  const [unreadBar, newestBar] = [document.getElementById('jump-unread-bar'), document.getElementById('jump-newest-bar')];
  function toUnread(event) {
    const line = document.getElementById('unread');
    if (!line) return;   // the link leads to the stretch of the room where the line is
    if (event) event.preventDefault();
    line.scrollIntoView({ block: 'start' });
    line.focus({ preventScroll: true });
    if (unreadBar) unreadBar.hidden = true;
  }
  if (unreadBar) {
    unreadBar.querySelector('a').addEventListener('click', toUnread);
    const line = document.getElementById('unread');
    if (line && window.IntersectionObserver) {
      new IntersectionObserver((entries) => { if (entries[0].isIntersecting) unreadBar.hidden = true; }).observe(line);
    }
  }
  let scrollPending = false;
  function followScroll() {
    if (scrollPending || !newestBar) return;
    scrollPending = true;
    requestAnimationFrame(() => { scrollPending = false; newestBar.hidden = nearBottom(); });
  }
  (OWN_SCROLL ? list : window).addEventListener('scroll', followScroll, { passive: true });
  if (newestBar) {
    newestBar.querySelector('button').addEventListener('click', () => {
      toBottom();
      newestBar.hidden = true;
      const newest = list.querySelector('li.msg:last-child') || list.lastElementChild;
      if (newest) { newest.tabIndex = -1; newest.focus({ preventScroll: true }); }
    });
  }
  // The webinar's chat tab shown again: its newest messages, as if it had been open all along.
  document.addEventListener('convene:shown', toBottom);

  // The room's keyboard shortcuts: reply to the last message, and what Escape closes.
  function reveal() {
    const panel = root.closest('[role=tabpanel]');
    const tab = panel && document.getElementById(panel.getAttribute('aria-labelledby'));
    if (tab && tab.getAttribute('aria-selected') !== 'true') tab.click();
  }
  if (composer) {
    shortcuts.r = () => {
      const last = Array.from(list.querySelectorAll('li[data-seq]')).reverse().find((li) => !li.m.deleted);
      reveal();
      if (last && !VIEW && last.querySelector('[data-action=reply]')) startReplying(last); else input.focus();
    };
  }
  closers.push(() => { if (!picker) return false; closePicker(true); return true; },
    () => { if (!pinBox || !pinBox.open) return false; pinBox.open = false; pinBox.querySelector('summary').focus(); return true; },
    () => { if (!replyingTo) return false; stopReplying(true); return true; },
    () => { if (!editing) return false; stopEditing(); return true; });
  // The next room with unread messages, in the order of the room list (rooms, then conversations).
  shortcuts.u = () => {
    fetch('/api/rooms', { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status))).then((data) => {
        const rooms = data.rooms.filter((r) => r.kind === 'room').concat(data.rooms.filter((r) => r.kind === 'dm'));
        const at = rooms.findIndex((r) => r.id === ROOM);
        const next = rooms.slice(at + 1).concat(rooms.slice(0, at + 1)).find((r) => r.unread > 0 && r.id !== ROOM);
        if (next) location.href = '/rooms/' + next.id; else tell(t('no_unread'));
      }).catch(() => tell(t('unavailable')));
  };

  // The app around the room: badges, title, icon and desktop notifications -------

  const app = (function () {
    const TITLE = document.title;
    const ICON = document.querySelector('link[rel=icon]');
    const ICON_URL = ICON ? ICON.href : '';
    const FOLLOWED_MAX = 50;   // rooms of the lists whose new messages this tab counts live
    const navBadge = document.getElementById('nav-unread');
    const alertBadge = document.getElementById('nav-alerts');
    const emergencyRooms = new Set();
    let alertsTimer = 0;
    const unread = new Map(), mentions = new Map(), heads = new Map();
    let notices = 0;
    const links = (room) => document.querySelectorAll('a[data-room-link="' + room + '"]');
    const listed = () => Array.from(new Set(Array.from(document.querySelectorAll('a[data-room-link]'), (a) => Number(a.dataset.roomLink))));

    function badge(a, className, count, label) {
      let node = a.querySelector('.' + className);
      if (!count) { if (node) node.remove(); return; }
      if (!node) {
        node = el('span', className);
        if (className === 'mentions') a.insertBefore(node, a.querySelector('.unread')); else a.append(node);
      }
      node.replaceChildren((className === 'mentions' ? '@' : '') + count, el('span', 'vh', ' ' + label));
    }
    function render(room) {
      for (const a of links(room)) {
        badge(a, 'unread', room === ROOM ? 0 : unread.get(room) || 0, t('unread'));
        badge(a, 'mentions', mentions.get(room) || 0, t('mentions'));
      }
    }
    function renderTotals() {
      if (navBadge) { navBadge.hidden = !notices; navBadge.textContent = notices ? String(notices) : ''; }
      document.title = (notices ? '(' + notices + ') ' : '') + TITLE;
      if (ICON) ICON.href = notices ? countIcon(notices) : ICON_URL;
    }
    // The site's icon with the count on it, drawn as SVG (no canvas, no download).
    function countIcon(n) {
      const text = n > 99 ? '99+' : String(n);
      const svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#0b5cad"/>' +
        '<circle cx="44" cy="20" r="20" fill="#c62828"/><text x="44" y="28" font-size="' + (text.length > 2 ? 16 : 22) +
        '" font-family="sans-serif" font-weight="700" fill="#fff" text-anchor="middle">' + text + '</text></svg>';
      return 'data:image/svg+xml,' + encodeURIComponent(svg);
    }
    function setCounts(counts) {
      notices = counts.unread || 0;
      mentions.clear();
      for (const room in counts.mentions || {}) mentions.set(Number(room), counts.mentions[room]);
      renderTotals();
    }
    function json(path) {
      return fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)));
    }
    // The Emergencies link's count of alerts awaiting this member's acknowledgement: asked again whenever an
    // alert or an acknowledgement happens in one of their emergency rooms (rare; exact, and nothing to drift).
    function refreshAlerts() {
      clearTimeout(alertsTimer);
      alertsTimer = setTimeout(() => json('/api/emergencies/awaiting').then((data) => {
        const n = data.awaiting || 0;
        alertBadge.hidden = !n;
        alertBadge.textContent = n ? String(n) : '';
        alertBadge.nextElementSibling.hidden = !n;
      }).catch(() => { /* asked again on the next alert or connect */ }), 250);
    }
    function alertEvent(f) {
      if (alertBadge && (emergencyRooms.has(f.room) || f.room === EMERGENCY_ROOM)) refreshAlerts();
    }
    // On every (re)connect, the server's counts replace ours: what was missed while offline is in them.
    function online() {
      Promise.all([json('/api/rooms'), json('/api/notifications/counts')]).then(([rooms, counts]) => {
        setCounts(counts);
        if (alertBadge) {
          refreshAlerts();
          // Emergency rooms are followed whatever the page (and the saving of data): their alerts matter most.
          for (const r of rooms.rooms) {
            if (r.kind !== 'emergency') continue;
            emergencyRooms.add(r.id);
            if (r.id !== ROOM && r.id !== EMERGENCY_ROOM) send({ type: 'subscribe', room: r.id, since: r.last_seq });
          }
        }
        const shown = new Set(listed());
        for (const r of rooms.rooms) {
          if (!shown.has(r.id)) continue;
          unread.set(r.id, r.id === ROOM ? 0 : r.unread);
          heads.set(r.id, r.last_seq);
        }
        shown.forEach(render);
        // Saving data: counts come with notifications and reloads only, no room is followed.
        if (LITE || (navigator.connection && navigator.connection.saveData)) return;
        Array.from(shown).filter((room) => room !== ROOM && room !== EMERGENCY_ROOM && heads.has(room)).slice(0, FOLLOWED_MAX)
          .forEach((room) => send({ type: 'subscribe', room: room, since: heads.get(room) }));
      }).catch(() => { /* the badges stay as they are until the next connect */ });
    }
    function subscribed(f) { heads.set(f.room, f.last_seq); }
    function roomEvent(f) {
      if (f.seq <= (heads.get(f.room) || 0)) return;
      heads.set(f.room, f.seq);
      if (f.type !== 'message' || !f.sender || f.sender.id === ME || f.deleted) return;
      unread.set(f.room, (unread.get(f.room) || 0) + 1);
      render(f.room);
    }
    function notification(f) {
      const n = f.notification;
      notices = f.unread;
      if ((n.kind === 'mention' || n.kind === 'reply') && n.room !== ROOM) mentions.set(n.room, (mentions.get(n.room) || 0) + 1);
      if (n.room !== ROOM || document.visibilityState !== 'visible') renderTotals();
      render(n.room);
      if (document.visibilityState !== 'visible' && window.Notification && Notification.permission === 'granted' &&
          !(n.room === ROOM && n.kind !== 'mention')) {
        const shown = new Notification(n.actor ? n.actor.display_name + ' · ' + n.room_name : n.room_name,
          { body: n.excerpt || '', tag: 'convene-' + n.room, data: { url: n.url } });
        shown.onclick = () => { window.focus(); location.href = n.url; };
      }
    }
    // Our own read marker moved (here or, for the open room, by reading): its badges go.
    function read(f) {
      unread.set(f.room, 0);
      if (mentions.has(f.room)) {
        mentions.delete(f.room);
        json('/api/notifications/counts').then(setCounts).catch(() => {});
      }
      render(f.room);
    }
    return { online, subscribed, roomEvent, notification, read, alertEvent };
  }());

  // After the page's other deferred scripts (webinar.js, emergency.js) have started listening for frames:
  // they run after this one, and a quick hello would otherwise reach the page before them.
  let started = false;
  const start = () => { if (!started) { started = true; connect(); } };
  document.addEventListener('DOMContentLoaded', start);
  window.addEventListener('load', start);   // in case this script ran after DOMContentLoaded
  if (document.readyState === 'complete') start();
}());
