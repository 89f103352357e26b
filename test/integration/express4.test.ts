/**
 * The core route behaviour on Express 4 (installed as the `express4` alias):
 * MISS then HIT, byte-identical binary replay, HEAD from the GET entry,
 * conditional requests and read-your-writes invalidation work as on Express 5.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import express4 from 'express4';
import request from 'supertest';
import { binaryParser, rawRequest, storeKinds, useFactory, waitForEntries, type CacheHandle } from '../helpers/app-factory';

for (const storeKind of storeKinds) {
  describe(`Express 4 (${storeKind} store)`, function () {
    const f = useFactory(`express4-${storeKind}`);

    /** An Express 4 app on a fresh cache, listening. */
    async function setup(): Promise<{
      h: CacheHandle;
      app: ReturnType<typeof express4>;
      url: string;
      http: () => ReturnType<typeof request>;
    }> {
      const h = await f.cache(storeKind);
      const app = express4();
      app.use(express4.json());
      const url = await f.listen(app);
      return { h, app, url, http: () => request(url) };
    }

    it('answers MISS then HIT with the same JSON', async function () {
      const { h, app, http } = await setup();
      let calls = 0;
      app.get('/json', h.cache.route({ namespace: 'e4' }), (_req, res) => {
        calls += 1;
        res.set('X-Custom', 'four').json({ version: 4, list: [1, 2] });
      });
      const miss = await http().get('/json').expect(200);
      expect(miss.headers['x-cache']).to.equal('MISS');
      await waitForEntries(h);
      const hit = await http().get('/json').expect(200);
      expect(hit.headers['x-cache']).to.equal('HIT');
      expect(hit.text).to.equal(miss.text);
      expect(hit.headers['content-type']).to.equal(miss.headers['content-type']);
      expect(hit.headers['x-custom']).to.equal('four');
      expect(hit.headers.age).to.match(/^\d+$/);
      expect(calls).to.equal(1);
    });

    it('replays a binary body written in chunks byte for byte, and answers HEAD from it', async function () {
      const { h, app, url, http } = await setup();
      const body = randomBytes(64 * 1024);
      let calls = 0;
      app.get('/bin', h.cache.route({ namespace: 'e4' }), (_req, res) => {
        calls += 1;
        res.status(200).type('application/octet-stream');
        res.write(body.subarray(0, 1000));
        res.write(body.subarray(1000, 50_000));
        res.write(body.subarray(50_000));
        res.end();
      });
      const miss = await http().get('/bin').buffer(true).parse(binaryParser);
      expect(miss.headers['x-cache']).to.equal('MISS');
      expect((miss.body as Buffer).equals(body)).to.equal(true);
      await waitForEntries(h);
      const hit = await http().get('/bin').buffer(true).parse(binaryParser);
      expect(hit.headers['x-cache']).to.equal('HIT');
      expect((hit.body as Buffer).equals(body), 'byte-identical replay').to.equal(true);
      expect(hit.headers['content-type']).to.equal('application/octet-stream');

      const head = await rawRequest(url, 'HEAD', '/bin');
      expect(head.status).to.equal(200);
      expect(head.headers['x-cache']).to.equal('HIT');
      expect(Number(head.headers['content-length'])).to.equal(body.length);
      expect(head.body.length, 'bytes after the HEAD response headers').to.equal(0);
      expect(calls).to.equal(1);
    });

    it('answers a matching If-None-Match with 304 from the entry', async function () {
      const { h, app, http } = await setup();
      let calls = 0;
      app.get('/etag', h.cache.route({ namespace: 'e4' }), (_req, res) => {
        calls += 1;
        res.send('express 4 entity');
      });
      const miss = await http().get('/etag').expect(200);
      const etag = miss.headers.etag as string;
      expect(etag).to.be.a('string');
      await waitForEntries(h);
      await http().get('/etag').set('If-None-Match', etag).expect(304);
      const changed = await http().get('/etag').set('If-None-Match', '"nope"').expect(200);
      expect(changed.text).to.equal('express 4 entity');
      expect(calls).to.equal(1);
    });

    it('invalidates on a 2xx mutation (read-your-writes) and not on a 4xx', async function () {
      const { h, app, http } = await setup();
      let title = 'v1';
      app.get('/courses', h.cache.route({ namespace: 'courses', key: 'list' }), (_req, res) => {
        res.json({ title });
      });
      app.put('/courses', h.cache.invalidate({ namespaces: ['courses'] }), (req, res) => {
        const next = (req.body as { title?: string }).title;
        if (!next) {
          res.status(422).json({ error: 'title required' });
          return;
        }
        title = next;
        res.json({ ok: true });
      });
      await http().get('/courses').expect(200);
      await waitForEntries(h);
      await http().put('/courses').send({}).expect(422);
      const stillCached = await http().get('/courses').expect(200);
      expect(stillCached.headers['x-cache']).to.equal('HIT');
      await http().put('/courses').send({ title: 'v2' }).expect(200);
      const fresh = await http().get('/courses').expect(200);
      expect(fresh.headers['x-cache']).to.equal('MISS');
      expect(fresh.body).to.deep.equal({ title: 'v2' });
    });
  });
}
