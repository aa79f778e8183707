// A stand-in for Apple's restore-image catalog and download server, for the end-to-end tests:
// on loopback only, it serves a catalog in Apple's format (apple/types.ts) listing one synthetic
// IPSW, and that IPSW with Range, ETag and If-Range as Apple's CDN does, at a capped rate so the
// dashboard's progress bar has time to be seen. Web and control get its catalog as
// CIDER_APPLE_CATALOG_URL.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface AppleMirror {
  catalogUrl: string;
  ipswUrl: string;
  version: string;
  build: string;
  close(): Promise<void>;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Apple's catalog layout: MobileDeviceSoftwareVersionsByVersion > n > MobileDeviceSoftwareVersions > device > build > Restore. */
function catalogXml(entry: { version: string; build: string; url: string; sha1: string }): string {
  const restore = `<dict><key>Restore</key><dict><key>BuildVersion</key><string>${escapeXml(entry.build)}</string><key>FirmwareSHA1</key><string>${entry.sha1}</string><key>FirmwareURL</key><string>${escapeXml(entry.url)}</string><key>ProductVersion</key><string>${escapeXml(entry.version)}</string></dict></dict>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>MobileDeviceSoftwareVersionsByVersion</key><dict><key>1</key><dict><key>MobileDeviceSoftwareVersions</key><dict><key>VirtualMac2,1</key><dict><key>${escapeXml(entry.build)}</key>${restore}</dict></dict></dict></dict></dict></plist>
`;
}

/** Passes bytes on at no more than `bytesPerSecond`. */
function throttle(bytesPerSecond: number): Transform {
  const started = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      sent += chunk.length;
      const due = started + (sent / bytesPerSecond) * 1000;
      setTimeout(() => callback(null, chunk), Math.max(0, due - Date.now()));
    },
  });
}

export async function startAppleMirror(options: { ipswPath: string; version: string; build: string; bytesPerSecond?: number }): Promise<AppleMirror> {
  const size = (await stat(options.ipswPath)).size;
  const sha1 = await new Promise<string>((resolve, reject) => {
    const hash = createHash('sha1');
    createReadStream(options.ipswPath).on('data', (chunk) => hash.update(chunk)).on('end', () => resolve(hash.digest('hex'))).on('error', reject);
  });
  const etag = `"${sha1.slice(0, 16)}"`;
  const name = basename(options.ipswPath);
  let catalog = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://mirror').pathname;
    if (path === '/catalog.xml') {
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(catalog) }).end(catalog);
      return;
    }
    if (path !== `/ipsw/${name}`) {
      res.writeHead(404).end('not found');
      return;
    }
    const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const current = req.headers['if-range'] === undefined || req.headers['if-range'] === etag;
    const start = match && current ? Number(match[1]) : 0;
    const end = match && current && match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
    if (start > end) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    const partial = Boolean(match && current);
    res.writeHead(partial ? 206 : 200, {
      'accept-ranges': 'bytes',
      etag,
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      ...(partial ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = createReadStream(options.ipswPath, { start, end });
    const sent = options.bytesPerSecond ? pipeline(body, throttle(options.bytesPerSecond), res) : pipeline(body, res);
    void sent.catch(() => {}); // the client went away (a cancelled task): nothing to tell anyone
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ipswUrl = `${origin}/ipsw/${name}`;
  catalog = catalogXml({ version: options.version, build: options.build, url: ipswUrl, sha1 });
  return {
    catalogUrl: `${origin}/catalog.xml`,
    ipswUrl,
    version: options.version,
    build: options.build,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
