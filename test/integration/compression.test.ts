/**
 * Compression once: large compressible bodies are stored gzipped and sent
 * as they are to clients that accept gzip; other clients get the identity
 * body, inflated on the spot. Small, binary or already-encoded bodies are
 * stored as they are.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { rawRequest, storeKinds, useFactory, waitForEntries, entryKeys } from '../helpers/app-factory';

const big = { items: Array.from({ length: 300 }, (_, i) => ({ id: i, title: `Course number ${i}`, level: 'beginner' })) };
const bigText = JSON.stringify(big);

for (const storeKind of storeKinds) {
  describe(`compression once (${storeKind} store)`, function () {
    const f = useFactory('compress');

    it('sends the stored gzip body to a client that accepts gzip, and the identical plain body to one that does not', async function () {
      const h = await f.setup(storeKind, { compress: true });
      let calls = 0;
      h.app.get('/big', h.cache.route({ namespace: 'c' }), (_req, res) => {
        calls++;
        res.json(big);
      });
      const miss = await rawRequest(h.url, 'GET', '/big', { 'accept-encoding': 'gzip' });
      expect(miss.headers['x-cache']).to.equal('MISS');
      expect(miss.body.toString()).to.equal(bigText);
      await waitForEntries(h);

      const zipped = await rawRequest(h.url, 'GET', '/big', { 'accept-encoding': 'gzip, deflate, br' });
      expect(zipped.headers['x-cache']).to.equal('HIT');
      expect(zipped.headers['content-encoding']).to.equal('gzip');
      expect(zipped.headers.vary).to.match(/Accept-Encoding/i);
      expect(Number(zipped.headers['content-length'])).to.equal(zipped.body.length);
      expect(zipped.body.length).to.be.lessThan(bigText.length / 3);
      expect(gunzipSync(zipped.body).toString()).to.equal(bigText);

      const plain = await rawRequest(h.url, 'GET', '/big');
      expect(plain.headers['x-cache']).to.equal('HIT');
      expect(plain.headers['content-encoding']).to.equal(undefined);
      expect(plain.body.toString()).to.equal(bigText);
      expect(Number(plain.headers['content-length'])).to.equal(Buffer.byteLength(bigText));

      const refused = await rawRequest(h.url, 'GET', '/big', { 'accept-encoding': 'gzip;q=0, identity' });
      expect(refused.headers['content-encoding']).to.equal(undefined);
      expect(refused.body.toString()).to.equal(bigText);
      expect(calls).to.equal(1);
    });

    it('stores small, incompressible, non-text and already-encoded bodies as they are', async function () {
      const h = await f.setup(storeKind, { compress: { threshold: 2048 } });
      const noise = randomBytes(8192);
      h.app.get('/small', h.cache.route({ namespace: 'c' }), (_req, res) => {
        res.json({ ok: true });
      });
      h.app.get('/noise', h.cache.route({ namespace: 'c' }), (_req, res) => {
        res.type('application/octet-stream').send(noise);
      });
      h.app.get('/png', h.cache.route({ namespace: 'c' }), (_req, res) => {
        res.type('image/png').send(Buffer.alloc(8192, 1));
      });
      h.app.get('/encoded', h.cache.route({ namespace: 'c' }), (_req, res) => {
        res.set('Content-Encoding', 'br').type('text/plain').send(Buffer.alloc(8192, 2));
      });
      const paths = ['/small', '/noise', '/png', '/encoded'];
      for (const [i, path] of paths.entries()) {
        await rawRequest(h.url, 'GET', path);
        await waitForEntries(h, i + 1);
        const hit = await rawRequest(h.url, 'GET', path, { 'accept-encoding': 'gzip' });
        expect(hit.headers['x-cache'], path).to.equal('HIT');
        expect(hit.headers['content-encoding'], path).to.equal(path === '/encoded' ? 'br' : undefined);
        if (path === '/noise') expect(hit.body.equals(noise)).to.equal(true);
      }
    });
  });
}

describe('compression once: Redis memory', function () {
  const f = useFactory('compress-mem');

  it('keeps the entry in Redis smaller than the body', async function () {
    const h = await f.setup('redis', { compress: true });
    h.app.get('/big', h.cache.route({ namespace: 'm' }), (_req, res) => {
      res.json(big);
    });
    await rawRequest(h.url, 'GET', '/big');
    await waitForEntries(h);
    const [key] = await entryKeys(h, 'm');
    const stored = await h.redis!.strlen(key!);
    expect(stored).to.be.lessThan(bigText.length / 3);
  });
});
