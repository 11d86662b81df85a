/* ConveneHls: a small Media Source Extensions player for Convene's live stream (HLS, fMP4 segments).
   ConveneHls.attach(mediaElement, masterUrl, {audioOnly}) → {stop()}. No dependencies.
   It reads the master playlist, picks the video rendition or the audio-only one, appends the
   init segment and then each media segment to one SourceBuffer (in 'sequence' mode, so a
   discontinuity after a server restart simply follows on), polls the playlist while the
   stream is live, jumps to the live edge when it falls behind, and ends at #EXT-X-ENDLIST.
   Elements with data-convene-hls="<master url>" get a player when their page loads. */
(function () {
  'use strict';

  var LIVE_START_SEGMENTS = 2;   // start this many segments behind the live edge
  var KEEP_BEHIND_S = 30;        // buffer kept behind the playhead (memory on small phones)

  function lines(text) { return text.split(/\r?\n/).map(function (l) { return l.trim(); }); }

  function attrs(text) {
    var found = {}, re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g, m;
    while ((m = re.exec(text))) found[m[1]] = m[2].replace(/^"|"$/g, '');
    return found;
  }

  function parseMaster(text, base) {
    var variants = [], all = lines(text);
    for (var i = 0; i < all.length; i++) {
      if (all[i].indexOf('#EXT-X-STREAM-INF:') !== 0) continue;
      var a = attrs(all[i].slice(18)), uri = all[i + 1];
      var codecs = a.CODECS || '';
      variants.push({ url: new URL(uri, base).href, codecs: codecs, bandwidth: +a.BANDWIDTH || 0,
                      audioOnly: !/avc1|hvc1|av01|vp0?9/.test(codecs) });
    }
    return variants;
  }

  function parseMedia(text, base) {
    var list = { init: null, segments: [], ended: false, target: 2, canSkip: false }, seq = 0, duration = 0;
    lines(text).forEach(function (line) {
      if (line.indexOf('#EXT-X-MEDIA-SEQUENCE:') === 0) seq = +line.slice(22);
      else if (line.indexOf('#EXT-X-TARGETDURATION:') === 0) list.target = +line.slice(22) || 2;
      else if (line.indexOf('#EXT-X-MAP:') === 0) list.init = new URL(attrs(line.slice(11)).URI, base).href;
      else if (line.indexOf('#EXTINF:') === 0) duration = parseFloat(line.slice(8));
      else if (line.indexOf('#EXT-X-SKIP:') === 0) seq += +attrs(line.slice(12))['SKIPPED-SEGMENTS'] || 0;
      else if (line.indexOf('#EXT-X-SERVER-CONTROL:') === 0) list.canSkip = 'CAN-SKIP-UNTIL' in attrs(line.slice(22));
      else if (line === '#EXT-X-ENDLIST') list.ended = true;
      else if (line && line[0] !== '#') {
        list.segments.push({ seq: seq++, url: new URL(line, base).href, duration: duration });
      }
    });
    return list;
  }

  function fetchData(url, kind, signal) {
    return fetch(url, { signal: signal, credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) {
        var error = new Error(url + ': ' + response.status);
        error.notYet = response.status === 404;   // the stream has not started (or this segment is not out yet)
        throw error;
      }
      return kind === 'text' ? response.text() : response.arrayBuffer();
    });
  }

  function append(buffer, data) {
    return new Promise(function (resolve, reject) {
      function done() { buffer.removeEventListener('updateend', done); buffer.removeEventListener('error', fail); resolve(); }
      function fail() { buffer.removeEventListener('updateend', done); buffer.removeEventListener('error', fail); reject(new Error('append failed')); }
      buffer.addEventListener('updateend', done);
      buffer.addEventListener('error', fail);
      buffer.appendBuffer(data);
    });
  }

  function trim(media, buffer) {
    if (buffer.updating || !buffer.buffered.length) return Promise.resolve();
    var start = buffer.buffered.start(0), upTo = media.currentTime - KEEP_BEHIND_S;
    if (upTo <= start) return Promise.resolve();
    return new Promise(function (resolve) {
      buffer.addEventListener('updateend', resolve, { once: true });
      buffer.remove(start, upTo);
    });
  }

  function sleep(ms, signal) {
    return new Promise(function (resolve) {
      var timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', function () { clearTimeout(timer); resolve(); }, { once: true });
    });
  }

  function attach(media, masterUrl, options) {
    options = options || {};
    var abort = new AbortController(), signal = abort.signal;
    var master = new URL(masterUrl, location.href).href;
    function report(state, detail) {
      media.dispatchEvent(new CustomEvent('convenehls', { detail: { state: state, detail: detail || '' } }));
    }

    function run(text) {
      return Promise.resolve(text).then(function (text) {
        var variants = parseMaster(text, master);
        var choice = variants.filter(function (v) { return v.audioOnly === !!options.audioOnly; })[0] || variants[0];
        if (!choice) throw new Error('no rendition in ' + master);
        var mime = (choice.audioOnly ? 'audio/mp4' : 'video/mp4') + '; codecs="' + choice.codecs + '"';
        if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) throw new Error('cannot play ' + mime);
        var source = new MediaSource();
        media.src = URL.createObjectURL(source);
        return new Promise(function (resolve) {
          source.addEventListener('sourceopen', resolve, { once: true });
        }).then(function () {
          var buffer = source.addSourceBuffer(mime);
          buffer.mode = 'sequence';
          return follow(choice.url, source, buffer);
        });
      });
    }

    function follow(url, source, buffer) {
      var next = null, initDone = false, skipUrl = null;
      function poll() {
        if (signal.aborted) return null;
        // Once we have the start, ask only for the end of the playlist (a delta update): it grows all webinar long.
        return fetchData(skipUrl || url, 'text', signal).catch(function (error) {
          if (!error.notYet || signal.aborted) throw error;
          return null;   // the first segment is not out yet
        }).then(function (text) {
          if (text === null) {
            report('waiting');
            return sleep(1000, signal).then(poll);
          }
          var list = parseMedia(text, url);
          if (list.canSkip && !skipUrl) skipUrl = url + (url.indexOf('?') < 0 ? '?' : '&') + '_HLS_skip=YES';
          var before = next;
          var chain = Promise.resolve();
          if (!initDone && list.init) {
            chain = fetchData(list.init, 'bytes', signal).then(function (data) { initDone = true; return append(buffer, data); });
          }
          if (next === null) {
            var first = list.ended ? 0 : Math.max(0, list.segments.length - LIVE_START_SEGMENTS);
            next = list.segments.length ? list.segments[first].seq : 0;
          }
          list.segments.forEach(function (segment) {
            if (segment.seq < next) return;
            chain = chain.then(function () {
              if (signal.aborted) return null;
              return fetchData(segment.url, 'bytes', signal).then(function (data) {
                next = segment.seq + 1;
                return trim(media, buffer).then(function () { return append(buffer, data); });
              });
            });
          });
          return chain.then(function () {
            if (signal.aborted) return null;
            catchUp(list.target);
            if (list.ended) {
              if (source.readyState === 'open') source.endOfStream();
              if (media.ended) report('ended');
              else media.addEventListener('ended', function () { report('ended'); }, { once: true });
              return null;
            }
            report('live');
            // RFC 8216 6.3.4: reload after a target duration, or half of one when nothing was new.
            return sleep(list.target * (next !== before ? 1000 : 500), signal).then(poll);
          });
        });
      }
      return poll();
    }

    // Behind the live edge by more than three segments (a stall on a poor link): jump ahead.
    function catchUp(target) {
      var b = media.buffered;
      if (!b.length) return;
      var end = b.end(b.length - 1);
      if (end - media.currentTime > 3 * target) media.currentTime = Math.max(0, end - target);
      else if (media.currentTime < b.start(0)) media.currentTime = b.start(0);
    }

    // Opened before the stream exists (the page is shared ahead of time): wait for it.
    function start() {
      return fetchData(master, 'text', signal).catch(function (error) {
        if (!error.notYet || signal.aborted) throw error;
        report('waiting');
        return sleep(2000, signal).then(start);
      });
    }
    start().then(run).catch(function (error) {
      if (!signal.aborted) report('error', String(error && error.message || error));
    });
    return {
      stop: function () {
        abort.abort();
        media.removeAttribute('src');
        media.load();
      }
    };
  }

  window.ConveneHls = { attach: attach, parseMaster: parseMaster, parseMedia: parseMedia };

  // The stream page: <div data-convene-hls="master url"> with an <audio>/<video> and two buttons.
  function setUp(box) {
    var player = null, status = box.querySelector('[data-hls-status]');
    var labels = JSON.parse(box.getAttribute('data-labels') || '{}');
    box.addEventListener('convenehls', function (event) {
      if (status) status.textContent = labels[event.detail.state] || event.detail.state;
      box.setAttribute('data-state', event.detail.state);
    }, true);
    function start(audioOnly) {
      if (player) player.stop();
      var media = box.querySelector(audioOnly ? 'audio' : 'video');
      var other = box.querySelector(audioOnly ? 'video' : 'audio');
      other.hidden = true;
      media.hidden = false;
      player = attach(media, box.getAttribute('data-convene-hls'), { audioOnly: audioOnly });
      var playing = media.play();
      if (playing && playing.catch) playing.catch(function () { /* the controls let the member press play */ });
      box.setAttribute('data-mode', audioOnly ? 'audio' : 'video');
    }
    box.querySelectorAll('[data-hls-mode]').forEach(function (button) {
      button.addEventListener('click', function () { start(button.getAttribute('data-hls-mode') === 'audio'); });
    });
  }

  function ready() { document.querySelectorAll('[data-convene-hls]').forEach(setUp); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
