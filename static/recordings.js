/* The recordings archive in the browser: the player (video or audio only, resume, chapters),
   the discussion replayed in step with the playback, the host's editing, and the upload form.
   Without JavaScript the player still plays and every download works. */
(function () {
  'use strict';

  function strings(node) {
    try { return JSON.parse(node.dataset.strings || '{}'); } catch (e) { return {}; }
  }
  function fill(text, values) {
    for (const name in values || {}) text = String(text).split('{' + name + '}').join(values[name]);
    return text;
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) { node.textContent = text; node.dir = 'auto'; }
    return node;
  }
  function clock(seconds) {
    const total = Math.max(0, Math.floor(seconds || 0));
    const h = Math.floor(total / 3600), m = Math.floor(total % 3600 / 60), s = total % 60;
    const pad = (n) => (n < 10 ? '0' : '') + n;
    return h ? h + ':' + pad(m) + ':' + pad(s) : m + ':' + pad(s);
  }
  // The API's refusals are {"error": {"message"}}; anything else (a proxy's page) gets the status.
  async function send(method, url, body, type) {
    const response = await fetch(url, {
      method, credentials: 'same-origin', body,
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': type || 'application/json', accept: 'application/json' },
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new Error((data && data.error && data.error.message) || String(response.status));
    return data;
  }

  const root = document.getElementById('recording');
  if (root) player(root);
  const upload = document.getElementById('import-form');
  if (upload) importForm(upload);

  function player(root) {
    const t = strings(root);
    const API = '/api/recordings/' + root.dataset.id;
    const MEMBER = root.dataset.member === 'true';
    const video = document.getElementById('player');
    if (root.dataset.canEdit === 'true') manage(root, t, API, video);
    if (!video) return;

    // Video or audio only --------------------------------------------------------------
    // A <video> element plays the audio file too: the poster stays and captions still show,
    // which an <audio> element cannot do.
    const MODE_KEY = 'convene-recording-mode';   // a device preference, kept after log-out
    const urls = { video: root.dataset.videoUrl, audio: root.dataset.audioUrl };
    const link = navigator.connection;
    const slowLink = document.body.dataset.lite === 'true' ||
      !!(link && (link.saveData || /(^|-)2g$/.test(link.effectiveType || '')));
    let mode = urls.video ? 'video' : 'audio';
    try { mode = localStorage.getItem(MODE_KEY) || (slowLink ? 'audio' : mode); } catch (e) { if (slowLink) mode = 'audio'; }
    if (!urls[mode]) mode = urls.video ? 'video' : 'audio';
    const modes = document.getElementById('mode');

    let switching = false;   // while the other file loads, its 0:00 is not the member's place
    function play(url, at, resume) {
      switching = true;
      video.src = url;   // overrides the <source> the page was rendered with
      video.addEventListener('loadedmetadata', function seek() {
        video.removeEventListener('loadedmetadata', seek);
        switching = false;
        if (at > 0) video.currentTime = at;
        if (resume) video.play().catch(() => {});
      });
      video.load();
    }
    root.dataset.mode = mode;
    // Fetch only the index of the file up front, and nothing at all when saving data.
    video.preload = slowLink ? 'none' : 'metadata';
    if (mode === 'audio') play(urls.audio, 0, false);
    if (modes) {
      modes.hidden = false;
      modes.querySelector('input[value="' + mode + '"]').checked = true;
      modes.addEventListener('change', (event) => {
        mode = event.target.value;
        root.dataset.mode = mode;
        try { localStorage.setItem(MODE_KEY, mode); } catch (e) { /* this visit only */ }
        play(urls[mode], video.currentTime, !video.paused);
      });
    }

    // Resume where this member stopped, and keep the place ------------------------------
    const resumeAt = Number(root.dataset.resume) || 0;
    const SAVE_EVERY_MS = 15000;
    video.addEventListener('loadedmetadata', function resume() {
      video.removeEventListener('loadedmetadata', resume);
      if (resumeAt > 2 && !(resumeAt > video.duration - 2)) {
        video.currentTime = resumeAt;
        document.getElementById('resume-text').textContent = fill(t.resumed, { at: clock(resumeAt) });
        document.getElementById('resume-note').hidden = false;
      }
    });
    const restart = document.getElementById('restart');
    restart.addEventListener('click', () => {
      video.currentTime = 0;
      document.getElementById('resume-note').hidden = true;
      video.focus();
    });
    let savedAt = -1, lastSave = 0;
    function savePosition(leaving) {
      const position = video.currentTime;
      if (!MEMBER || switching || !isFinite(position) || Math.abs(position - savedAt) < 1) return;
      savedAt = position;
      lastSave = Date.now();
      // keepalive lets the request finish after the page is gone (sendBeacon can only POST).
      fetch(API + '/position', {
        method: 'PUT', credentials: 'same-origin', keepalive: leaving,
        headers: { 'content-type': 'application/json' }, body: JSON.stringify({ position_s: position }),
      }).catch(() => { savedAt = -1; });
    }
    video.addEventListener('timeupdate', () => { if (!video.paused && Date.now() - lastSave > SAVE_EVERY_MS) savePosition(false); });
    video.addEventListener('pause', () => savePosition(false));
    window.addEventListener('pagehide', () => savePosition(true));
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') savePosition(true); });

    // Chapters seek; the current one is marked ------------------------------------------
    const chapters = document.getElementById('chapters');
    function seekTo(seconds) {
      video.currentTime = seconds;
      video.play().catch(() => {});
    }
    chapters.addEventListener('click', (event) => {
      const a = event.target.closest('a[data-t]');
      if (!a) return;
      event.preventDefault();
      seekTo(Number(a.dataset.t));
    });
    function markChapter() {
      let current = null;
      for (const a of chapters.querySelectorAll('a[data-t]')) if (Number(a.dataset.t) <= video.currentTime + 0.25) current = a;
      for (const a of chapters.querySelectorAll('a[aria-current]')) if (a !== current) a.removeAttribute('aria-current');
      if (current) current.setAttribute('aria-current', 'true');
    }
    video.addEventListener('timeupdate', markChapter);

    // The discussion, in step with the playback -----------------------------------------
    const replay = document.getElementById('replay');
    if (!replay) return;
    const note = document.getElementById('replay-note');
    const all = document.getElementById('replay-all');
    let events = null, loading = null, shown = 0;

    function eventElement(e) {
      const li = el('li', 'msg' + (e.kind === 'question' ? ' question' : ''));
      li.dataset.seq = e.seq;
      li.dataset.t = e.t;
      const meta = el('p', 'meta');
      meta.append(el('span', 'who', (e.sender && e.sender.display_name) || ''));
      if (e.kind === 'question') meta.append(el('span', 'tag', t.question), ' ');
      meta.append(el('span', 'at', fill(t.said_at, { at: clock(e.t) })));
      const jump = el('button', 'quiet jump', fill(t.jump, { at: clock(e.t) }));
      jump.type = 'button';
      jump.dataset.t = e.t;
      li.append(meta, el('p', 'body', e.body || ''), jump);
      return li;
    }
    // Appends what is newly due and drops what lies ahead after a seek back: one pass over the
    // difference, so a long discussion costs almost nothing per timeupdate (only the "whole
    // discussion" view walks every item, to mark those still ahead).
    function sync() {
      if (!events) return;
      const now = all.checked ? Infinity : video.currentTime;
      let due = shown;
      while (due < events.length && events[due].t <= now) due++;
      while (due > 0 && events[due - 1].t > now) due--;
      const follow = replay.scrollTop + replay.clientHeight >= replay.scrollHeight - 40;
      while (shown > due) { replay.lastElementChild.remove(); shown--; }
      if (due > shown) {
        const batch = document.createDocumentFragment();
        for (; shown < due; shown++) batch.append(eventElement(events[shown]));
        replay.append(batch);
        if (follow) replay.scrollTop = replay.scrollHeight;
      }
      if (all.checked || replay.querySelector('.ahead')) {
        for (const li of replay.children) li.classList.toggle('ahead', Number(li.dataset.t) > video.currentTime);
      }
      note.hidden = shown > 0;
      note.textContent = t.nothing_yet;
    }
    function load() {
      loading = loading || send('GET', API + '/replay').then((data) => {
        events = (data.events || []).filter((e) => e.kind === 'message' || e.kind === 'question')
          .sort((a, b) => a.t - b.t || a.seq - b.seq);
        sync();
      }).catch(() => { loading = null; note.textContent = t.replay_failed; });
    }
    // Fetched when someone plays or asks for it, so a visit that only downloads costs nothing.
    video.addEventListener('play', load);
    all.addEventListener('change', () => { load(); sync(); });
    video.addEventListener('timeupdate', sync);
    video.addEventListener('seeked', sync);
    replay.addEventListener('click', (event) => {
      const button = event.target.closest('button.jump');
      if (button) seekTo(Number(button.dataset.t));
    });
  }

  // Hosts: details, chapters, captions, and the preparation job ----------------------------
  function manage(root, t, API, video) {
    function status(form, text, failed) {
      const p = form.querySelector('.status');
      p.textContent = text;
      p.classList.toggle('error', !!failed);
    }
    function onSubmit(id, act) {
      const form = document.getElementById(id);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        status(form, t.saving);
        try {
          status(form, (await act(form)) || t.saved);
        } catch (error) {
          status(form, t.failed + ' ' + error.message, true);
        }
      });
    }
    onSubmit('edit-form', async (form) => {
      const data = new FormData(form);
      const tags = String(data.get('tags')).split(',').map((tag) => tag.trim()).filter(Boolean);
      const saved = await send('PATCH', API, JSON.stringify({
        title: data.get('title'), description: data.get('description'), tags,
        language: data.get('language'), visibility: data.get('visibility'),
      }));
      document.getElementById('rec-title').textContent = saved.title;
    });
    // "12:30 Questions" or "1:02:03 Closing", one a line.
    function parseChapters(text) {
      const chapters = [];
      text.split('\n').forEach((line, index) => {
        if (!line.trim()) return;
        const match = /^\s*(?:(\d+):)?(\d{1,2}):(\d{2})\s+(.+)$/.exec(line);
        if (!match) throw new Error(fill(t.bad_line, { n: index + 1 }));
        chapters.push({ t: Number(match[1] || 0) * 3600 + Number(match[2]) * 60 + Number(match[3]), title: match[4].trim() });
      });
      return chapters.sort((a, b) => a.t - b.t);
    }
    onSubmit('chapters-form', async (form) => {
      const chapters = parseChapters(form.elements.chapters.value);
      const saved = await send('PATCH', API, JSON.stringify({ chapters }));
      const list = document.getElementById('chapters');
      list.replaceChildren(...(saved.chapters || chapters).map((c) => {
        const li = el('li'), a = el('a');
        a.href = '#t=' + c.t;
        a.dataset.t = c.t;
        a.append(el('span', 'at', clock(c.t)), ' ', el('span', '', c.title));
        li.append(a);
        return li;
      }));
      document.getElementById('chapters-box').hidden = list.children.length === 0;
    });
    onSubmit('captions-form', async (form) => {
      const file = form.elements.file.files[0];
      if (!file) throw new Error(form.elements.file.validationMessage || '');
      const query = '?language=' + encodeURIComponent(form.elements.language.value) +
        '&label=' + encodeURIComponent(form.elements.label.value);
      const caption = await send('POST', API + '/captions' + query, await file.text(), 'text/vtt');
      if (video) {
        const track = document.createElement('track');
        Object.assign(track, { kind: 'captions', src: caption.url, srclang: caption.language, label: caption.label });
        video.append(track);
        for (const other of video.textTracks) other.mode = 'disabled';
        track.track.mode = 'showing';
      }
      return t.uploaded;
    });

    // While the recording is prepared: progress, then the page again once it is ready.
    const job = document.getElementById('job');
    if (!job) return;
    const [state, progress, error, retry] = ['job-state', 'job-progress', 'job-error', 'job-retry'].map((id) => document.getElementById(id));
    function show(current) {
      job.dataset.state = current.state;
      state.textContent = t['state_' + current.state] || current.state;
      progress.hidden = current.state !== 'queued' && current.state !== 'processing';
      progress.value = current.progress || 0;
      if (!progress.hidden) state.textContent += ' · ' + fill(t.progress, { percent: Math.round((current.progress || 0) * 100) });
      error.hidden = !current.error;
      error.textContent = current.error || '';
      retry.hidden = current.state !== 'failed';
    }
    let polling = 0;
    function poll() {
      clearTimeout(polling);
      polling = setTimeout(async () => {
        try {
          const rec = await send('GET', API);
          if (rec.state === 'ready' && root.dataset.state !== 'ready') { location.reload(); return; }
          if (rec.job) show(rec.job);
          if (rec.job && rec.job.state !== 'failed' && rec.job.state !== 'ready') poll();
        } catch (e) { poll(); }
      }, 3000);
    }
    if (job.dataset.state === 'queued' || job.dataset.state === 'processing') poll();
    retry.addEventListener('click', async () => {
      retry.disabled = true;
      try {
        const rec = await send('POST', API + '/retry');
        show(rec.job || { state: 'queued', progress: 0 });
        poll();
      } catch (e) {
        error.hidden = false;
        error.textContent = e.message;
      } finally { retry.disabled = false; }
    });
  }

  // Uploading a recording, with its progress (fetch cannot report an upload's progress) ---
  function importForm(form) {
    const t = strings(form);
    const bar = document.getElementById('upload-progress');
    const status = document.getElementById('upload-status');
    const button = form.querySelector('button[type=submit]');
    function say(text, failed) {
      status.textContent = text;
      status.classList.toggle('error', !!failed);
    }
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const file = form.elements.file.files[0];
      if (file && file.size > Number(form.dataset.maxBytes)) { say(t.failed + ' ' + t.too_big, true); return; }
      const request = new XMLHttpRequest();
      request.open('POST', form.action);
      request.setRequestHeader('accept', 'application/json');
      request.upload.addEventListener('progress', (e) => {
        if (!e.lengthComputable) return;
        bar.value = e.loaded / e.total;
        say(fill(t.uploading, { percent: Math.round(e.loaded / e.total * 100) }));
      });
      request.addEventListener('load', () => {
        let data = null;
        try { data = JSON.parse(request.responseText); } catch (e) { /* not JSON */ }
        if (request.status === 202 && data && data.id) {
          say(t.processing);
          location.assign('/recordings/' + data.id);
          return;
        }
        button.disabled = false;
        bar.hidden = true;
        say(t.failed + ' ' + ((data && data.error && data.error.message) || (request.status === 413 ? t.too_big : request.status)), true);
      });
      request.addEventListener('error', () => { button.disabled = false; bar.hidden = true; say(t.offline, true); });
      button.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      request.send(new FormData(form));
    });
  }
})();
