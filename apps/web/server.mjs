#!/usr/bin/env node
// The dashboard's HTTP server: Next.js behind node:http, so that the socket's address reaches the
// app. `next start` hands a route handler no socket, and fills X-Forwarded-For with the peer's
// address only when the request carries none, so a client could choose the address that sign-in
// throttling counts. Here every request gets `x-cider-peer` set to the socket's address (any copy
// the client sent is replaced); packages/api's request facts take it as the caller's address
// unless CIDER_TRUST_PROXY says reverse proxies stand in front.
//
//   node server.mjs [--port 3000] [--hostname 127.0.0.1]      (or PORT / HOSTNAME)
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import next from 'next';

const peerHeader = 'x-cider-peer';

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 && process.argv[index + 1] ? process.argv[index + 1] : fallback;
}

const port = Number(option('port', process.env.PORT ?? '3000'));
const hostname = option('hostname', process.env.HOSTNAME ?? '127.0.0.1');
const dir = fileURLToPath(new URL('.', import.meta.url));

const app = next({ dev: false, dir, hostname, port });
await app.prepare();
const handle = app.getRequestHandler();

// Next.js drops Content-Length from a route handler's response (send-response.js, since the
// body may have been decoded); a bundle download knows its exact size before its first byte and
// says so in `x-cider-content-length`, which becomes Content-Length here: the browser shows real
// progress, and a download cut short is seen to be incomplete.
const lengthHeader = 'x-cider-content-length';
function restoreContentLength(res) {
  const setHeader = res.setHeader.bind(res);
  const appendHeader = res.appendHeader.bind(res);
  const isLength = (name) => String(name).toLowerCase() === lengthHeader;
  res.setHeader = (name, value) => (isLength(name) ? setHeader('content-length', value) : setHeader(name, value));
  res.appendHeader = (name, value) => (isLength(name) ? setHeader('content-length', value) : appendHeader(name, value));
}

const server = createServer((req, res) => {
  req.headers[peerHeader] = req.socket.remoteAddress ?? '';
  if (req.method === 'GET' && req.url?.startsWith('/api/bundles/')) restoreContentLength(res);
  handle(req, res).catch((error) => {
    console.error('request failed:', error);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('Internal error\n');
  });
});
// A slow client cannot hold a connection open forever (Node's defaults, stated).
server.headersTimeout = 60_000;
server.requestTimeout = 300_000;
server.listen(port, hostname, () => console.log(`Cider Fleet dashboard on http://${hostname}:${port}`));

// A promise nobody awaited: Next.js logs it ("Unhandled Rejection") and the dashboard carries on,
// since one request's bug must not stop it. An exception nobody caught: Next.js only logs it, but
// it leaves the process in an unknown state, so we also stop taking connections and exit
// non-zero for the supervisor (compose, systemd) to start a fresh one.
process.on('uncaughtException', (error, origin) => {
  console.error(`cider-web: uncaught exception (${origin}); exiting so the supervisor restarts the dashboard:`, error);
  // Set first: once the server is closed the event loop may simply run dry and end the process.
  process.exitCode = 1;
  server.close();
  setTimeout(() => process.exit(1), 2_000).unref();
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    // Live-event streams stay open; do not wait for them.
    setTimeout(() => process.exit(0), 5_000).unref();
    server.closeIdleConnections();
  });
}
