// Restore-image sizes, learned from each URL (a real server on 127.0.0.1): in the catalog's order,
// an error in words for a URL that does not answer, a few requests at a time, no more than
// maxSizedImages images, and one deadline for the whole listing.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RestoreImage } from './types.ts';
import { maxSizedImages, restoreImageSizes } from './sizes.ts';

/** Answers `Range: bytes=0-0` for /<size>.ipsw with that size after `delayMs`; 404 otherwise. */
async function sizeServer(delayMs = 0): Promise<{ url: (path: string) => string; inFlight: () => number; peak: () => number; requests: () => number; server: Server }> {
  let inFlight = 0;
  let peak = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    peak = Math.max(peak, ++inFlight);
    setTimeout(() => {
      inFlight--;
      const size = /^\/(\d+)\.ipsw$/.exec(req.url ?? '')?.[1];
      if (!size) return res.writeHead(404).end();
      res.writeHead(206, { 'content-range': `bytes 0-0/${size}`, 'content-length': '1' }).end('x');
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: (path) => `http://127.0.0.1:${port}${path}`, inFlight: () => inFlight, peak: () => peak, requests: () => requests, server };
}

const image = (url: string, build = 'B'): RestoreImage => ({ version: '15.2', build, url, devices: [] });

describe('restore-image sizes', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  it('gives each size in order, and for a URL that does not answer, why', async () => {
    const s = await sizeServer();
    server = s.server;
    const sizes = await restoreImageSizes([image(s.url('/17000000000.ipsw')), image(s.url('/missing.ipsw')), image('http://127.0.0.1:9/refused.ipsw'), image(s.url('/1234.ipsw'))], { source: { retryBaseMs: 1, retryMaxMs: 5 } });
    expect(sizes[0]).toEqual({ size: 17_000_000_000 });
    expect(sizes[1]!.error).toMatch(/missing\.ipsw was not found \(HTTP 404\)/);
    expect(sizes[2]!.error).toMatch(/connection refused/);
    expect(sizes[3]).toEqual({ size: 1234 });
  });

  it('asks a few URLs at a time, and no more than maxSizedImages', async () => {
    const s = await sizeServer(20);
    server = s.server;
    const images = Array.from({ length: maxSizedImages + 3 }, (_, i) => image(s.url(`/${1000 + i}.ipsw`), `B${i}`));
    const sizes = await restoreImageSizes(images, { concurrency: 3 });
    expect(s.peak()).toBe(3);
    expect(s.requests()).toBe(maxSizedImages);
    expect(sizes.slice(0, maxSizedImages).map((r) => r.size)).toEqual(images.slice(0, maxSizedImages).map((_, i) => 1000 + i));
    expect(sizes.at(-1)).toEqual({ error: `not sized: only the first ${maxSizedImages} images are` });
  });

  it('stops at its deadline, saying which images it did not size', async () => {
    const s = await sizeServer(2_000);
    server = s.server;
    const started = Date.now();
    const sizes = await restoreImageSizes([image(s.url('/1.ipsw')), image(s.url('/2.ipsw'))], { timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(sizes).toEqual([{ error: 'not sized: the listing ran out of time' }, { error: 'not sized: the listing ran out of time' }]);
  });
});
