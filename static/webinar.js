/* Webinar pages. The lobby countdown and the scheduling form's time zone; on the live page: the tabs
   beside (or below) the stage, with live counts; Q&A, hands, the stage, the audience, moderation and
   polls, kept live from the webinar room's events and the hosts' `audience` frames. The frames come
   over chat.js's socket (the 'convene:frame' event), so the page opens one socket; actions go through
   the JSON API, which checks every one of them. */
(function () {
  'use strict';

  const LANG = document.documentElement.lang || undefined;
  const root = document.getElementById('webinar') || document.getElementById('webinar-page');
  let strings = {};
  try { strings = JSON.parse((root && root.dataset.strings) || '{}'); } catch (e) { /* English below */ }
  function t(key, values) {
    let text = strings[key] || key;
    for (const name in values || {}) text = text.split('{' + name + '}').join(values[name]);
    return text;
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) { node.textContent = text; node.dir = 'auto'; }
    return node;
  }

  // The scheduling form: the browser's time zone, so "10:00" means the host's 10:00.
  const tz = document.getElementById('w-tz');
  if (tz && window.Intl) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) { tz.value = zone; document.getElementById('w-tz-name').textContent = zone; }
  }

  // The lobby's countdown, in the reader's language ("in 3 hours", "dans 5 minutes").
  const countdown = document.getElementById('countdown');
  const UNITS = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  function tick() {
    if (!countdown || countdown.hidden || !window.Intl || !Intl.RelativeTimeFormat) return;
    const seconds = (new Date(countdown.dataset.startsAt) - Date.now()) / 1000;
    if (seconds <= 0) { countdown.textContent = t('starting'); return; }
    const [unit, size] = UNITS.find(([, size]) => seconds >= size) || UNITS[3];
    const when = new Intl.RelativeTimeFormat(LANG, { numeric: 'auto' }).format(Math.floor(seconds / size), unit);
    countdown.textContent = t('starts_in', { when });
  }
  if (countdown) { tick(); setInterval(tick, 1000); }

  if (!root || root.id !== 'webinar') return;

  // The live page ------------------------------------------------------------

  const ID = Number(root.dataset.webinar);
  const ROOM = Number(root.dataset.room);
  const ME = Number(root.dataset.me);
  const API = '/api/webinars/' + ID;
  const $ = (id) => document.getElementById(id);
  const [stage, hands, present, questions, polls, youText, stateTag, handButton, askForm, pollForm, pollNote, errorText] =
    ['w-stage', 'w-hands', 'w-present', 'w-questions', 'w-polls', 'w-you', 'w-state', 'w-hand', 'w-ask',
      'w-poll-form', 'w-poll-note', 'w-error'].map($);
  let role = root.dataset.role || null;
  let state = root.dataset.state;
  let muted = root.dataset.muted === 'true';
  let removed = false, handUp = root.dataset.hand === 'true';
  // The page shows the state up to data-last-seq; later events are applied on top, each at most once.
  let seen = Number(root.dataset.lastSeq) || 0;
  const moderates = () => role === 'host' || role === 'panelist';
  const VOTED_KEY = 'convene.voted.' + ME + '.' + ID;
  const voted = new Set();
  try { JSON.parse(localStorage.getItem(VOTED_KEY) || '[]').forEach((p) => voted.add(p)); } catch (e) { /* memory only */ }

  async function call(method, path, body) {
    const response = await fetch(API + path, {
      method, credentials: 'same-origin', headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || String(response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }
  function failed(error) { errorText.textContent = t('failed') + ' ' + error.message; }
  function act(promise) { errorText.textContent = ''; return promise.catch(failed); }

  function button(label, action, describedBy) {
    const b = el('button', 'quiet', label);
    b.type = 'button';
    b.dataset.act = action;
    if (describedBy) b.setAttribute('aria-describedby', describedBy);
    return b;
  }
  // A person in one of the lists; the name carries an id so each button says whom it acts on.
  function personItem(list, member) {
    let li = list.querySelector('li[data-member="' + member.id + '"]');
    if (!li) {
      li = el('li');
      li.dataset.member = member.id;
      li.dataset.name = member.display_name;
      li.append(avatar(member), el('span', 'who', member.display_name));
      list.append(li);
      counts();
    }
    li.querySelector('.who').id = list.id + '-n' + li.dataset.member;
    return li;
  }
  // A person's initials, as chat.js draws them (no pictures: nothing to download).
  function avatar(member) {
    const span = el('span', 'avatar av' + (member.id % 6));
    span.setAttribute('aria-hidden', 'true');
    span.textContent = member.display_name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => Array.from(w)[0]).join('').toUpperCase();
    return span;
  }
  function actions(li, buttons) {
    const old = li.querySelector('.acts');
    if (old) old.remove();
    if (!buttons.length) return;
    const span = el('span', 'acts');
    const name = li.querySelector('.who').id;
    buttons.forEach(([label, action]) => span.append(button(label, action, name)));
    li.append(span);
  }

  // Who I am here.
  function renderYou() {
    if (removed) { youText.textContent = t('removed'); youText.className = 'error'; return; }
    youText.textContent = t('you_' + (role || 'attendee')) + (muted ? ' ' + t('you_muted') : '') +
      (handUp && !role ? ' ' + t('hand_up') : '');
    handButton.hidden = role !== null || state !== 'live';
    handButton.textContent = handUp ? t('lower') : t('raise');
    handButton.setAttribute('aria-pressed', handUp ? 'true' : 'false');
  }
  handButton.addEventListener('click', () => act(call('POST', '/hands', { raised: !handUp })
    .then((r) => { handUp = r.raised; renderYou(); })));

  // The stage: hosts, panelists and speakers.
  function stageButtons(li) {
    if (!moderates() || removed) return [];
    const r = li.dataset.role, id = Number(li.dataset.member);
    const list = [];
    if (r !== 'host' || role === 'host') list.push(li.dataset.muted === 'true' ? [t('unmute'), 'unmute'] : [t('mute'), 'mute']);
    if (r === 'speaker') list.push([t('demote'), 'demote']);
    if (r !== 'host' && id !== ME && (r !== 'panelist' || role === 'host')) list.push([t('remove'), 'remove']);
    return list;
  }
  function onStage(member, r, isMuted) {
    const li = personItem(stage, member);
    li.dataset.role = r;
    if (isMuted !== undefined) li.dataset.muted = isMuted ? 'true' : 'false';
    if (!li.querySelector('.role')) {
      li.append(' ', el('span', 'tag role'), ' ', el('span', 'tag muted', t('muted')));
    }
    li.querySelector('.role').textContent = t(r);
    li.querySelector('.muted').hidden = li.dataset.muted !== 'true';
    actions(li, stageButtons(li));
  }
  function offStage(memberId) {
    const li = stage.querySelector('li[data-member="' + memberId + '"]');
    if (li) li.remove();
    counts();
  }

  // Raised hands (moderators see the queue) and the audience present now: the attendance report once,
  // then each arrival and departure as the server tells the hosts (`audience` frames), hands as events.
  function handButtons() { return moderates() && state === 'live' ? [[t('promote'), 'promote'], [t('lower'), 'lower'], [t('remove'), 'remove']] : []; }
  function setHand(member, raised) {
    if (member.id === ME) { handUp = raised; renderYou(); }
    if (!hands) return;
    if (raised) actions(personItem(hands, member), handButtons());
    else { const li = hands.querySelector('li[data-member="' + member.id + '"]'); if (li) li.remove(); }
    $('w-no-hands').hidden = hands.children.length > 0;
    const here = present.querySelector('li[data-member="' + member.id + '"]');
    if (here) markHand(here);
  }
  // In the audience list, a raised hand shows beside the name.
  function markHand(li) {
    const raised = !!hands.querySelector('li[data-member="' + li.dataset.member + '"]');
    let tag = li.querySelector('.hand');
    if (raised && !tag) li.querySelector('.who').after(' ', tag = el('span', 'tag hand', t('hand_raised')));
    if (!raised && tag) tag.remove();
  }
  function arrive(member) {
    if (!present || stage.querySelector('li[data-member="' + member.id + '"]')) return;
    const note = present.querySelector('li.note');
    if (note) note.remove();
    const li = personItem(present, member);
    actions(li, state === 'ended' ? [] : [[t('remove'), 'remove']]);
    markHand(li);
  }
  async function refreshPresent() {
    if (!present) return;
    const report = await call('GET', '/attendance');
    present.replaceChildren();
    report.attendance.filter((a) => a.present).forEach((a) => arrive(a.member));
    dropPresent(0);
  }
  function dropPresent(memberId) {
    const li = present && present.querySelector('li[data-member="' + memberId + '"]');
    if (li) li.remove();
    if (present && !present.children.length) present.append(el('li', 'note', t('nobody')));
    counts();
  }

  // The tabs: Chat, Questions, Polls and People, each with a count kept live. Without JavaScript every
  // panel shows, one under another. Arrow keys move between tabs (the focus stays on the selected one).
  const tabs = Array.from(document.querySelectorAll('#w-tabs [role=tab]'));
  const TAB_KEY = 'convene.tab.' + ID;
  let unseen = 0;   // chat messages by others since the chat tab was last shown
  const showing = (name) => { const tab = $('tab-' + name); return !tab || tab.getAttribute('aria-selected') === 'true'; };
  function counts() {
    const shown = {
      chat: unseen, questions: questions.querySelectorAll('li[data-state=open]').length,
      polls: polls.querySelectorAll('li[data-state=open]').length,
      people: stage.querySelectorAll('li[data-member]').length + (present ? present.querySelectorAll('li[data-member]').length : 0),
    };
    for (const name in shown) {
      const badge = $('count-' + name);
      if (badge) badge.textContent = shown[name] ? String(shown[name]) : '';
    }
  }
  function select(tab, focus) {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute('aria-selected', String(on));
      other.tabIndex = on ? 0 : -1;
      $(other.getAttribute('aria-controls')).classList.toggle('open', on);
    }
    if (focus) tab.focus();
    if (tab.id === 'tab-chat') { unseen = 0; document.dispatchEvent(new CustomEvent('convene:shown')); }
    counts();
    try { sessionStorage.setItem(TAB_KEY, tab.id); } catch (e) { /* the chat opens next time */ }
  }
  if (tabs.length) {
    const list = tabs[0].parentNode;
    list.hidden = false;
    $('w-tabs').dataset.tabs = 'on';
    list.addEventListener('click', (event) => { const tab = event.target.closest('[role=tab]'); if (tab) select(tab, false); });
    list.addEventListener('keydown', (event) => {
      const at = tabs.indexOf(document.activeElement);
      const rtl = document.dir === 'rtl';
      const step = { ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1 }[event.key];
      const to = step ? (at + step + tabs.length) % tabs.length : event.key === 'Home' ? 0 : event.key === 'End' ? tabs.length - 1 : -1;
      if (at < 0 || to < 0) return;
      event.preventDefault();
      select(tabs[to], true);
    });
    let saved = null;
    try { saved = $(sessionStorage.getItem(TAB_KEY) || ''); } catch (e) { /* the chat */ }
    if (saved && tabs.includes(saved)) select(saved, false);
  }

  // Moderators' buttons, wherever the person is listed.
  root.addEventListener('click', (event) => {
    const b = event.target.closest('button[data-act]');
    if (!b) return;
    const li = b.closest('li');
    const id = Number(li.dataset.member);
    const name = li.dataset.name || '';
    const doing = {
      mute: () => call('POST', '/mute', { member_id: id, muted: true }),
      unmute: () => call('POST', '/mute', { member_id: id, muted: false }),
      promote: () => call('POST', '/speakers', { member_id: id }),
      demote: () => call('DELETE', '/speakers/' + id),
      lower: () => call('DELETE', '/hands/' + id),
      remove: () => window.confirm(t('confirm_remove', { name })) ? call('POST', '/remove', { member_id: id }) : null,
      upvote: () => call('POST', '/questions/' + li.dataset.question + '/upvote')
        .then((q) => setQuestion({ question: q.id, upvotes: q.upvotes })),
      answered: () => call('PATCH', '/questions/' + li.dataset.question, { state: 'answered' }),
      dismissed: () => call('PATCH', '/questions/' + li.dataset.question, { state: 'dismissed' }),
      close: () => call('POST', '/polls/' + li.dataset.poll + '/close'),
    }[b.dataset.act];
    if (doing) { b.disabled = true; act(Promise.resolve(doing())).finally(() => { b.disabled = false; }); }
  });

  // Questions: open ones by upvotes, then answered and dismissed ones.
  function questionButtons(li) {
    if (removed || state === 'ended' || li.dataset.state !== 'open') return [];
    const list = [[t('upvote'), 'upvote']];
    if (moderates()) list.push([t('mark_answered'), 'answered'], [t('dismiss'), 'dismissed']);
    return list;
  }
  function renderQuestion(li) {
    li.querySelector('.upvotes').textContent = t('upvotes', { n: li.dataset.upvotes });
    const tag = li.querySelector('.qstate');
    tag.hidden = li.dataset.state === 'open';
    tag.textContent = li.dataset.state === 'open' ? '' : t(li.dataset.state);
    li.querySelector('.who').id = 'w-q' + li.dataset.question;
    actions(li, questionButtons(li));
  }
  function setQuestion(f) {
    let li = questions.querySelector('li[data-question="' + f.question + '"]');
    if (!li) {
      if (f.body === undefined) return;
      li = el('li');
      li.dataset.question = f.question;
      const meta = el('p', 'meta');
      meta.append(el('span', 'who', f.anonymous || !f.sender || f.sender.id === null ? t('anonymous') : f.sender.display_name),
        ' ', el('span', 'upvotes'), ' ', el('span', 'tag qstate'));
      li.append(el('p', 'body', f.body), meta);
      li.dataset.state = 'open';
      li.dataset.upvotes = '0';
      questions.append(li);
    }
    if (f.state) li.dataset.state = f.state;
    if (f.upvotes !== undefined) li.dataset.upvotes = Math.max(Number(li.dataset.upvotes), f.upvotes);
    renderQuestion(li);
    sortQuestions();
    counts();
  }
  function sortQuestions() {
    const rank = (li) => [li.dataset.state === 'open' ? 0 : 1, -Number(li.dataset.upvotes), Number(li.dataset.question)];
    const items = Array.from(questions.children).sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    });
    if (items.some((li, i) => questions.children[i] !== li)) questions.append(...items);
  }
  if (askForm) {
    askForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = $('w-question').value.trim();
      if (!body) return;
      const anonymous = $('w-anonymous') ? $('w-anonymous').checked : false;
      act(call('POST', '/questions', { body, anonymous }).then(() => { $('w-question').value = ''; }));
    });
  }

  // Polls, with live results.
  function renderPoll(li) {
    const options = JSON.parse(li.dataset.options), counts = JSON.parse(li.dataset.counts);
    const total = counts.reduce((a, b) => a + b, 0);
    const open = li.dataset.state === 'open' && state === 'live' && !removed;
    const canVote = open && !voted.has(Number(li.dataset.poll));
    let list = li.querySelector('ol');
    if (!list) { list = el('ol', 'options'); li.append(list); }
    list.replaceChildren(...options.map((option, i) => {
      const item = el('li');
      const label = el('span', 'option', option);
      label.id = 'w-p' + li.dataset.poll + '-' + i;
      const bar = el('progress');
      bar.max = Math.max(1, total);
      bar.value = counts[i];
      bar.setAttribute('aria-hidden', 'true');
      item.append(label, ' ', el('span', 'count', t('votes', { n: counts[i] }) +
        (total ? ' (' + Math.round(100 * counts[i] / total) + '%)' : '')), bar);
      if (canVote) { const b = button(t('vote'), 'vote', label.id); b.dataset.option = i; item.append(b); }
      return item;
    }));
    const tag = li.querySelector('.pstate') || li.querySelector('.body').appendChild(el('span', 'tag pstate'));
    tag.textContent = li.dataset.state === 'closed' ? t('closed') : '';
    tag.hidden = li.dataset.state !== 'closed';
    const old = li.querySelector('.acts');
    if (old) old.remove();
    if (moderates() && li.dataset.state === 'open' && state !== 'ended') {
      const acts = el('p', 'acts');
      acts.append(button(t('close_poll'), 'close'));
      li.append(acts);
    }
  }
  function setPoll(f) {
    let li = polls.querySelector('li[data-poll="' + f.poll + '"]');
    if (!li) {
      li = el('li');
      li.dataset.poll = f.poll;
      li.append(el('p', 'body', f.question));
      polls.prepend(li);
    }
    li.dataset.state = f.state;
    li.dataset.options = JSON.stringify(f.options);
    li.dataset.counts = JSON.stringify(f.counts);
    renderPoll(li);
    counts();
  }
  polls.addEventListener('click', (event) => {
    const b = event.target.closest('button[data-act=vote]');
    if (!b) return;
    event.stopPropagation();
    const li = b.closest('li[data-poll]');
    const poll = Number(li.dataset.poll);
    const remember = () => {
      voted.add(poll);
      try { localStorage.setItem(VOTED_KEY, JSON.stringify(Array.from(voted))); } catch (e) { /* memory only */ }
    };
    call('POST', '/polls/' + poll + '/vote', { option: Number(b.dataset.option) })
      .then((p) => { remember(); pollNote.textContent = t('voted'); setPoll({ ...p, poll: p.id }); })
      .catch((error) => {
        if (error.status === 409) { remember(); pollNote.textContent = t('already_voted'); renderPoll(li); } else failed(error);
      });
  }, true);
  if (pollForm) {
    pollForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const options = $('w-poll-options').value.split('\n').map((o) => o.trim()).filter(Boolean);
      act(call('POST', '/polls', { question: $('w-poll-question').value, options }).then(() => pollForm.reset()));
    });
  }

  // The session's state.
  function setState(next) {
    state = next;
    root.dataset.state = next;
    stateTag.textContent = t(next);
    stateTag.className = 'tag state ' + next;
    if (countdown) countdown.hidden = next !== 'scheduled';
    if (pollForm) pollForm.hidden = next !== 'live';
    if (askForm && next === 'ended') askForm.hidden = true;
    const move = $('w-move');
    if (move && next !== 'scheduled') {
      move.closest('form').action = '/webinars/' + ID + '/end';
      move.textContent = strings.end || move.textContent;
      move.closest('form').hidden = next === 'ended';
    }
    redecorate();
  }
  function redecorate() {
    stage.querySelectorAll('li[data-member]').forEach((li) => actions(li, stageButtons(li)));
    if (hands) hands.querySelectorAll('li[data-member]').forEach((li) => actions(li, handButtons()));
    questions.querySelectorAll('li[data-question]').forEach(renderQuestion);
    polls.querySelectorAll('li[data-poll]').forEach(renderPoll);
    renderYou();
  }
  function setRemoved() {
    removed = true;
    [askForm, pollForm, handButton].forEach((node) => { if (node) node.hidden = true; });
    redecorate();
  }

  function onEvent(f) {
    if (f.seq <= seen) return;
    seen = f.seq;
    const member = f.member;
    switch (f.type) {
      case 'webinar': setState(f.state); break;
      case 'question': case 'question.upvote': case 'question.state': setQuestion(f); break;
      case 'hand': setHand(member, f.raised); break;
      case 'speaker':
        if (f.speaker) { onStage(member, 'speaker'); setHand(member, false); dropPresent(member.id); } else offStage(member.id);
        if (!f.speaker && present) refreshPresent().catch(() => { /* shown at the next connect */ });
        if (member.id === ME) { role = f.speaker ? 'speaker' : null; redecorate(); }
        break;
      case 'mute': {
        const li = stage.querySelector('li[data-member="' + member.id + '"]');
        if (li) onStage(member, li.dataset.role, f.muted);
        if (member.id === ME) { muted = f.muted; renderYou(); }
        break;
      }
      case 'removal':
        offStage(member.id);
        setHand(member, false);
        dropPresent(member.id);
        if (member.id === ME) setRemoved();
        break;
      case 'poll': case 'poll.results': setPoll(f); break;
      case 'message':
        if (!showing('chat') && f.sender && f.sender.id !== ME) { unseen += 1; counts(); }
        break;
    }
  }
  let hellos = 0;
  document.addEventListener('convene:frame', (event) => {
    const f = event.detail;
    // After a reconnect the audience is read again: arrivals and departures meanwhile were missed.
    if (f.type === 'hello' && hellos++ && present) refreshPresent().catch(() => { /* the next connect tries again */ });
    if (f.room !== ROOM) return;
    if (f.type === 'unsubscribed' && f.reason === 'removed') setRemoved();
    else if (f.type === 'audience' && f.webinar === ID) { if (f.present) arrive(f.member); else dropPresent(f.member.id); }
    else if (typeof f.seq === 'number') onEvent(f);
  });

  // Attendance: the visit opens with the page and closes with it (a beacon survives the unload).
  function join() { if (!removed && state !== 'ended') call('POST', '/join').catch(() => { /* counted next time */ }); }
  window.addEventListener('pagehide', () => { if (navigator.sendBeacon) navigator.sendBeacon(API + '/leave'); });
  window.addEventListener('pageshow', (event) => { if (event.persisted) join(); });
  join();

  stage.querySelectorAll('li[data-member]').forEach((li) => {
    onStage({ id: Number(li.dataset.member), display_name: li.dataset.name }, li.dataset.role);
  });
  if (hands) hands.querySelectorAll('li[data-member]').forEach((li) => setHand({ id: Number(li.dataset.member), display_name: li.dataset.name }, true));
  if (present) refreshPresent().catch(() => { /* the next connect tries again */ });
  setState(state);
  counts();
}());
