/* ConveneHls: a small Media Source Extensions player for Convene's live stream (HLS, fMP4 segments).
   ConveneHls.attach(mediaElement, masterUrl, {audioOnly, latency}) → {stop(), latency(), mode}. No dependencies.
   latency 'low': low-latency HLS (master-ll.m3u8): partial segments fetched as the server's blocking
   playlist reloads announce them, playing about PART-HOLD-BACK (~1 s) behind the live edge.
   latency 'standard': whole segments, polling the playlist (delta updates), two segments behind.
   latency 'auto' (the default): low on a good link; standard in low-bandwidth mode, with data saver,
   on a slow connection (navigator.connection), and after the low-latency stream stalls three times.
   Both append to one SourceBuffer in 'sequence' mode (a discontinuity after a server restart simply
   follows on) and end at #EXT-X-ENDLIST. Elements with data-convene-hls="<master url>" get a player. */
(function () {
  'use strict';

  var LIVE_START_SEGMENTS = 2;   // standard: start this many segments behind the live edge
  var KEEP_BEHIND_S = 30;        // buffer kept behind the playhead (memory on small phones)
  var STALLS_BEFORE_STANDARD = 3;  // low latency stalling this often in STALL_WINDOW_MS: the link cannot keep up
  var STALL_WINDOW_MS = 30000;

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

  // Segments (with their parts, when listed), the parts of the segment being made, and the low-latency promises.
  function parseMedia(text, base) {
    var list = { init: null, segments: [], open: [], ended: false, target: 2, canSkip: false,
                 partTarget: 0, holdBack: 0, canBlock: false }, seq = 0, duration = 0, date = null, parts = [];
    lines(text).forEach(function (line) {
      if (line.indexOf('#EXT-X-MEDIA-SEQUENCE:') === 0) seq = +line.slice(22);
      else if (line.indexOf('#EXT-X-TARGETDURATION:') === 0) list.target = +line.slice(22) || 2;
      else if (line.indexOf('#EXT-X-MAP:') === 0) list.init = new URL(attrs(line.slice(11)).URI, base).href;
      else if (line.indexOf('#EXTINF:') === 0) duration = parseFloat(line.slice(8));
      else if (line.indexOf('#EXT-X-SKIP:') === 0) seq += +attrs(line.slice(12))['SKIPPED-SEGMENTS'] || 0;
      else if (line.indexOf('#EXT-X-PROGRAM-DATE-TIME:') === 0) date = Date.parse(line.slice(25)) / 1000;
      else if (line.indexOf('#EXT-X-PART-INF:') === 0) list.partTarget = +attrs(line.slice(16))['PART-TARGET'] || 0;
      else if (line.indexOf('#EXT-X-SERVER-CONTROL:') === 0) {
        var control = attrs(line.slice(22));
        list.canSkip = 'CAN-SKIP-UNTIL' in control;
        list.canBlock = control['CAN-BLOCK-RELOAD'] === 'YES';
        list.holdBack = +control['PART-HOLD-BACK'] || 0;
      } else if (line.indexOf('#EXT-X-PART:') === 0) {
        var a = attrs(line.slice(12));
        parts.push({ url: new URL(a.URI, base).href, duration: +a.DURATION, independent: a.INDEPENDENT === 'YES' });
      } else if (line === '#EXT-X-ENDLIST') list.ended = true;
      else if (line && line[0] !== '#') {
        list.segments.push({ seq: seq++, url: new URL(line, base).href, duration: duration, parts: parts, date: date });
        if (date !== null) date += duration;
        parts = [];
      }
    });
    list.open = parts;
    list.openSeq = seq;
    list.openDate = date;
    return list;
  }

  // Every listed part in order, as {seq, index, url, duration, independent, date}.
  function partsOf(list) {
    var all = [];
    function add(seq, parts, date) {
      parts.forEach(function (p, i) {
        all.push({ seq: seq, index: i, url: p.url, duration: p.duration, independent: p.independent, date: date });
        if (date !== null) date += p.duration;
      });
    }
    list.segments.forEach(function (s) { add(s.seq, s.parts, s.date); });
    add(list.openSeq, list.open, list.openDate);
    return all;
  }

  function fetchData(url, kind, signal) {
    return fetch(url, { signal: signal, credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) {
        var error = new Error(url + ': ' + response.status);
        error.notYet = response.status === 404 || response.status === 503;   // not started, or not produced yet
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

  function withQuery(url, params) {
    return url + (url.indexOf('?') < 0 ? '?' : '&') + params;
  }

  // Low latency only on a link that can take it: not in low-bandwidth mode, not with data saver, not on 2g/3g.
  function goodLink() {
    if (document.body && document.body.dataset.lite === 'true') return false;
    var link = navigator.connection;
    if (!link) return true;
    if (link.saveData || /(^|-)(2g|3g)$/.test(link.effectiveType || '')) return false;
    return !(link.downlink && link.downlink < 1);   // Mbit/s: under 2.5 times the video rendition
  }

  function attach(media, masterUrl, options) {
    options = options || {};
    var abort = new AbortController(), signal = abort.signal;
    var low = options.latency === 'low' || (options.latency !== 'standard' && goodLink());
    var master = new URL(masterUrl, location.href).href;
    if (low) master = master.replace('/master.m3u8', '/master-ll.m3u8');
    var anchor = null;   // {media: a media time, date: the wall-clock time it was captured}
    var stalls = [];
    function report(state, detail) {
      media.dispatchEvent(new CustomEvent('convenehls', { detail: { state: state, detail: detail || '',
                                                                   latency: low ? 'low' : 'standard' } }));
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
          return (low ? followParts : follow)(choice.url, source, buffer);
        });
      });
    }

    function finish(source) {
      if (source.readyState === 'open') source.endOfStream();
      if (media.ended) report('ended');
      else media.addEventListener('ended', function () { report('ended'); }, { once: true });
      return null;
    }

    // Standard: whole segments, the playlist polled every target duration.
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
          if (list.canSkip && !skipUrl) skipUrl = withQuery(url, '_HLS_skip=YES');
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
                return put(buffer, data, segment.date);
              });
            });
          });
          return chain.then(function () {
            if (signal.aborted) return null;
            catchUp(3 * list.target, list.target);
            if (list.ended) return finish(source);
            report('live');
            // RFC 8216 6.3.4: reload after a target duration, or half of one when nothing was new.
            return sleep(list.target * (next !== before ? 1000 : 500), signal).then(poll);
          });
        });
      }
      return poll();
    }

    // Low latency: parts as soon as they exist, asked for with blocking reloads (_HLS_msn, _HLS_part).
    function followParts(url, source, buffer) {
      var next = null, initDone = false, holdBack = 1;
      function load(directive) {
        return fetchData(directive ? withQuery(url, directive) : url, 'text', signal).catch(function (error) {
          if (!error.notYet || signal.aborted) throw error;
          return null;   // not started, or a part that was late: ask again
        });
      }
      // A segment that is complete has no part `next.index`: the one after it starts at part 0.
      function advance(list) {
        var done = next && list.segments.filter(function (s) { return s.seq === next.seq; })[0];
        if (done && done.parts.length && next.index >= done.parts.length) next = { seq: next.seq + 1, index: 0 };
      }
      function startingPart(parts) {
        // About PART-HOLD-BACK from the end, from a part that starts with a picture.
        var i = parts.length, behind = 0;
        while (i > 0 && behind < holdBack) behind += parts[--i].duration;
        while (i > 0 && !parts[i].independent) i--;
        return parts[i];
      }
      function step(text) {
        if (signal.aborted) return null;
        if (text === null) { report('waiting'); return sleep(500, signal).then(function () { return load(null); }).then(step); }
        var list = parseMedia(text, url), parts = partsOf(list);
        holdBack = list.holdBack || 3 * (list.partTarget || 1);
        advance(list);
        var chain = Promise.resolve();
        if (!initDone && list.init) {
          chain = fetchData(list.init, 'bytes', signal).then(function (data) { initDone = true; return append(buffer, data); });
        }
        var at = next === null ? -1 : parts.findIndex(function (p) { return p.seq === next.seq && p.index === next.index; });
        if (at < 0 && next !== null && !parts.some(function (p) { return p.seq > next.seq || (p.seq === next.seq && p.index > next.index); })) {
          at = parts.length;   // the next part is not out yet
        }
        if (at < 0 && parts.length) {   // the start, or we fell behind the parts listed: join near the edge
          var first = startingPart(parts);
          at = parts.indexOf(first);
        }
        parts.slice(Math.max(0, at)).forEach(function (part) {
          chain = chain.then(function () {
            if (signal.aborted) return null;
            return fetchData(part.url, 'bytes', signal).then(function (data) {
              next = { seq: part.seq, index: part.index + 1 };
              return put(buffer, data, part.date);
            });
          });
        });
        return chain.then(function () {
          if (signal.aborted) return null;
          if (list.ended) return finish(source);
          catchUp(holdBack + 1, holdBack);
          report('live');
          if (next === null) return sleep(300, signal).then(function () { return load(null); }).then(step);
          advance(list);
          return load('_HLS_msn=' + next.seq + '&_HLS_part=' + next.index).then(step);
        });
      }
      return load(null).then(step);
    }

    function put(buffer, data, date) {
      var b = buffer.buffered, end = b.length ? b.end(b.length - 1) : 0;
      return trim(media, buffer).then(function () { return append(buffer, data); }).then(function () {
        if (date !== null && date !== undefined) anchor = { media: end, date: date };
        if (b.length && media.currentTime < b.start(0)) media.currentTime = b.start(0);
      });
    }

    // Too far behind the live edge (a stall on a poor link): jump ahead, to `keep` behind it.
    function catchUp(limit, keep) {
      var b = media.buffered;
      if (!b.length) return;
      var end = b.end(b.length - 1);
      if (end - media.currentTime > limit) media.currentTime = Math.max(0, end - keep);
      else if (media.currentTime < b.start(0)) media.currentTime = b.start(0);
    }

    media.addEventListener('waiting', function onStall() {
      if (!low || signal.aborted || !media.currentTime) return;
      var now = Date.now();
      stalls = stalls.filter(function (t) { return now - t < STALL_WINDOW_MS; }).concat([now]);
      if (stalls.length >= STALLS_BEFORE_STANDARD) {
        media.removeEventListener('waiting', onStall);
        report('standard', 'the link cannot keep up with low latency');
      }
    });

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
      mode: low ? 'low' : 'standard',
      // Seconds between capture and what is on screen now (from the playlists' EXT-X-PROGRAM-DATE-TIME).
      latency: function () {
        return anchor ? Date.now() / 1000 - (anchor.date + media.currentTime - anchor.media) : null;
      },
      stop: function () {
        abort.abort();
        media.removeAttribute('src');
        media.load();
      }
    };
  }

  window.ConveneHls = { attach: attach, parseMaster: parseMaster, parseMedia: parseMedia, goodLink: goodLink };

  // The stream page: <div data-convene-hls="master url"> with an <audio>/<video> and two buttons.
  function setUp(box) {
    var player = null, status = box.querySelector('[data-hls-status]'), mode = null;
    var labels = JSON.parse(box.getAttribute('data-labels') || '{}');
    var latency = box.getAttribute('data-latency') || 'auto';
    box.addEventListener('convenehls', function (event) {
      if (event.detail.state === 'standard') { latency = 'standard'; start(mode === 'audio'); return; }
      if (status) status.textContent = labels[event.detail.state] || event.detail.state;
      box.setAttribute('data-state', event.detail.state);
      box.setAttribute('data-latency-mode', event.detail.latency);
    }, true);
    function start(audioOnly) {
      if (player) player.stop();
      var media = box.querySelector(audioOnly ? 'audio' : 'video');
      var other = box.querySelector(audioOnly ? 'video' : 'audio');
      other.hidden = true;
      media.hidden = false;
      player = attach(media, box.getAttribute('data-convene-hls'), { audioOnly: audioOnly, latency: latency });
      box.player = player;
      var playing = media.play();
      if (playing && playing.catch) playing.catch(function () { /* the controls let the member press play */ });
      mode = audioOnly ? 'audio' : 'video';
      box.setAttribute('data-mode', mode);
    }
    box.querySelectorAll('[data-hls-mode]').forEach(function (button) {
      button.addEventListener('click', function () { start(button.getAttribute('data-hls-mode') === 'audio'); });
    });
  }

  function ready() { document.querySelectorAll('[data-convene-hls]').forEach(setUp); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
