// Starts the Parkway softphone: fetches main.wasm (Go compiled to WebAssembly) and runs
// it with Go's wasm_exec.js. It lives in its own file rather than inline so a strict
// Content-Security-Policy (script-src 'self' 'wasm-unsafe-eval') can serve the page.
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
  const url = 'main.wasm';

  // instantiateStreaming compiles while downloading; it needs the server to say
  // application/wasm. If it cannot be used, fall back to the whole-buffer path, which
  // also turns an HTTP error into a sentence.
  async function load() {
    if (typeof WebAssembly.instantiateStreaming === 'function') {
      try {
        return await WebAssembly.instantiateStreaming(fetch(url), go.importObject);
      } catch (err) {
        console.warn('parkway: streaming compile failed, retrying without it:', err);
      }
    }
    const resp = await fetch(url);
    if (!resp.ok) throw new Error(`${url} answered HTTP ${resp.status}`);
    return WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
  }

  function start() {
    root.dataset.client = 'loading';
    load().then(({ instance }) => {
      performance.mark('parkway-wasm-loaded');
      return go.run(instance).then(() => {
        // main returned or panicked: the page no longer works, so say so.
        if (root.dataset.client !== 'failed') say('The softphone stopped. Reload the page to start it again.');
      });
    }).catch((err) => {
      console.error('parkway:', err);
      say(`The softphone could not be loaded (${err && err.message ? err.message : err}). Reload the page to try again.`);
    });
  }

  if (!root.classList.contains('compact')) {
    start();
    return;
  }
  document.addEventListener('parkway:signed-in', start, { once: true });
  const widget = document.createElement('script');
  widget.src = 'widget.js';
  widget.onerror = () => say('The widget could not be loaded. Reload the page to try again.');
  document.head.appendChild(widget);
})();
