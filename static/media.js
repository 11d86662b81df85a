/* Webinar media over WebRTC (docs/protocol.md, "Webinar media"): publish camera, microphone or screen;
   watch every publisher with video or audio only. One peer connection per publisher watched, so a
   publisher joining or leaving never renegotiates the others. No dependencies (the HTTP stream's
   player, static/hls-player.js, when the server has no WebRTC seat left for this attendee).
   Offers carry all their ICE candidates (the server does not trickle).
   When the server that holds the webinar's media stops, the page is told media.moved (or its socket
   drops): it watches and publishes again, with back-off, and reaches whichever server took over.
   Where the member is comes with every list of publishers (`phase`): the green room before the start
   (the stage only), the lobby (attendees before the start), the stage, or a breakout group, where
   attendees publish too. A level meter shows the microphone while publishing. */
(function () {
  'use strict';
  var root = document.getElementById('w-media');
  if (!root || !('RTCPeerConnection' in window) || !('WebSocket' in window)) return;

  var webinar = Number(root.dataset.webinar);
  var me = Number(root.dataset.me);
  var S = JSON.parse(root.dataset.strings || '{}');
  var statusEl = document.getElementById('m-status');
  var videosEl = document.getElementById('m-videos');
  var audioOnlyEl = document.getElementById('m-audio-only');
  var WANTED = { audio: ['audio/opus'], video: ['video/vp8', 'video/rtx'] };   // what the server forwards
  var BACKOFF_MAX_MS = 30000;

  var ws = null;
  var refs = 0;
  var pending = new Map();        // ref -> {resolve, reject}
  var views = new Map();          // publisher id -> {pc, stream, el}
  var iceServers = [];
  var backoff = 1000;
  var retryBackoff = 500;         // media.watch / media.publish refused with "retry" (the media is moving)
  var RETRY_MAX_MS = 8000;
  var watching = false;
  var stream = null;              // {el, player} while watching the HTTP stream instead (no WebRTC seat)
  var local = null;               // {media: MediaStream, pc, source: 'camera'|'screen', screen: track|null} while publishing
  var audioOnly = localStorage.getItem('convene.media.audioOnly') === 'true';
  var onStage = root.dataset.canPublish === 'true';   // host, panelist or speaker (updated by speaker events)
  var phase = null;               // green_room | lobby | stage | breakout
  var level = null;               // {ctx, timer} while the level meter runs
  if (audioOnlyEl) audioOnlyEl.checked = audioOnly;

  function say(text) { if (statusEl) statusEl.textContent = text || ''; }

  // The socket: media frames only; the chat has its own.
  function connect() {
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    ws = new WebSocket(url);
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === 'hello') { backoff = 1000; watch(); if (local) startPublishing(); return; }
      if (frame.ref && pending.has(frame.ref)) {
        var waiter = pending.get(frame.ref);
        pending.delete(frame.ref);
        if (frame.type === 'error') waiter.reject(frame); else waiter.resolve(frame);
        return;
      }
      if (frame.type === 'media.publishers' && frame.webinar === webinar) sync(frame.publishers, frame.phase);
      else if (frame.type === 'media.stopped' && frame.publisher === me) stopped(frame.reason);
      else if (frame.type === 'media.moved' && frame.webinar === webinar) moved();
    };
    ws.onclose = function () {
      pending.forEach(function (waiter) { waiter.reject({ code: 'disconnected' }); });
      pending.clear();
      watching = false;
      leaveStream();
      views.forEach(function (_, id) { closeView(id); });
      if (local && local.pc) { local.pc.close(); local.pc = null; }
      var wait = Math.min(backoff, BACKOFF_MAX_MS) * (0.5 + Math.random() / 2);
      backoff *= 2;
      say((S.reconnecting || 'Reconnecting in {s} s').replace('{s}', Math.round(wait / 1000)));
      setTimeout(connect, wait);
    };
  }

  function request(frame) {
    return new Promise(function (resolve, reject) {
      if (!ws || ws.readyState !== WebSocket.OPEN) { reject({ code: 'disconnected' }); return; }
      var ref = 'm' + (++refs);
      pending.set(ref, { resolve: resolve, reject: reject });
      ws.send(JSON.stringify(Object.assign({}, frame, { ref: ref })));
    });
  }

  // A refusal that says "retry" (the media moving to another server): again after a growing, jittered pause.
  function retryLater(what) {
    var wait = Math.min(retryBackoff, RETRY_MAX_MS) * (0.5 + Math.random() / 2);
    retryBackoff *= 2;
    setTimeout(function () { if (ws && ws.readyState === WebSocket.OPEN) what(); }, wait);
  }

  function watch() {
    request({ type: 'media.watch', webinar: webinar }).then(function (frame) {
      retryBackoff = 500;
      if (frame.type === 'media.stream') { watchStream(); return; }
      leaveStream();
      watching = true;
      iceServers = frame.ice_servers || [];
      sync(frame.publishers, frame.phase);
    }, function (error) {
      if (error.code === 'disconnected') return;
      if (error.retryable) { say(S.moving); retryLater(watch); return; }
      say(error.code === 'forbidden' ? (S.not_live || error.message) : error.message);
      setTimeout(function () { if (!watching && ws && ws.readyState === WebSocket.OPEN) watch(); }, 5000);
    });
  }

  // The server that held the webinar's media stopped: every peer is gone. Watch and publish again; the
  // pause is jittered so an audience of hundreds does not arrive at the new server in the same instant.
  function moved() {
    watching = false;
    views.forEach(function (_, id) { closeView(id); });
    if (local && local.pc) { local.pc.close(); local.pc = null; }
    say(S.moving);
    setTimeout(function () {
      if (!ws || ws.readyState !== WebSocket.OPEN) return;   // the reconnect does it
      watch();
      if (local) startPublishing();
    }, 250 + Math.random() * 750);
  }

  // No WebRTC seat left on the server for this attendee: the same webinar as the HTTP stream, a few seconds behind.
  function watchStream() {
    watching = false;
    var note = document.getElementById('m-full');
    if (note) note.hidden = false;
    say('');
    if (stream) return;
    stream = { el: null, player: null };
    var mine = stream;
    Promise.all([fetch('/api/webinars/' + webinar + '/stream', { credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }), player()]).then(function (got) {
      var info = got[0];
      if (stream !== mine) return;
      if (!window.ConveneHls || !info.master_url) throw new Error('no player');
      var el = document.createElement(audioOnly ? 'audio' : 'video');
      el.controls = true;
      el.autoplay = true;
      el.playsInline = true;
      el.id = 'm-stream';
      videosEl.appendChild(el);
      mine.el = el;
      mine.player = window.ConveneHls.attach(el, info.master_url, { audioOnly: audioOnly });
      var played = el.play();
      if (played && played.catch) played.catch(function () { say(S.tap_to_play); });
    }).catch(function () {
      if (stream === mine) say(S.stream_failed);
    });
  }

  // The HTTP stream's player is fetched only by those who need it: most pages never do.
  function player() {
    if (window.ConveneHls) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      var script = document.createElement('script');
      script.src = root.dataset.hlsPlayer;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function leaveStream() {
    var note = document.getElementById('m-full');
    if (note) note.hidden = true;
    if (!stream) return;
    if (stream.player) stream.player.stop();
    if (stream.el) stream.el.remove();
    stream = null;
  }

  // The server forwards without transcoding, so offer only what it forwards (and keep the offer small).
  function preferCodecs(pc) {
    pc.getTransceivers().forEach(function (t) {
      var kind = t.receiver.track.kind;
      var caps = RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities(kind);
      if (!caps || !t.setCodecPreferences) return;
      var codecs = caps.codecs.filter(function (c) { return WANTED[kind].indexOf(c.mimeType.toLowerCase()) >= 0; });
      if (codecs.length) t.setCodecPreferences(codecs);
    });
  }

  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise(function (resolve) {
      var done = function () { if (pc.iceGatheringState === 'complete') resolve(); };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, 3000);   // use what has been gathered by then
    });
  }

  async function offer(pc) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    return pc.localDescription.sdp;
  }

  // Watching.

  function sync(publishers, where) {
    if (where) place(where);
    var wanted = new Map();
    publishers.forEach(function (p) { if (p.member.id !== me) wanted.set(p.member.id, p); });
    views.forEach(function (view, id) {
      if (!wanted.has(id) || wanted.get(id).stream !== view.stream) closeView(id);
    });
    wanted.forEach(function (p, id) { if (!views.has(id)) openView(p); });
    if (local) return;
    if (phase === 'lobby') say(S.not_live);
    else if (phase === 'green_room' || phase === 'breakout') say(S[phase]);
    else say(publishers.length ? '' : (S.nobody || 'Nobody is presenting yet.'));
  }

  // The green room, the lobby, the stage or a breakout group: who may publish, and what the page says.
  function place(where) {
    phase = where;
    var note = document.getElementById('w-green-room');
    if (note) note.hidden = where !== 'green_room';
    if (publishControls) publishControls.hidden = !(onStage || where === 'breakout');
  }

  async function openView(p) {
    var id = p.member.id;
    var pc = new RTCPeerConnection({ iceServers: iceServers });
    // The publisher's pictures: the camera ('video') then the screen share ('screen'), one m-line each, in that order.
    var pictures = audioOnly ? 0 : p.kinds.filter(function (k) { return k === 'video' || k === 'screen'; }).length;
    var withVideo = pictures > 0;
    var el = document.createElement(withVideo ? 'video' : 'audio');
    el.autoplay = true;
    el.playsInline = true;
    el.controls = !withVideo;
    el.dataset.member = id;
    el.title = p.member.display_name;
    var figure = document.createElement('figure');
    var caption = document.createElement('figcaption');
    caption.textContent = p.member.display_name;
    caption.dir = 'auto';
    figure.appendChild(el);
    figure.appendChild(caption);
    videosEl.appendChild(figure);
    var view = { pc: pc, stream: p.stream, el: figure };
    views.set(id, view);
    if (p.kinds.indexOf('audio') >= 0) pc.addTransceiver('audio', { direction: 'recvonly' });
    for (var n = 0; n < pictures; n++) pc.addTransceiver('video', { direction: 'recvonly' });
    preferCodecs(pc);
    var stream = new MediaStream();
    el.srcObject = stream;
    pc.ontrack = function (event) {
      var target = el;
      if (event.track.kind === 'video' && stream.getVideoTracks().length) {
        // A second picture (the screen share): its own element, larger, before the camera.
        target = document.createElement('video');
        target.autoplay = true;
        target.playsInline = true;
        target.className = 'screen';
        target.srcObject = new MediaStream([event.track]);
        figure.insertBefore(target, el);
      } else {
        stream.addTrack(event.track);
      }
      var played = target.play();
      if (played && played.catch) played.catch(function () { say(S.tap_to_play || 'Tap the picture to start the sound.'); });
    };
    el.addEventListener('click', function () { el.play(); });
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === 'failed' && views.get(id) === view) {
        closeView(id);
        setTimeout(function () { if (watching) watch(); }, 2000);   // ask again who is on stage, re-view
      }
    };
    try {
      var sdp = await offer(pc);
      if (views.get(id) !== view) return;
      var answer = await request({ type: 'media.view', webinar: webinar, publisher: id, sdp: sdp, audio_only: !withVideo });
      if (views.get(id) !== view) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } catch (error) {
      if (views.get(id) === view) closeView(id);
    }
  }

  function closeView(id) {
    var view = views.get(id);
    if (!view) return;
    views.delete(id);
    view.pc.close();
    view.el.remove();
  }

  // Publishing.

  // What a publisher sends: their microphone, their camera (kind 'video') and, beside it, their screen ('screen').
  async function capture(source) {
    if (source === 'screen') {
      var screen = (await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks()[0];
      var kept = local ? local.media.getTracks().filter(function (t) { return t !== local.screen; }) : [];
      if (!kept.some(function (t) { return t.kind === 'audio'; })) {
        kept = kept.concat((await navigator.mediaDevices.getUserMedia({ audio: true })).getAudioTracks());
      }
      return { media: new MediaStream(kept.concat([screen])), screen: screen };
    }
    return { media: await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } }),
             screen: null };
  }

  // Sharing the screen, or stopping it, publishes again with the tracks in order (viewers re-view): the
  // camera stays in the corner of the stream while the screen fills it.
  async function publish(source) {
    var captured;
    try { captured = await capture(source); } catch (error) { say((S.no_device || 'Could not use the device:') + ' ' + error.message); return; }
    var previous = local;
    if (previous && previous.pc) previous.pc.close();
    if (previous && source !== 'screen') previous.media.getTracks().forEach(function (t) { t.stop(); });
    if (previous && source === 'screen' && previous.screen) previous.screen.stop();
    local = { media: captured.media, pc: null, source: source, screen: captured.screen };
    if (captured.screen) captured.screen.addEventListener('ended', stopSharing);
    preview();
    startPublishing();
  }

  function stopSharing() {
    if (!local || !local.screen) return;
    local.screen.stop();
    var rest = local.media.getTracks().filter(function (t) { return t !== local.screen; });
    local = { media: new MediaStream(rest), pc: local.pc, source: 'camera', screen: null };
    if (!rest.length) { stopLocal(); return; }
    preview();
    startPublishing();
  }

  async function startPublishing() {
    if (!local || !ws || ws.readyState !== WebSocket.OPEN) return;
    if (local.pc) local.pc.close();
    var pc = new RTCPeerConnection({ iceServers: iceServers });
    var mine = local;
    mine.pc = pc;
    var tracks = mine.media.getAudioTracks().concat(mine.media.getVideoTracks().filter(function (t) { return t !== mine.screen; }));
    if (mine.screen) tracks.push(mine.screen);   // the screen's m-line comes after the camera's
    tracks.forEach(function (track) { pc.addTransceiver(track, { direction: 'sendonly', streams: [mine.media] }); });
    preferCodecs(pc);
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === 'failed' && local === mine && mine.pc === pc) {
        say(S.publish_retry || 'Connection lost; publishing again…');
        setTimeout(startPublishing, 2000);
      }
    };
    var kinds = tracks.map(function (t) { return t === mine.screen ? 'screen' : t.kind; });
    try {
      var sdp = await offer(pc);
      var answer = await request({ type: 'media.publish', webinar: webinar, sdp: sdp, kinds: kinds });
      if (mine.pc !== pc) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      retryBackoff = 500;
      say(S.publishing || 'You are on stage.');
      setControls(true);
    } catch (error) {
      if (error.code === 'disconnected') return;   // publishes again once the socket is back
      if (error.retryable && local === mine) { say(S.moving); retryLater(startPublishing); return; }
      stopLocal();
      say((S.refused || 'Publishing was refused:') + ' ' + (error.message || error));
    }
  }

  function preview() {
    var el = document.getElementById('m-preview');
    if (!el) return;
    el.srcObject = local ? local.media : null;
    el.hidden = !local;
    meter(local && local.media);
  }

  // The microphone's level while publishing, so a speaker sees their sound arrive before anyone hears it.
  function meter(media) {
    var el = document.getElementById('m-level');
    if (level) { clearInterval(level.timer); level.ctx.close(); level = null; }
    if (el) { el.hidden = true; el.value = 0; }
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!el || !media || !Ctx || !media.getAudioTracks().length) return;
    var ctx = new Ctx();
    var analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(media).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    el.hidden = false;
    level = { ctx: ctx, timer: setInterval(function () {
      analyser.getByteTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i] - 128));
      el.value = peak / 128;
    }, 100) };
  }

  function stopLocal() {
    if (!local) return;
    if (local.pc) local.pc.close();
    local.media.getTracks().forEach(function (t) { t.stop(); });
    local = null;
    preview();
    setControls(false);
  }

  function stopped(reason) {
    if (reason === 'requested') return;
    stopLocal();
    say(S['stopped_' + reason] || S.stopped || 'Your publishing stopped.');
  }

  function setControls(on) {
    var stop = document.getElementById('m-stop');
    if (stop) stop.hidden = !on;
  }

  // Controls.
  var camera = document.getElementById('m-camera');
  var screenButton = document.getElementById('m-screen');
  var stopButton = document.getElementById('m-stop');
  if (camera) camera.addEventListener('click', function () { publish('camera'); });
  if (screenButton) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) screenButton.hidden = true;
    screenButton.addEventListener('click', function () { publish('screen'); });
  }
  if (stopButton) stopButton.addEventListener('click', function () {
    stopLocal();
    request({ type: 'media.stop', webinar: webinar }).catch(function () {});
    say('');
  });
  if (audioOnlyEl) audioOnlyEl.addEventListener('change', function () {
    audioOnly = audioOnlyEl.checked;
    localStorage.setItem('convene.media.audioOnly', String(audioOnly));
    views.forEach(function (_, id) { closeView(id); });
    if (stream) { leaveStream(); watchStream(); }   // the other rendition of the HTTP stream
    else if (watching) watch();
  });
  window.addEventListener('pagehide', function () { stopLocal(); });
  // Promoted or demoted while the page is open (the room's events, through chat.js's socket): show or
  // hide the publishing controls. The server decides who may publish; this only spares a reload.
  var publishControls = document.getElementById('m-publish');
  document.addEventListener('convene:frame', function (event) {
    var f = event.detail;
    if (!publishControls || !f || f.type !== 'speaker' || !f.member || f.member.id !== me) return;
    onStage = f.speaker;
    publishControls.hidden = !(onStage || phase === 'breakout');
    // The stage always has a WebRTC seat: a member watching the HTTP stream comes back to live video.
    if (f.speaker && stream && ws && ws.readyState === WebSocket.OPEN) watch();
  });

  // For diagnostics (and tests): the live peer connections.
  window.conveneMedia = { views: views, local: function () { return local; }, publish: publish,
                          stream: function () { return stream; } };
  connect();
}());
