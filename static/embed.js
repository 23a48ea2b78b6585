// Parkway embed: put the Parkway softphone widget on any page and drive it.
//
// One tag, where the page's backend answers POST /my-backend/parkway-ticket with
// {"ticket": "..."} (a ticket it bought from the gateway's POST /api/tickets):
//
//   <div id="phone"></div>
//   <script src="https://GATEWAY/embed.js" data-target="#phone"
//           data-ticket-url="/my-backend/parkway-ticket"></script>
//
// or from code:
//
//   const phone = Parkway.embed(document.querySelector('#phone'), {
//     gateway: 'https://GATEWAY',              // default: where embed.js came from
//     // or gateways: ['https://GW1', 'https://GW2', …]: a cluster's gateways; the widget
//     // loads from the first that answers, and once connected it moves through the
//     // list its gateway gives it whenever its gateway cannot be reached (issue #11)
//     getTicket: async () => (await (await fetch('/my-backend/parkway-ticket', {method: 'POST'})).json()).ticket,
//     // or ticket: 'a ticket bought a moment ago' (single-use: no new sign-in later)
//     // or ticketUrl: '/my-backend/parkway-ticket'
//   });
//   phone.on('call', (call) => console.log(call.state));
//   await phone.command('dial', { target: 'bob' });
//
// Commands: dial {target}; answer, decline, hangup, hold, resume {call?}; mute {muted,
// call?}; transfer {target?, consult?, call?} (target: blind, consult: attended); park
// {orbit?, call?}; retrieve {orbit}; dtmf {digits}. call defaults to the call in focus.
// A command's promise resolves {ok: true, call?} or rejects with an Error whose code is
// bad-command, unknown-command, bad-field (with field), not-ready, or the gateway's
// (refused, no-call, not-found, unavailable, …). Events: ready, state, call, parked,
// connection; each is also a DOM event 'parkway:NAME' on the target element, detail = data.
//
// Messages are only taken from the widget's frame on the gateway's origin, and only
// posted to that frame with the gateway's origin as targetOrigin — never "*".
(() => {
  'use strict';
  if (window.Parkway && window.Parkway.embed) return; // loaded twice: keep the first

  const EVENTS = ['ready', 'state', 'call', 'parked', 'connection', 'error'];
  const COMMAND_TIMEOUT = 30_000; // a command the widget never answers (frame gone)
  const script = document.currentScript;
  const scriptOrigin = script && script.src ? new URL(script.src, document.baseURI).origin : null;
  const widgets = new WeakMap();

  function originOf(url) {
    const u = new URL(url, document.baseURI);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError(`Parkway: gateway ${url} must be http(s)`);
    return u.origin;
  }

  function ticketFrom(opts) {
    if (typeof opts.getTicket === 'function') return opts.getTicket;
    if (typeof opts.ticketUrl === 'string') {
      const url = opts.ticketUrl;
      return async () => {
        const resp = await fetch(url, { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' } });
        if (!resp.ok) throw new Error(`Parkway: ${url} answered ${resp.status}`);
        const body = await resp.json();
        if (!body || typeof body.ticket !== 'string') throw new Error(`Parkway: ${url} gave no ticket`);
        return body.ticket;
      };
    }
    if (typeof opts.ticket === 'string') {
      let ticket = opts.ticket;
      return async () => {
        if (ticket === null) throw new Error('Parkway: the widget needs a new ticket; pass getTicket or ticketUrl to give it one');
        const t = ticket;
        ticket = null; // single-use
        return t;
      };
    }
    throw new TypeError('Parkway.embed: options need getTicket, ticketUrl or ticket');
  }

  // firstAnswering is the first of gateways whose /healthz answers at all (an opaque
  // answer will do: only a network error means the gateway is not there), or the first
  // of them when none does within PROBE_TIMEOUT.
  const PROBE_TIMEOUT = 3000;
  async function firstAnswering(gateways) {
    for (const g of gateways) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), PROBE_TIMEOUT);
      try {
        await fetch(`${g}/healthz`, { mode: 'no-cors', cache: 'no-store', credentials: 'omit', signal: ctl.signal });
        return g;
      } catch {
        // not there: try the next
      } finally {
        clearTimeout(timer);
      }
    }
    return gateways[0];
  }

  class Widget {
    constructor(element, opts) {
      this.element = element;
      const gateways = Array.isArray(opts.gateways) && opts.gateways.length > 0 ? opts.gateways.map(originOf) : [originOf(opts.gateway || scriptOrigin || '')];
      this.gateway = gateways[0];
      this._getTicket = ticketFrom(opts);
      this._handlers = new Map(EVENTS.map((e) => [e, new Set()]));
      this._pending = new Map();
      this._seq = 0;
      this._retried = false; // a fresh ticket was tried after one expired
      this.ready = false;

      const iframe = document.createElement('iframe');
      iframe.title = opts.title || 'Parkway softphone';
      iframe.allow = 'microphone; autoplay';
      // The widget learns this page's origin from the browser; no path or query leaks.
      iframe.referrerPolicy = 'strict-origin';
      iframe.width = String(opts.width || 320);
      iframe.height = String(opts.height || 480);
      iframe.style.border = '0';
      iframe.style.colorScheme = 'normal';
      this.iframe = iframe;

      this._onMessage = (ev) => this._receive(ev);
      window.addEventListener('message', this._onMessage);
      widgets.set(element, this);
      const mount = (g) => {
        if (widgets.get(element) !== this) return; // destroyed while the gateways were probed
        this.gateway = g;
        iframe.src = `${g}/widget.html`;
        element.appendChild(iframe);
      };
      if (gateways.length === 1) mount(gateways[0]);
      else firstAnswering(gateways).then(mount);
    }

    // command sends one command and settles with the widget's answer.
    command(name, args = {}) {
      const id = `c${++this._seq}`;
      if (!this.ready) {
        // Before 'ready' the frame may still be loading, and a message posted to it now
        // would be dropped by the browser rather than answered.
        return Promise.reject(Object.assign(new Error('Parkway: the widget is not ready yet; wait for its ready event'), { code: 'not-ready' }));
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this._pending.delete(id);
          reject(Object.assign(new Error(`Parkway: ${name} had no answer`), { code: 'timeout' }));
        }, COMMAND_TIMEOUT);
        this._pending.set(id, { resolve, reject, timer });
        this._post({ type: 'parkway:command', id, command: name, args });
      });
    }

    on(event, fn) {
      const set = this._handlers.get(event);
      if (!set) throw new TypeError(`Parkway: no event ${event}; there are ${EVENTS.join(', ')}`);
      set.add(fn);
      return () => set.delete(fn);
    }

    off(event, fn) {
      this._handlers.get(event)?.delete(fn);
    }

    destroy() {
      window.removeEventListener('message', this._onMessage);
      for (const [, p] of this._pending) {
        clearTimeout(p.timer);
        p.reject(Object.assign(new Error('Parkway: the widget was removed'), { code: 'destroyed' }));
      }
      this._pending.clear();
      this.iframe.remove();
      widgets.delete(this.element);
    }

    _post(msg) {
      const win = this.iframe.contentWindow;
      if (win) win.postMessage(msg, this.gateway);
    }

    _emit(event, data) {
      for (const fn of this._handlers.get(event) || []) {
        try {
          fn(data);
        } catch (err) {
          console.error('Parkway: a handler for', event, 'threw', err);
        }
      }
      this.element.dispatchEvent(new CustomEvent(`parkway:${event}`, { detail: data }));
    }

    async _sendTicket() {
      try {
        const ticket = await this._getTicket();
        this._post({ type: 'parkway:ticket', ticket });
      } catch (err) {
        this._emit('error', { code: 'no-ticket', message: String(err && err.message ? err.message : err) });
      }
    }

    _receive(ev) {
      // Only the widget's own frame, only from the gateway's origin.
      if (ev.source !== this.iframe.contentWindow || ev.origin !== this.gateway) return;
      const m = ev.data;
      if (!m || typeof m !== 'object') return;
      switch (m.type) {
        case 'parkway:need-ticket':
          this._sendTicket();
          return;
        case 'parkway:event':
          if (!EVENTS.includes(m.event) || m.event === 'error') return;
          if (m.event === 'ready') {
            this.ready = true;
            this._retried = false;
          }
          // Signed out, the widget asks for a new ticket and restarts; it says ready again.
          if (m.event === 'connection' && m.data && m.data.state === 'signed-out') this.ready = false;
          this._emit(m.event, m.data);
          return;
        case 'parkway:result':
        case 'parkway:error': {
          const p = m.id === null || m.id === undefined ? null : this._pending.get(m.id);
          if (!p) {
            // Not an answer to a command (a refused ticket, say): an error event.
            if (m.type === 'parkway:error') {
              this._emit('error', { code: m.code, message: m.message, field: m.field });
              // A ticket that expired on the way (a slow page) is worth one fresh try.
              if (m.code === 'ticket-expired' && !this._retried) {
                this._retried = true;
                this._sendTicket();
              }
            }
            return;
          }
          this._pending.delete(m.id);
          clearTimeout(p.timer);
          if (m.type === 'parkway:result') {
            const out = { ok: true };
            if (m.call) out.call = m.call;
            p.resolve(out);
          } else {
            const err = new Error(m.message || m.code);
            err.code = m.code;
            if (m.field) err.field = m.field;
            p.reject(err);
          }
          return;
        }
        default:
      }
    }
  }

  function embed(target, options = {}) {
    const element = typeof target === 'string' ? document.querySelector(target) : target;
    if (!(element instanceof Element)) throw new TypeError(`Parkway.embed: no element ${target}`);
    return new Widget(element, options);
  }

  window.Parkway = Object.freeze({
    embed,
    // widget returns the widget embedded in element (the script-tag form makes one).
    widget: (element) => widgets.get(typeof element === 'string' ? document.querySelector(element) : element),
  });

  // The script-tag form.
  if (script && script.dataset.target) {
    const d = script.dataset;
    const start = () => {
      const el = document.querySelector(d.target);
      if (!el) {
        console.error(`Parkway: data-target ${d.target} matches nothing`);
        return;
      }
      const gateways = d.gateways ? d.gateways.split(/[\s,]+/).filter(Boolean) : undefined; // data-gateways="https://gw1 https://gw2"
      const w = embed(el, { gateway: d.gateway || scriptOrigin, gateways, ticketUrl: d.ticketUrl, title: d.title, width: d.width, height: d.height });
      el.dispatchEvent(new CustomEvent('parkway:embedded', { detail: w }));
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
    else start();
  }
})();
