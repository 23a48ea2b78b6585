// A host site for the widget specs: it stands in for a CRM that embeds the Parkway widget.
// It serves a page that embeds the widget with embed.js, and plays the host's backend: its
// POST /ticket buys a widget ticket from the gateway's POST /api/tickets with the demo's
// published embed key (`parkway demo --embed-key`, gateway.DemoEmbedKey), so the key never
// reaches the browser. The specs start one on http://127.0.0.2:18788 (on the demo's embed
// allowlist) and one on http://127.0.0.3:18789 (not on it).
//
//   GET  /?user=alice          the script-tag form: data-target, data-ticket-url
//   GET  /?ticket=T            Parkway.embed(el, {ticket: T}): a ticket the spec bought
//   GET  /?user=alice&foreign=URL   also frames URL (a page of another origin)
//   GET  /plain.html           a page with no widget (the foreign frame)
//   POST /ticket?user=alice    {ticket}
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const DEMO_EMBED_KEY = 'parkway-demo-embed-key';

export type Host = { origin: string; close: () => Promise<void> };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(gateway: string, q: URLSearchParams): string {
  const user = q.get('user') ?? 'alice';
  const ticket = q.get('ticket');
  const foreign = q.get('foreign');
  // The page records what the widget tells it, for the specs to read: every event with
  // the time it arrived, and the moment the widget was created.
  const record = `
    window.__events = [];
    window.__t0 = performance.now();
    const el = document.getElementById('phone');
    for (const n of ['ready', 'state', 'call', 'parked', 'connection', 'error'])
      el.addEventListener('parkway:' + n, (e) => window.__events.push({ event: n, data: e.detail, at: performance.now() }));
    el.addEventListener('parkway:embedded', (e) => { window.__widget = e.detail; });`;
  const embed = ticket
    ? `<script src="${esc(gateway)}/embed.js"></script>
       <script>window.__widget = Parkway.embed('#phone', { gateway: ${JSON.stringify(gateway)}, ticket: ${JSON.stringify(ticket)} });</script>`
    : `<script src="${esc(gateway)}/embed.js" data-target="#phone" data-ticket-url="/ticket?user=${encodeURIComponent(user)}"></script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Acme Help Desk — with the Parkway widget</title>
<style>
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: #f6f7f9; color: #1b1f24; }
  header { background: #26324a; color: #fff; padding: .8rem 1.2rem; font-weight: 650; }
  .layout { display: flex; gap: 1.5rem; padding: 1.2rem; align-items: flex-start; }
  main { flex: 1; background: #fff; border: 1px solid #dde1e6; border-radius: 10px; padding: 1rem 1.2rem; }
  main h1 { font-size: 1.2rem; margin: 0 0 .5rem; }
  aside { flex: none; border: 1px solid #dde1e6; border-radius: 12px; overflow: hidden; background: #fff; line-height: 0; }
  dt { font-weight: 600; } dd { margin: 0 0 .5rem; }
</style>
</head>
<body>
<header>Acme Help Desk</header>
<div class="layout">
  <main>
    <h1>Ticket #4711: printer on floor 3 jams</h1>
    <dl><dt>Customer</dt><dd>Bob Example</dd><dt>Phone</dt><dd>bob</dd><dt>Status</dt><dd>Waiting for a call back</dd></dl>
    ${foreign ? `<iframe src="${esc(foreign)}" title="Another site's frame" width="200" height="60"></iframe>` : ''}
  </main>
  <aside id="phone" aria-label="Softphone"></aside>
</div>
<script>${record}</script>
${embed}
</body>
</html>`;
}

// startHost serves the host site on host:port until close.
export async function startHost(host: string, port: number, gateway: string): Promise<Host> {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}:${port}`);
    try {
      if (req.method === 'GET' && url.pathname === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(page(gateway, url.searchParams));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/plain.html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><html lang="en"><title>Another site</title><p>Another site</p></html>');
        return;
      }
      if (req.method === 'POST' && url.pathname === '/ticket') {
        // The host's backend: it knows who is signed in (here: ?user=) and vouches for them.
        const r = await fetch(`${gateway}/api/tickets`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${DEMO_EMBED_KEY}` },
          body: JSON.stringify({ user: url.searchParams.get('user') ?? 'alice' }),
        });
        const body = await r.text();
        res.writeHead(r.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(body);
        return;
      }
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    } catch (err) {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    origin: `http://${addr.address}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
