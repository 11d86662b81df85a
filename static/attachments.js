/* Convene's files and voice notes, fetched by chat.js the first time they are needed (docs/attachments.md).
   A picked file or a recording is kept in IndexedDB (it holds blobs) until its message is acknowledged, so
   closing the tab or losing the link loses nothing; it is uploaded with the tus protocol, each request
   resuming where the last one stopped, and chat.js's outbox then sends the message once, by its client id. */
window.ConveneAttachments = function (chat) {
  'use strict';

  const TUS = '1.0.0';
  const CHUNK = 1024 * 1024;        // one PATCH: small enough that a lost link costs little to redo
  const VOICE_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4'];
  const VOICE_BITS = 24000;         // plenty for speech; a minute is about 180 KB

  // Blobs on the device: IndexedDB when the browser allows it, memory otherwise (private browsing).
  const memory = new Map();
  let database = null;
  function db() {
    database = database || new Promise((resolve, reject) => {
      const open = indexedDB.open('convene-files', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('files');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    return database;
  }
  function files(mode, act) {
    return db().then((d) => new Promise((resolve, reject) => {
      const tx = d.transaction('files', mode);
      const request = act(tx.objectStore('files'));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    }));
  }
  const keep = (key, blob) => files('readwrite', (s) => s.put(blob, key)).catch(() => memory.set(key, blob));
  const fetchBlob = (key) => memory.has(key) ? Promise.resolve(memory.get(key))
    : files('readonly', (s) => s.get(key)).catch(() => undefined);
  const drop = (key) => { memory.delete(key); return files('readwrite', (s) => s.delete(key)).catch(() => {}); };

  async function pick(picked) {
    const id = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    const kept = [];
    for (const [i, file] of picked.entries()) {
      const key = chat.me + ':' + id + ':' + i;   // per member: a shared phone never sends another's files
      await keep(key, file);
      kept.push({ key: key, name: file.name, size: file.size, type: file.type });
    }
    chat.queue(kept);
  }

  function forget(entry) {
    return Promise.all(entry.files.map((f) => drop(f.key)));
  }

  // One tus request. Refusals reject with the server's typed error; a lost link or a server away rejects
  // as retryable, and so does 409 (another request kept bytes first: ask for the offset again).
  function tus(method, url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open(method, url);
      request.setRequestHeader('Tus-Resumable', TUS);
      for (const name in headers) request.setRequestHeader(name, headers[name]);
      if (onProgress) request.upload.onprogress = (event) => onProgress(event.loaded);
      request.onload = () => {
        if (request.status < 300) return resolve(request);
        let error = {};
        try { error = JSON.parse(request.responseText).error || {}; } catch (e) { /* not JSON */ }
        const retryable = request.status === 409 || request.status === 423 || request.status >= 500;
        reject({ status: request.status, retryable: retryable, retry_after: error.retry_after || 2,
                 message: error.message || String(request.status) });
      };
      request.onerror = request.ontimeout = () => reject({ retryable: true, retry_after: 3, message: '' });
      request.send(body || null);
    });
  }
  const utf8Base64 = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

  // Uploads the entry's files that have no attachment id yet; each gets one, saved in the outbox entry
  // (with its upload's URL before that), so a reload resumes instead of starting over.
  async function upload(entry) {
    for (const [i, file] of entry.files.entries()) {
      if (file.id) continue;
      const blob = await fetchBlob(file.key);
      if (!blob) throw { message: chat.t('file_gone') };
      file.id = await uploadOne(entry, i, file, blob);
      chat.update(entry);
    }
  }
  async function uploadOne(entry, index, file, blob) {
    if (!file.upload) {
      const created = await tus('POST', '/api/rooms/' + entry.room + '/attachments',
        { 'Upload-Length': blob.size, 'Upload-Metadata': 'filename ' + utf8Base64(file.name) });
      file.upload = created.getResponseHeader('Location');
      chat.update(entry);
    }
    let answer;
    try {
      answer = await tus('HEAD', file.upload, {});
    } catch (error) {
      if (error.status !== 404) throw error;
      file.upload = null;   // expired on the server: start again from the copy on this device
      return uploadOne(entry, index, file, blob);
    }
    let offset = Number(answer.getResponseHeader('Upload-Offset'));
    while (!answer.getResponseHeader('Attachment-Id')) {
      const from = offset;
      answer = await tus('PATCH', file.upload, { 'Upload-Offset': from, 'Content-Type': 'application/offset+octet-stream' },
        blob.slice(from, Math.min(blob.size, from + CHUNK)),
        (sent) => chat.progress(entry.client_id, index, (from + sent) / blob.size));
      offset = Number(answer.getResponseHeader('Upload-Offset'));
    }
    chat.progress(entry.client_id, index, 1);
    return Number(answer.getResponseHeader('Attachment-Id'));
  }

  // Voice notes: MediaRecorder (Opus where the browser has it); the first press records, the second
  // stops and sends, Cancel throws the recording away.
  const button = document.getElementById('record');
  const cancel = document.getElementById('record-cancel');
  const status = document.getElementById('record-status');
  const label = button ? button.textContent : '';
  let recorder = null, chunks = [], startedAt = 0, ticker = 0;

  async function record() {
    if (recorder) return stop(true);
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      status.textContent = chat.t('no_microphone');
      return;
    }
    const type = VOICE_TYPES.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t)) || '';
    recorder = new MediaRecorder(stream, { mimeType: type, audioBitsPerSecond: VOICE_BITS });
    chunks = [];
    recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
    recorder.start(1000);
    startedAt = Date.now();
    button.setAttribute('aria-pressed', 'true');
    button.textContent = chat.t('stop_send');
    cancel.hidden = false;
    const tick = () => { status.textContent = chat.t('recording', { n: Math.round((Date.now() - startedAt) / 1000) }); };
    tick();
    ticker = setInterval(tick, 1000);
  }
  function stop(send) {
    const done = recorder;
    recorder = null;
    clearInterval(ticker);
    done.onstop = () => {
      done.stream.getTracks().forEach((track) => track.stop());
      if (!send || !chunks.length) return;
      const type = done.mimeType || 'audio/webm';
      const ending = type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm';
      const when = new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-');
      pick([new File(chunks, 'voice-note-' + when + '.' + ending, { type: type.split(';')[0] })]);
    };
    done.stop();
    button.setAttribute('aria-pressed', 'false');
    button.textContent = label;
    cancel.hidden = true;
    status.textContent = '';
  }
  if (cancel) cancel.addEventListener('click', () => { if (recorder) stop(false); });

  return { pick: pick, upload: upload, forget: forget, record: record };
};
