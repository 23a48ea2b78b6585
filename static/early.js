// Starts the link to the gateway while main.wasm downloads and compiles (issue 12): the
// sign-in (POST /api/session, for /?user=NAME when the tab holds no session yet) and the
// websocket, on which it sends the auth frame as soon as both are there. The Go program
// takes both over when it starts (wasm/early_js.go): the sign-in's response, and the
// socket with every frame it has received, so the welcome and the first state are
// usually waiting for it. Everything else stays the Go program's: if this script did not
// run, or ran late, or its socket failed, the program signs in and dials by itself.
//
// It must say exactly what the program would: the same request (signin_js.go), the
// same session storage (parkway.session), the same auth frame (signaling.Auth) and, to
// the gateway's heartbeat until the program takes over, the same pong.
// Not in the widget (class="compact"), where widget.js signs in with the host's ticket.
(() => {
  'use strict';
  const root = document.documentElement;
  if (root.classList.contains('compact') || typeof WebSocket !== 'function' || typeof fetch !== 'function' || window.parkwayEarly) return;
  if (root.dataset.client === 'running') return; // the program is already up: too late

  // A stored session is presented when it belongs to the requested user and does not
  // expire within 30 s (softphone.Session.Usable); otherwise the program signs in
  // again, and does not take this socket over.
  const user = (new URL(location.href).searchParams.get('user') || '').trim();
  let token = '';
  try {
    const stored = JSON.parse(sessionStorage.getItem('parkway.session') || 'null');
    if (stored && typeof stored.token === 'string' && stored.token && (!user || stored.user === user) && !expiringSoon(stored.expiresAt)) {
      token = stored.token;
    }
  } catch {
    // No session storage (or a garbled entry): the program decides.
  }
  if (!token && !user) return; // nobody to sign in as: the program asks

  const early = { user, signIn: null, ws: null, frames: [], closed: null, opened: false, authSent: '', adopted: false };
  if (!token) {
    early.signIn = fetch('/api/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ user }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    early.signIn
      .then((resp) => (resp.ok ? resp.clone().json() : null))
      .then((s) => {
        if (s && typeof s.token === 'string' && s.token) {
          token = s.token;
          sendAuth();
        } else {
          signInFailed();
        }
      })
      .catch(signInFailed); // the program reads the same response and reports it
  }

  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`);
  ws.binaryType = 'arraybuffer';
  early.ws = ws;
  const handlers = {
    open: () => {
      early.opened = true;
      performance.mark('parkway-early-ws-open');
      sendAuth();
    },
    message: (ev) => {
      // The gateway's heartbeat is answered here until the program takes over: a tab
      // whose program starts slowly is not a silent peer to be cut.
      // A frame may come as text or, from a relay, as binary (binaryType arraybuffer).
      const text = typeof ev.data === 'string' ? ev.data : ev.data instanceof ArrayBuffer ? new TextDecoder().decode(ev.data) : '';
      if (text.startsWith('{"v":1,"type":"ping"')) {
        try {
          const seq = JSON.parse(text).data.seq;
          ws.send(JSON.stringify({ v: 1, type: 'pong', data: { seq } }));
          return;
        } catch {
          // not a ping after all: the program reads it
        }
      }
      early.frames.push(ev.data);
    },
    close: (ev) => {
      early.closed = { code: ev.code, reason: ev.reason };
    },
  };
  for (const [name, fn] of Object.entries(handlers)) ws.addEventListener(name, fn);

  // A socket nobody can authenticate is closed rather than left to the gateway's auth
  // timeout; the program, reading the same refusal, asks the user.
  function signInFailed() {
    if (!early.adopted) ws.close(1000, 'not signed in');
  }

  function sendAuth() {
    if (early.adopted || early.authSent || !token || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ v: 1, type: 'auth', data: { token } }));
    early.authSent = token;
  }

  // takeSignIn hands the program the sign-in response promise for user, once.
  early.takeSignIn = (forUser) => {
    const p = early.signIn;
    early.signIn = null;
    return p && forUser === user ? p : null;
  };
  // adopt hands the program the socket for a session with this token, once: with the
  // frames it received, how it closed (if it did) and whether this auth went out. A
  // socket that authenticated with another token is closed instead (null).
  early.adopt = (forToken) => {
    if (early.adopted) return null;
    early.adopted = true;
    for (const [name, fn] of Object.entries(handlers)) ws.removeEventListener(name, fn);
    if (early.authSent && early.authSent !== forToken) {
      ws.close(1000, 'signed in again');
      return null;
    }
    return { ws, frames: early.frames, closed: early.closed, opened: early.opened, authSent: early.authSent === forToken };
  };
  window.parkwayEarly = early;

  // expiringSoon reads an expiry as the gateway sends it (RFC 3339, or Unix seconds or
  // milliseconds; see softphone.Expiry); one it cannot read does not count.
  function expiringSoon(at) {
    let ms = NaN;
    if (typeof at === 'string') ms = Date.parse(at);
    else if (typeof at === 'number' && at > 0) ms = at < 1e12 ? at * 1000 : at;
    return Number.isFinite(ms) && ms - 30_000 <= Date.now();
  }
})();
