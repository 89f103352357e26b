/**
 * Behaviour tests of cache.route's capture and replay: whatever way a handler
 * writes its response (res.write chunks, res.json, res.send with a string or
 * a Buffer, a piped stream), a hit replays status, headers and body byte for
 * byte, with Age and the cache header; HEAD and conditional requests are
 * answered from the GET entry. Runs against the Redis and the memory store.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import type { RequestHandler } from 'express';
import type request from 'supertest';
import { binaryParser, rawRequest, sleep, storeKinds, useFactory, waitForEntries, type AppHandle } from '../helpers/app-factory';

/** GETs a path as raw bytes. */
function getBinary(h: AppHandle, path: string, headers: Record<string, string> = {}): Promise<request.Response> {
  return h.http().get(path).set(headers).buffer(true).parse(binaryParser);
}

/** Mounts a cached GET route with a call counter; returns the counter. */
function mount(
  h: AppHandle,
  path: string,
  handler: RequestHandler,
  routeOptions: { statuses?: number[]; ttl?: string } = {},
): { calls: number } {
  const counter = { calls: 0 };
  h.app.get(path, h.cache.route({ namespace: 'capture', ...routeOptions }), (req, res, next) => {
    counter.calls += 1;
    return handler(req, res, next);
  });
  return counter;
}

/** A MISS then (once stored) a HIT of the same path, both as raw bytes. */
async function missThenHit(h: AppHandle, path: string): Promise<{ miss: request.Response; hit: request.Response }> {
  const miss = await getBinary(h, path);
  expect(miss.headers['x-cache'], 'first request').to.equal('MISS');
  await waitForEntries(h);
  const hit = await getBinary(h, path);
  expect(hit.headers['x-cache'], 'second request').to.equal('HIT');
  return { miss, hit };
}

/** The hit must carry the same status, content type, custom header and bytes as the miss. */
function expectSameResponse(miss: request.Response, hit: request.Response, expectedBody: Buffer): void {
  expect(Buffer.isBuffer(miss.body)).to.equal(true);
  expect((miss.body as Buffer).equals(expectedBody), 'miss body').to.equal(true);
  expect((hit.body as Buffer).equals(expectedBody), 'hit body is byte-identical').to.equal(true);
  expect(hit.status).to.equal(miss.status);
  expect(hit.headers['content-type']).to.equal(miss.headers['content-type']);
  expect(hit.headers['x-custom']).to.equal(miss.headers['x-custom']);
  expect(hit.headers['x-custom']).to.be.a('string');
}

for (const storeKind of storeKinds) {
  describe(`route capture and replay (${storeKind} store)`, function () {
    const f = useFactory(`capture-${storeKind}`);

    it('replays a 64 KiB random binary body written in three res.write chunks byte for byte', async function () {
      const h = await f.setup(storeKind);
      const body = randomBytes(64 * 1024);
      const counter = mount(h, '/bin', (_req, res) => {
        res.status(200).type('application/octet-stream').set('X-Custom', 'binary');
        res.write(body.subarray(0, 10_000));
        res.write(body.subarray(10_000, 40_000));
        res.write(body.subarray(40_000));
        res.end();
      });
      const { miss, hit } = await missThenHit(h, '/bin');
      expectSameResponse(miss, hit, body);
      expect(hit.headers['content-type']).to.equal('application/octet-stream');
      expect(counter.calls).to.equal(1);
    });

    it('replays res.json byte for byte, with a non-200 status listed in statuses', async function () {
      const h = await f.setup(storeKind);
      const payload = { title: 'Café ✓ 日本', list: [1, 2, 3], nested: { ok: true, none: null } };
      const counter = mount(
        h,
        '/json',
        (_req, res) => {
          res.status(203).set('X-Custom', 'json').json(payload);
        },
        { statuses: [203] },
      );
      const { miss, hit } = await missThenHit(h, '/json');
      expectSameResponse(miss, hit, Buffer.from(JSON.stringify(payload)));
      expect(hit.status).to.equal(203);
      expect(hit.headers['content-type']).to.match(/^application\/json/);
      expect(JSON.parse((hit.body as Buffer).toString('utf8'))).to.deep.equal(payload);
      expect(counter.calls).to.equal(1);
    });

    it('replays res.send(string) byte for byte', async function () {
      const h = await f.setup(storeKind);
      const text = '<p>héllo — wörld ✓</p>';
      const counter = mount(h, '/text', (_req, res) => {
        res.set('X-Custom', 'text').send(text);
      });
      const { miss, hit } = await missThenHit(h, '/text');
      expectSameResponse(miss, hit, Buffer.from(text, 'utf8'));
      expect(hit.headers['content-type']).to.equal('text/html; charset=utf-8');
      expect(counter.calls).to.equal(1);
    });

    it('replays res.send(Buffer) byte for byte', async function () {
      const h = await f.setup(storeKind);
      const bytes = randomBytes(5000);
      const counter = mount(h, '/buffer', (_req, res) => {
        res.set('X-Custom', 'buffer').send(bytes);
      });
      const { miss, hit } = await missThenHit(h, '/buffer');
      expectSameResponse(miss, hit, bytes);
      expect(hit.headers['content-type']).to.equal('application/octet-stream');
      expect(Number(hit.headers['content-length'])).to.equal(bytes.length);
      expect(counter.calls).to.equal(1);
    });

    it('replays a piped stream (Readable.from(...).pipe(res)) byte for byte', async function () {
      const h = await f.setup(storeKind);
      const chunks = [Buffer.from('first line\n'), randomBytes(3000), Buffer.from('\u00ff\u0000 last', 'latin1')];
      const counter = mount(h, '/stream', (_req, res) => {
        res.status(200).type('text/plain').set('X-Custom', 'stream');
        Readable.from(chunks).pipe(res);
      });
      const { miss, hit } = await missThenHit(h, '/stream');
      expectSameResponse(miss, hit, Buffer.concat(chunks));
      expect(counter.calls).to.equal(1);
    });

    it('adds a numeric Age on a hit that counts seconds since the entry was stored', async function () {
      const h = await f.setup(storeKind);
      mount(
        h,
        '/age',
        (_req, res) => {
          res.set('X-Custom', 'age').send('aged');
        },
        { ttl: '1m' },
      );
      const { hit } = await missThenHit(h, '/age');
      expect(hit.headers.age).to.match(/^\d+$/);
      expect(Number(hit.headers.age)).to.be.within(0, 1);
      await sleep(1100);
      const later = await getBinary(h, '/age');
      expect(later.headers['x-cache']).to.equal('HIT');
      expect(later.headers.age).to.match(/^\d+$/);
      expect(Number(later.headers.age)).to.be.within(1, 3);
    });

    it('sends no cache header with header: false, yet still caches', async function () {
      const h = await f.setup(storeKind, { header: false });
      const counter = mount(h, '/quiet', (_req, res) => {
        res.send('quiet');
      });
      const miss = await getBinary(h, '/quiet');
      await waitForEntries(h);
      const hit = await getBinary(h, '/quiet');
      expect(miss.headers).to.not.have.property('x-cache');
      expect(hit.headers).to.not.have.property('x-cache');
      expect((hit.body as Buffer).toString()).to.equal('quiet');
      expect(hit.headers.age, 'served from the cache').to.match(/^\d+$/);
      expect(counter.calls).to.equal(1);
    });

    it('uses a custom header name', async function () {
      const h = await f.setup(storeKind, { header: 'X-Edge-Cache' });
      mount(h, '/named', (_req, res) => {
        res.send('named');
      });
      const miss = await getBinary(h, '/named');
      await waitForEntries(h);
      const hit = await getBinary(h, '/named');
      expect(miss.headers['x-edge-cache']).to.equal('MISS');
      expect(hit.headers['x-edge-cache']).to.equal('HIT');
      expect(miss.headers).to.not.have.property('x-cache');
      expect(hit.headers).to.not.have.property('x-cache');
    });

    it('answers HEAD after a GET miss from the entry: HIT headers, no body', async function () {
      const h = await f.setup(storeKind);
      const body = randomBytes(2048);
      const counter = mount(h, '/head', (_req, res) => {
        res.set('X-Custom', 'head').type('application/octet-stream').send(body);
      });
      const miss = await getBinary(h, '/head');
      expect(miss.headers['x-cache']).to.equal('MISS');
      await waitForEntries(h);
      const head = await rawRequest(h.url, 'HEAD', '/head');
      expect(head.status).to.equal(200);
      expect(head.headers['x-cache']).to.equal('HIT');
      expect(head.headers['content-type']).to.equal('application/octet-stream');
      expect(head.headers['x-custom']).to.equal('head');
      expect(Number(head.headers['content-length'])).to.equal(body.length);
      expect(head.body.length, 'bytes after the HEAD response headers').to.equal(0);
      expect(counter.calls).to.equal(1);
    });

    it('does not store a HEAD on a cold entry: the next GET is a MISS', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/cold-head', (_req, res) => {
        res.send('full body');
      });
      const head = await rawRequest(h.url, 'HEAD', '/cold-head');
      expect(head.status).to.equal(200);
      expect(head.headers['x-cache']).to.not.equal('HIT');
      await sleep(150);
      const get = await getBinary(h, '/cold-head');
      expect(get.headers['x-cache']).to.equal('MISS');
      expect((get.body as Buffer).toString()).to.equal('full body');
      expect(counter.calls).to.equal(2);
    });

    it('answers If-None-Match matching the stored ETag with 304 and no body; a non-matching one with 200', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/etag', (_req, res) => {
        res.send('entity with a weak etag');
      });
      const miss = await getBinary(h, '/etag');
      const etag = miss.headers.etag as string | undefined;
      expect(etag, 'Express sets a weak ETag for res.send').to.match(/^W\/"/);
      await waitForEntries(h);

      const notModified = await rawRequest(h.url, 'GET', '/etag', { 'If-None-Match': etag as string });
      expect(notModified.status).to.equal(304);
      expect(notModified.body.length, 'bytes after the 304 headers').to.equal(0);
      expect(notModified.headers.etag).to.equal(etag);

      const listed = await getBinary(h, '/etag', { 'If-None-Match': `"other", ${etag as string}` });
      expect(listed.status, 'a list containing the ETag matches').to.equal(304);

      const changed = await getBinary(h, '/etag', { 'If-None-Match': 'W/"not-the-same"' });
      expect(changed.status).to.equal(200);
      expect(changed.headers['x-cache']).to.equal('HIT');
      expect((changed.body as Buffer).toString()).to.equal('entity with a weak etag');
      expect(counter.calls, 'all conditional requests were answered from the entry').to.equal(1);
    });
  });
}
