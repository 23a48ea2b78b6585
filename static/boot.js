// Starts the Parkway softphone: fetches main.wasm (Go compiled to WebAssembly) and runs
// it with Go's wasm_exec.js. It lives in its own file rather than inline because the
// gateway serves the page with a strict Content-Security-Policy (gateway/assets
// PagePolicy): script-src 'self' 'wasm-unsafe-eval' runs the gateway's own script files
// and lets this one compile main.wasm, but no inline script and no eval; connect-src
// 'self' covers the fetches and the websocket below. Nothing here may write markup or a
// style attribute (style-src 'self').
// Everything after start-up is the Go program's job; this only says clearly when the
// program cannot load or stops.
//
// The widget (/widget.html) is this page in its compact layout: the gateway serves it
// with class="compact" on <html>. There the client starts only once widget.js, loaded
// from here, has signed the widget in with its host's ticket and dispatches
// "parkway:signed-in" on document.
(() => {
  'use strict';
  const root = document.documentElement;
  const loader = document.querySelector('[data-part="loader"]');

  function say(message) {
    root.dataset.client = 'failed';
    if (loader) {
      loader.textContent = message;
      loader.hidden = false;
    }
    const conn = document.querySelector('[data-part="connection-text"]');
    if (conn) conn.textContent = 'Not started';
  }

  if (typeof WebAssembly !== 'object' || typeof Go !== 'function') {
    say('This browser cannot run the softphone: it needs WebAssembly.');
    return;
  }

  const go = new Go();
  // The gateway names the client by its content (main.<hash>.wasm, cached for good) in
  // the parkway-client meta; a page served some other way falls back to main.wasm.
  const named = document.querySelector('meta[name="parkway-client"]');
  const url = named && named.content ? new URL(named.content, document.baseURI).href : 'main.wasm';

  // compileStreaming compiles while downloading and, on a repeat visit, lets Chromium
  // hand V8 the client's compiled code from its code cache; it needs the server to say
  // application/wasm. If it cannot be used, fall back to the whole-buffer path, which
  // also turns an HTTP error into a sentence.
  async function compile() {
    if (typeof WebAssembly.compileStreaming === 'function') {
      try {
        return await WebAssembly.compileStreaming(fetch(url));
      } catch (err) {
        console.warn('parkway: streaming compile failed, retrying without it:', err);
      }
    }
    const resp = await fetch(url);
    if (!resp.ok) throw new Error(`${url} answered HTTP ${resp.status}`);
    return WebAssembly.compile(await resp.arrayBuffer());
  }

  function failed(err) {
    console.error('parkway:', err);
    say(`The softphone could not be loaded (${err && err.message ? err.message : err}). Reload the page to try again.`);
  }

  // run starts the compiled program once the page may: at once, or in the widget once
  // widget.js has signed in (the ticket exchange overlaps the download and compile).
  function run(module) {
    performance.mark('parkway-wasm-loaded');
    return WebAssembly.instantiate(module, go.importObject).then((instance) => go.run(instance)).then(() => {
      // main returned or panicked: the page no longer works, so say so.
      if (root.dataset.client !== 'failed') say('The softphone stopped. Reload the page to start it again.');
    });
  }

  // openSocket opens the websocket to the gateway while main.wasm compiles (issue 12):
  // its TCP connection and upgrade are done by the time the program starts, which takes
  // it over (wasm/early_js.go) and only then signs in on it with its auth message. This
  // script sends nothing on it: before auth the gateway sends no heartbeat, so a page
  // still busy compiling owes it no answer, and a socket left silent past the gateway's
  // auth timeout is closed by the gateway and replaced by the program. Anything heard
  // before the takeover (the gateway says something before auth only to refuse or say
  // goodbye) marks the socket as not to be used.
  function openSocket() {
    if (typeof WebSocket !== 'function' || root.dataset.client === 'failed') return;
    let ws;
    try {
      ws = new WebSocket(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`);
    } catch (err) {
      console.warn('parkway: early websocket:', err); // the program dials by itself
      return;
    }
    ws.binaryType = 'arraybuffer';
    const early = { ws, heard: false };
    const heard = () => {
      early.heard = true;
    };
    const opened = () => performance.mark('parkway-early-ws-open');
    ws.addEventListener('message', heard);
    ws.addEventListener('close', heard);
    ws.addEventListener('open', opened, { once: true });
    early.release = () => {
      ws.removeEventListener('message', heard);
      ws.removeEventListener('close', heard);
      ws.removeEventListener('open', opened);
    };
    window.parkwayEarlySocket = early;
  }

  // signInEarly starts the demo sign-in of /?user=NAME while main.wasm compiles, as
  // openSocket does the websocket (issue 12): the program takes its answer
  // (wasm/signin_js.go, takeEarlySignIn) instead of asking only once it runs, a round
  // trip later. The request is the program's own, byte for byte. Not when this tab
  // holds a session for that user: the program presents that one (and signs in by
  // itself if it has expired).
  function signInEarly() {
    if (typeof fetch !== 'function' || typeof URL !== 'function') return;
    let user = '';
    try {
      user = (new URL(location.href).searchParams.get('user') || '').trim();
    } catch (err) {
      return;
    }
    if (!user) return;
    try {
      const stored = JSON.parse(sessionStorage.getItem('parkway.session') || 'null');
      if (stored && stored.user === user && stored.token) return;
    } catch (err) {
      // no sessionStorage, or not a session in it: sign in
    }
    performance.mark('parkway-early-signin');
    const response = fetch('/api/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ user }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    response.catch(() => {}); // the program reads a failure when it takes the answer
    // When the answer reached the page (load.spec reports it): the network has it within
    // a few ms, but the page's one thread handles it only between its own long tasks.
    response.then(() => performance.mark('parkway-early-signin-answer'), () => {});
    window.parkwayEarlySignIn = { user, response };
  }

  // A page that cannot start closes the socket it opened for the program.
  function closeSocket() {
    const early = window.parkwayEarlySocket;
    if (!early) return;
    delete window.parkwayEarlySocket;
    early.release();
    early.ws.close(1000, 'the client did not start');
  }

  root.dataset.client = 'loading';
  const compiled = compile();
  compiled.catch(closeSocket);
  if (!root.classList.contains('compact')) {
    signInEarly();
    openSocket();
    compiled.then(run).catch(failed);
    return;
  }
  // The widget opens its socket once signed in: the host's ticket may take longer than
  // the gateway waits for an auth message.
  const signedIn = new Promise((resolve) => document.addEventListener('parkway:signed-in', resolve, { once: true }));
  signedIn.then(openSocket);
  Promise.all([compiled, signedIn]).then(([module]) => run(module)).catch(failed);
  const widget = document.createElement('script');
  widget.src = 'widget.js';
  widget.onerror = () => say('The widget could not be loaded. Reload the page to try again.');
  document.head.appendChild(widget);
})();
