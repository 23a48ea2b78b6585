// The widget's bridge between its host page and the softphone client (issue 6).
//
// widget.html is the full page in its compact layout (class="compact" on <html>), running
// the same WebAssembly client. boot.js loads this file there, and starts the client when
// it dispatches "parkway:signed-in". This file does what only a framed widget needs:
//
//  1. Sign-in. The host's backend buys a single-use ticket (POST /api/tickets) and the host
//     page hands it over by postMessage; the widget exchanges it once (POST
//     /api/widget/session) for a session token, kept in sessionStorage where the client
//     looks for it (wasm/signin_js.go), and only then starts it. The ticket travels by
//     postMessage rather than in the iframe URL's fragment because a fragment stays in the
//     frame's history and can be read back by anything that learns the URL, while a
//     message posted with the gateway's origin as targetOrigin reaches this document and
//     nothing else; it also lets the client download while the host fetches the ticket.
//  2. Commands. {type:'parkway:command', id, command, args} from the host become
//     window.parkway.command(name, args) on the client; the answer goes back as
//     {type:'parkway:result', id, ok:true, call?} or {type:'parkway:error', id, code,
//     message, field?}. Malformed or unknown commands get typed errors and reach nothing.
//  3. Events. The client's 'parkway' DOM events go to the host as
//     {type:'parkway:event', event, data}.
//
// Origins, both ways: the embedding origin is the parent's origin as the browser reports
// it (location.ancestorOrigins, else the Referer that embed.js asks to be the origin),
// accepted only when the gateway confirms it is on its embed allowlist. Messages are
// obeyed only when event.source is window.parent and event.origin is that origin; every
// postMessage names it as targetOrigin — never "*". Before the gateway has confirmed it,
// the widget only asks for a ticket and answers not-ready, posted to the origin the
// browser reports for the parent: nothing secret, and nobody else can receive it.
(() => {
  'use strict';

  const SESSION_KEY = 'parkway.session'; // the client's key (wasm/signin_js.go)
  const EMBED_KEY = 'parkway.widget'; // {embedder}: who this tab's session was issued for
  const EVENTS = new Set(['ready', 'state', 'call', 'parked', 'connection']);

  // What each command takes. '!' marks a required field. The client and then the gateway
  // check again; this is so a host gets a precise error without a round trip.
  const ORBIT = /^(?:[*#]?[1-9]\d{0,7}|[1-9]\d{0,8})$/; // ARCHITECTURE.md §3, signaling.OrbitPattern
  const TARGET = /^[^\s<>"'\\]{1,128}$/; // a name, a number or a sip: URI
  const CALL_ID = /^[\w.:@-]{1,128}$/;
  const KINDS = {
    target: (v) => typeof v === 'string' && TARGET.test(v.trim()),
    orbit: (v) => typeof v === 'string' && ORBIT.test(v.trim()),
    call: (v) => typeof v === 'string' && CALL_ID.test(v),
    bool: (v) => typeof v === 'boolean',
    digits: (v) => typeof v === 'string' && /^[0-9*#A-Da-d]{1,32}$/.test(v.trim()),
  };
  const HINTS = {
    target: 'a name, number or SIP URI of 1 to 128 characters without spaces',
    orbit: 'an orbit number such as 7001',
    call: 'a call id from a call event',
    bool: 'true or false',
    digits: '1 to 32 keypad digits: 0-9, *, #, A-D',
  };
  const COMMANDS = {
    dial: { target: 'target!' },
    answer: { call: 'call' },
    decline: { call: 'call' },
    hangup: { call: 'call' },
    hold: { call: 'call' },
    resume: { call: 'call' },
    mute: { call: 'call', muted: 'bool!' },
    // target: a blind transfer; consult: the call an attended transfer joins; neither:
    // what the Transfer button would do.
    transfer: { target: 'target', consult: 'call', call: 'call' },
    park: { orbit: 'orbit', call: 'call' },
    retrieve: { orbit: 'orbit!' },
    dtmf: { digits: 'digits!' },
  };

  const root = document.documentElement;
  const framed = window.parent !== window;
  let embedder = null; // the verified embedding origin; null until the gateway agrees
  let booted = false;
  let ready = false; // the client said 'ready' and is connected
  let connection = 'connecting';
  let wantTicket = false;

  function setPhase(p) {
    root.dataset.widget = p;
  }

  function say(message, refused) {
    const el = document.querySelector('[data-part="loader"]');
    if (el) {
      el.textContent = message;
      el.hidden = !message;
    }
    if (refused) setPhase('refused');
  }

  // storage is the tab's sessionStorage, where the client looks for its session. A
  // browser that blocks third-party storage (Chromium with third-party cookies blocked,
  // Brave, Safari's stricter modes) denies it to a framed widget; then the session lives
  // in this document's memory instead, under the same name so the client finds it, and a
  // reload of the frame asks the host for a new ticket.
  function storage() {
    try {
      return window.sessionStorage;
    } catch {
      const mem = new Map();
      const shim = {
        getItem: (k) => (mem.has(String(k)) ? mem.get(String(k)) : null),
        setItem: (k, v) => void mem.set(String(k), String(v)),
        removeItem: (k) => void mem.delete(String(k)),
        clear: () => mem.clear(),
        key: (i) => Array.from(mem.keys())[i] ?? null,
        get length() {
          return mem.size;
        },
      };
      try {
        Object.defineProperty(window, 'sessionStorage', { value: shim, configurable: true });
        root.dataset.storage = 'memory';
        return shim;
      } catch {
        return null;
      }
    }
  }

  function boot() {
    if (booted) return;
    booted = true;
    setPhase('starting');
    say('');
    document.dispatchEvent(new Event('parkway:signed-in')); // boot.js starts the client
  }

  // parentOrigin is what the browser says the parent's origin is. ancestorOrigins cannot
  // be forged by a page; Referer is the fallback for browsers without it (embed.js sets
  // referrerpolicy="strict-origin" so it holds the origin only).
  function parentOrigin() {
    const ao = window.location.ancestorOrigins;
    if (ao && ao.length > 0) return ao[0];
    try {
      return document.referrer ? new URL(document.referrer).origin : null;
    } catch {
      return null;
    }
  }

  const claimed = framed ? parentOrigin() : null;

  function post(msg, origin = embedder) {
    if (!origin || origin === 'null') return;
    window.parent.postMessage(msg, origin);
  }

  function reply(id, result) {
    post(Object.assign({ type: 'parkway:result', id, ok: true }, result));
  }

  function fail(id, code, message, field, origin = embedder) {
    const msg = { type: 'parkway:error', id, code, message };
    if (field) msg.field = field;
    post(msg, origin);
  }

  function askForTicket() {
    wantTicket = true;
    setPhase('waiting-ticket');
    say('Waiting for the page to sign you in…');
    post({ type: 'parkway:need-ticket' }, claimed);
  }

  async function exchange(ticket) {
    wantTicket = false;
    setPhase('signing-in');
    let resp;
    let body = {};
    try {
      resp = await fetch('/api/widget/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ ticket, embedder: claimed }),
        credentials: 'same-origin',
        cache: 'no-store',
      });
      body = await resp.json().catch(() => ({}));
    } catch (err) {
      say(`The softphone could not reach its gateway (${err.message}).`, true);
      fail(null, 'unavailable', 'the widget could not reach its gateway', undefined, claimed);
      wantTicket = true;
      return;
    }
    if (!resp.ok) {
      const e = body.error || {};
      const code = e.code || 'unauthorized';
      if (code === 'origin-not-allowed' || code === 'forbidden-origin') {
        // The parent is not one the gateway trusts: tell it nothing more.
        say('This page is not allowed to embed the Parkway softphone.', true);
        return;
      }
      say(`Sign-in refused: ${e.message || resp.status}`, true);
      fail(null, code, e.message || `the gateway answered ${resp.status}`, undefined, claimed);
      wantTicket = true; // the host may try again with a new ticket
      return;
    }
    const store = storage();
    if (!store || body.embedder !== claimed) {
      say('The softphone cannot keep a session in this browser (storage is blocked).', true);
      return;
    }
    store.setItem(SESSION_KEY, JSON.stringify({ token: body.token, user: body.user, expiresAt: body.expiresAt }));
    store.setItem(EMBED_KEY, JSON.stringify({ embedder: body.embedder }));
    embedder = body.embedder;
    if (booted) {
      // The client gave up on its old session and waits for a sign-in form the widget
      // does not have: start it again with the new one.
      window.location.reload();
      return;
    }
    boot();
  }

  // check returns an error for a malformed command, or null.
  function check(data) {
    const id = data.id;
    const idOK = (typeof id === 'string' && id.length > 0 && id.length <= 64) || (typeof id === 'number' && Number.isFinite(id));
    if (!idOK) return { id: null, code: 'bad-command', message: 'a command needs an id: a string of 1 to 64 characters or a number' };
    if (typeof data.command !== 'string') return { id, code: 'bad-command', message: 'command must be a string' };
    const spec = Object.prototype.hasOwnProperty.call(COMMANDS, data.command) ? COMMANDS[data.command] : null;
    if (!spec) {
      return { id, code: 'unknown-command', message: `no command ${JSON.stringify(data.command.slice(0, 40))}; the commands are ${Object.keys(COMMANDS).join(', ')}` };
    }
    const args = data.args === undefined ? {} : data.args;
    if (args === null || typeof args !== 'object' || Array.isArray(args)) return { id, code: 'bad-command', message: 'args must be an object' };
    for (const name of Object.keys(args)) {
      if (!Object.prototype.hasOwnProperty.call(spec, name)) {
        return { id, code: 'bad-field', field: name, message: `${data.command} takes no ${name}; it takes ${Object.keys(spec).join(', ') || 'nothing'}` };
      }
    }
    for (const [name, kind] of Object.entries(spec)) {
      const required = kind.endsWith('!');
      const k = required ? kind.slice(0, -1) : kind;
      if (args[name] === undefined) {
        if (required) return { id, code: 'bad-field', field: name, message: `${data.command} needs ${name}: ${HINTS[k]}` };
        continue;
      }
      if (!KINDS[k](args[name])) return { id, code: 'bad-field', field: name, message: `${name} must be ${HINTS[k]}` };
    }
    if (data.command === 'transfer' && args.target !== undefined && args.consult !== undefined) {
      return { id, code: 'bad-field', field: 'consult', message: 'a transfer takes target (blind) or consult (attended), not both' };
    }
    return null;
  }

  // clean copies only the fields the command takes, trimmed, so nothing else reaches the
  // client.
  function clean(command, args) {
    const out = {};
    for (const name of Object.keys(COMMANDS[command])) {
      if (args && args[name] !== undefined) out[name] = typeof args[name] === 'string' ? args[name].trim() : args[name];
    }
    return out;
  }

  function onCommand(data) {
    const bad = check(data);
    if (bad) {
      fail(bad.id, bad.code, bad.message, bad.field);
      return;
    }
    const client = window.parkway;
    if (!ready || !client || typeof client.command !== 'function') {
      fail(data.id, 'not-ready', connection === 'connected' ? 'the softphone is still starting' : `the softphone is ${connection}`);
      return;
    }
    let p;
    try {
      p = Promise.resolve(client.command(data.command, clean(data.command, data.args)));
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (r) => reply(data.id, r && r.call ? { call: String(r.call) } : {}),
      (e) => {
        const err = e || {};
        fail(data.id, typeof err.code === 'string' ? err.code : 'failed', typeof err.message === 'string' ? err.message : String(err), typeof err.field === 'string' ? err.field : undefined);
      },
    );
  }

  function idOf(data) {
    return typeof data.id === 'string' || typeof data.id === 'number' ? data.id : null;
  }

  function onMessage(ev) {
    if (ev.source !== window.parent || !framed) return;
    const data = ev.data;
    if (embedder === null || wantTicket) {
      // Before sign-in, only the ticket is taken, only from the parent the browser names.
      if (ev.origin !== claimed) return;
      if (data && data.type === 'parkway:ticket' && wantTicket) {
        if (typeof data.ticket === 'string' && data.ticket.length > 0 && data.ticket.length <= 1024) exchange(data.ticket);
        else fail(null, 'bad-field', 'ticket must be a non-empty string', 'ticket', claimed);
        return;
      }
      if (embedder === null) {
        if (data && data.type === 'parkway:command') fail(idOf(data), 'not-ready', 'the widget is not signed in yet', undefined, claimed);
        return;
      }
    }
    if (ev.origin !== embedder) return;
    if (data === null || typeof data !== 'object' || typeof data.type !== 'string') {
      fail(null, 'bad-command', 'a message must be an object {type:"parkway:command", id, command, args}');
      return;
    }
    if (!data.type.startsWith('parkway:')) return; // someone else's protocol on the same window
    if (data.type !== 'parkway:command') {
      fail(idOf(data), 'bad-command', `the widget takes parkway:command messages, not ${JSON.stringify(data.type.slice(0, 40))}`);
      return;
    }
    onCommand(data);
  }

  function onClientEvent(ev) {
    const detail = ev.detail || {};
    const name = detail.event;
    if (!EVENTS.has(name)) return;
    // A plain copy: what the client passes need not be cloneable as it is.
    let data;
    try {
      data = detail.data === undefined ? null : JSON.parse(JSON.stringify(detail.data));
    } catch {
      data = null;
    }
    if (name === 'ready') {
      ready = true;
      setPhase('ready');
      performance.mark('parkway-widget-ready');
    }
    if (name === 'connection' && data) {
      connection = data.state || connection;
      if (connection === 'signed-out' && framed) {
        // The session expired or was revoked: the host must vouch for the user again.
        ready = false;
        const store = storage();
        if (store) {
          store.removeItem(SESSION_KEY);
          store.removeItem(EMBED_KEY);
        }
        askForTicket();
      }
    }
    post({ type: 'parkway:event', event: name, data });
  }

  window.addEventListener('parkway', onClientEvent);

  if (!framed) {
    // Opened on its own (a person trying it, a screenshot): the client behaves as on the
    // full page, signing in with ?user=NAME in demo mode. There is no host to talk to.
    boot();
    return;
  }
  window.addEventListener('message', onMessage);
  if (!claimed || claimed === 'null') {
    say('The softphone cannot tell which page embeds it, so it will not start.', true);
    return;
  }
  // A reload of the frame in the same tab keeps its session if the parent is the same.
  const store = storage();
  try {
    const kept = store && JSON.parse(store.getItem(EMBED_KEY) || 'null');
    const session = store && JSON.parse(store.getItem(SESSION_KEY) || 'null');
    const fresh = session && session.token && (!session.expiresAt || Date.parse(session.expiresAt) - Date.now() > 30_000);
    if (kept && kept.embedder === claimed && fresh) {
      embedder = claimed;
      boot();
      return;
    }
  } catch {
    // unreadable: start over below
  }
  if (store) {
    store.removeItem(SESSION_KEY);
    store.removeItem(EMBED_KEY);
  }
  askForTicket();
})();
