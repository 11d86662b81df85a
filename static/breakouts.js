/* Breakout groups on the live page (docs/webinars.md, "Breakout groups"). Everyone: which group they are in,
   the time left, the host's broadcasts (events of the group's room, which this page follows over chat.js's
   socket) and a link to the group's chat. Hosts: open groups (at random or by hand), broadcast to them and
   call everyone back, through the JSON API. The media follows on its own (media.js gets the group's list). */
(function () {
  'use strict';
  const root = document.getElementById('w-breakouts');
  if (!root) return;
  const ID = Number(root.dataset.webinar), ROOM = Number(root.dataset.room), ME = Number(root.dataset.me);
  const HOST = root.dataset.host === 'true';
  const API = '/api/webinars/' + ID + '/breakouts';
  const LANG = document.documentElement.lang || undefined;
  const S = JSON.parse(root.dataset.strings || '{}');
  const $ = (id) => document.getElementById(id);
  const [status, timer, chat, messages, openForm, running, people] =
    ['b-status', 'b-timer', 'b-chat', 'b-messages', 'b-open', 'b-running', 'b-people'].map($);
  let breakout = JSON.parse(root.dataset.breakout || 'null');
  let followed = null;   // the group room this page subscribed to
  const t = (key, values) => Object.entries(values || {}).reduce((text, [k, v]) => text.split('{' + k + '}').join(v), S[key] || key);
  const send = (frame) => document.dispatchEvent(new CustomEvent('convene:send', { detail: { frame } }));

  function mine() { return breakout && breakout.groups.find((g) => g.members.indexOf(ME) >= 0); }

  function render() {
    const group = mine();
    root.hidden = !HOST && !breakout && !status.textContent;
    if (openForm) openForm.hidden = !!breakout || root.dataset.state !== 'live';
    if (running) running.hidden = !breakout;
    chat.hidden = !group;
    timer.hidden = !breakout;
    if (group) {
      status.textContent = t('your_group', { n: group.number });
      chat.href = '/rooms/' + group.room;
      if (followed !== group.room) { followed = group.room; send({ type: 'subscribe', room: group.room }); }
    } else if (breakout) {
      status.textContent = HOST ? t('open_groups', { n: breakout.groups.length }) : t('not_in_group');
    }
    tick();
  }

  function tick() {
    if (!breakout || !window.Intl || !Intl.RelativeTimeFormat) return;
    const seconds = Math.max(0, Math.round((new Date(breakout.ends_at) - Date.now()) / 1000));
    const [value, unit] = seconds >= 90 ? [Math.round(seconds / 60), 'minute'] : [seconds, 'second'];
    timer.textContent = t('ends', { when: new Intl.RelativeTimeFormat(LANG, { numeric: 'auto' }).format(value, unit) });
  }
  setInterval(tick, 1000);

  function note(text) {
    const item = document.createElement('li');
    item.textContent = text;
    item.dir = 'auto';
    messages.appendChild(item);
  }

  document.addEventListener('convene:frame', (event) => {
    const f = event.detail;
    if (!f) return;
    if (f.type === 'hello' && followed) send({ type: 'subscribe', room: followed });   // the socket came back
    else if (f.type === 'breakout' && f.room === ROOM && f.state === 'open') {
      breakout = { id: f.breakout, ends_at: f.ends_at, groups: f.groups };
      messages.textContent = '';
      render();
    } else if (f.type === 'breakout' && f.room === ROOM && breakout && f.breakout === breakout.id) {
      if (followed) send({ type: 'unsubscribe', room: followed });
      breakout = null;
      followed = null;
      status.textContent = t('back');
      render();
    } else if (f.type === 'breakout.warning' && f.room === ROOM && breakout) note(t('warning'));
    else if (f.type === 'breakout.broadcast' && f.room === followed) note(t('from_host') + ' ' + f.body);
    else if (f.type === 'webinar' && f.room === ROOM) { root.dataset.state = f.state; render(); }
  });

  // Hosts ---------------------------------------------------------------------

  async function call(path, body) {
    const response = await fetch(API + path, { method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body || {}) });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error((data && data.error && data.error.message) || String(response.status));
    return data;
  }
  const act = (promise) => promise.catch((error) => { status.textContent = t('failed') + ' ' + error.message; });

  async function listPeople() {
    const response = await fetch('/api/webinars/' + ID + '/attendance', { credentials: 'same-origin' });
    const present = response.ok ? (await response.json()).attendance.filter((a) => a.present && a.member.id !== ME) : [];
    people.textContent = '';
    present.forEach((a) => {
      const item = document.createElement('li');
      const label = document.createElement('label');
      label.textContent = a.member.display_name + ' ';
      label.dir = 'auto';
      const select = document.createElement('select');
      select.dataset.member = a.member.id;
      select.add(new Option(t('no_group'), ''));
      for (let n = 1; n <= Math.max(2, Math.ceil(present.length / 2)); n++) select.add(new Option(t('group', { n }), n));
      label.appendChild(select);
      item.appendChild(label);
      people.appendChild(item);
    });
  }

  if (openForm) {
    openForm.addEventListener('change', (event) => {
      if (event.target.name !== 'b-how') return;
      people.hidden = event.target.value !== 'hand';
      if (!people.hidden) act(listPeople());
    });
    openForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = { duration_s: Number($('b-minutes').value) * 60 };
      if (openForm.querySelector('input[name=b-how]:checked').value === 'hand') {
        const groups = {};
        people.querySelectorAll('select').forEach((s) => { if (s.value) (groups[s.value] = groups[s.value] || []).push(Number(s.dataset.member)); });
        body.groups = Object.values(groups);
      } else body.size = Number($('b-size').value);
      act(call('', body));
    });
    $('b-broadcast').addEventListener('submit', (event) => {
      event.preventDefault();
      const text = $('b-text');
      act(call('/broadcast', { body: text.value }).then((r) => { text.value = ''; status.textContent = t('sent', { n: r.groups }); }));
    });
    $('b-close').addEventListener('click', () => act(call('/close')));
  }
  render();
}());
