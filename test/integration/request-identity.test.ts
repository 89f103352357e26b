/**
 * What a request's entry is keyed by, against hostile requests (issue 14,
 * items 2, 3 and 6): a foreign Host can never change what another host's
 * requests see (the host is part of the entry's identity; with `hosts`, other
 * hosts bypass the cache), warmup can be told the public host; the `query`
 * allowlist keys what the handler can read through req.query whatever the
 * parser (qs on Express 4 and on Express 5 with 'extended'); and a background
 * refresh behind an address-based 'trust proxy' sees the request as the
 * original did (protocol, host, ip).
 */
import { expect } from 'chai';
import express4 from 'express4';
import type { Express, Request, RequestHandler } from 'express';
import request from 'supertest';
import { createCache } from 'express-cache-aside';
import { storeKinds, useFactory, waitFor, waitForEntries, type AppHandle, type CacheHandle } from '../helpers/app-factory';

/** A handler that builds absolute links from the request, as many apps do. */
function linkHandler(from: (req: Request) => string | undefined): { handler: RequestHandler; calls: () => number } {
  let calls = 0;
  return {
    handler: (req, res) => {
      calls += 1;
      res.json({ self: `${req.protocol}://${from(req)}/items`, n: calls });
    },
    calls: () => calls,
  };
}

for (const storeKind of storeKinds) {
  describe(`request identity: Host (${storeKind} store)`, function () {
    const f = useFactory(`host-${storeKind}`);

    it("a request with a hostile Host never changes what another host's requests get", async function () {
      const h = await f.setup(storeKind);
      const links = linkHandler((req) => req.get('host'));
      h.app.get('/links', h.cache.route({ namespace: 'host' }), links.handler);
      const evil = await h.http().get('/links').set('Host', 'evil.example').expect(200);
      expect(evil.body.self).to.equal('http://evil.example/items');
      await waitForEntries(h);
      const shop = await h.http().get('/links').set('Host', 'shop.example').expect(200);
      expect(shop.headers['x-cache'], 'not the evil entry').to.equal('MISS');
      expect(shop.body.self).to.equal('http://shop.example/items');
      await waitForEntries(h, 2);
      const again = await h.http().get('/links').set('Host', 'SHOP.example').expect(200);
      expect(again.headers['x-cache']).to.equal('HIT');
      expect(again.body.self).to.equal('http://shop.example/items');
      const loop = await h.http().get('/links').expect(200);
      expect(loop.body.self, 'a loopback request has its own entry too').to.match(/^http:\/\/127\.0\.0\.1:\d+\/items$/);
      expect(loop.headers['x-cache']).to.equal('MISS');
    });

    it("behind 'trust proxy', neither a hostile Host nor a hostile X-Forwarded-Host reaches another host's entry", async function () {
      const h = await f.setup(storeKind);
      h.app.set('trust proxy', 'loopback');
      const byHost = linkHandler((req) => req.get('host'));
      const byHostname = linkHandler((req) => req.hostname);
      h.app.get('/by-host', h.cache.route({ namespace: 'host' }), byHost.handler);
      h.app.get('/by-hostname', h.cache.route({ namespace: 'host' }), byHostname.handler);
      const proxied = { 'X-Forwarded-Proto': 'https' };
      await h.http().get('/by-host').set(proxied).set('Host', 'evil.example').expect(200);
      // The second answer reflects X-Forwarded-Host, so it is not stored at all; the first is, under evil.example.
      await h.http().get('/by-hostname').set(proxied).set('Host', 'shop.example').set('X-Forwarded-Host', 'evil.example').expect(200);
      await waitForEntries(h, 1);
      const a = await h.http().get('/by-host').set(proxied).set('Host', 'shop.example').expect(200);
      const b = await h.http().get('/by-hostname').set(proxied).set('Host', 'shop.example').expect(200);
      expect(a.body.self).to.equal('https://shop.example/items');
      expect(b.body.self).to.equal('https://shop.example/items');
      expect([a.headers['x-cache'], b.headers['x-cache']]).to.deep.equal(['MISS', 'MISS']);
    });

    it('with `hosts`, requests for any other host bypass the cache and store nothing; listed hosts are cached apart', async function () {
      const h = await f.setup(storeKind, { hosts: ['shop.example', 'www.shop.example'] });
      h.app.set('trust proxy', 'loopback');
      const links = linkHandler((req) => req.hostname);
      h.app.get('/links', h.cache.route({ namespace: 'host' }), links.handler);
      for (let i = 0; i < 2; i += 1) {
        const evil = await h.http().get('/links').set('Host', 'evil.example').expect(200);
        expect(evil.headers['x-cache']).to.equal('BYPASS');
      }
      const forwarded = await h.http().get('/links').set('Host', 'evil.example').set('X-Forwarded-Host', 'shop.example').expect(200);
      expect(forwarded.headers['x-cache'], 'the host Express reports (X-Forwarded-Host, trusted) is listed').to.equal('MISS');
      const smuggled = await h.http().get('/links').set('Host', 'shop.example').set('X-Forwarded-Host', 'evil.example').expect(200);
      expect(smuggled.headers['x-cache']).to.equal('MISS');
      expect(smuggled.body.self, 'reflects X-Forwarded-Host: not stored').to.equal('http://evil.example/items');
      const shop = await h.http().get('/links').set('Host', 'shop.example').expect(200);
      expect(shop.headers['x-cache']).to.equal('MISS');
      expect(shop.body.self).to.equal('http://shop.example/items');
      await waitForEntries(h, 1);
      expect((await h.http().get('/links').set('Host', 'shop.example').expect(200)).headers['x-cache']).to.equal('HIT');
      const www = await h.http().get('/links').set('Host', 'www.shop.example').expect(200);
      expect(www.headers['x-cache']).to.equal('MISS');
      expect(www.body.self).to.equal('http://www.shop.example/items');
      expect(h.cache.stats().bypasses).to.equal(2);
    });

    it('rejects a bad `hosts` at createCache', function () {
      expect(() => f.adopt(createCache({ hosts: [] }))).to.throw(TypeError, /"hosts"/);
      expect(() => f.adopt(createCache({ hosts: ['https://shop.example/'] }))).to.throw(TypeError, /"hosts"/);
    });

    it("warmup warms the host it is told; a target's own Host wins; with `hosts` it warms the first by default", async function () {
      const h = await f.setup(storeKind);
      const links = linkHandler((req) => req.get('host'));
      h.app.get('/links', h.cache.route({ namespace: 'host' }), links.handler);
      const report = await h.cache.warmup(h.app, ['/links', { path: '/links', headers: { Host: 'other.example' } }], {
        host: 'shop.example',
      });
      expect(report.ok).to.equal(2);
      const shop = await h.http().get('/links').set('Host', 'shop.example').expect(200);
      expect(shop.headers['x-cache']).to.equal('HIT');
      expect(shop.body.self).to.equal('http://shop.example/items');
      const other = await h.http().get('/links').set('Host', 'other.example').expect(200);
      expect(other.headers['x-cache']).to.equal('HIT');
      expect(other.body.self).to.equal('http://other.example/items');
      expect((await h.http().get('/links').set('Host', 'evil.example').expect(200)).headers['x-cache']).to.equal('MISS');

      const listed = await f.setup(storeKind, { hosts: ['shop.example'] });
      listed.app.get('/links', listed.cache.route({ namespace: 'host' }), linkHandler((req) => req.get('host')).handler);
      expect((await listed.cache.warmup(listed.app, ['/links'])).ok).to.equal(1);
      const warmed = await listed.http().get('/links').set('Host', 'shop.example').expect(200);
      expect(warmed.headers['x-cache']).to.equal('HIT');
      expect(warmed.body.self).to.equal('http://shop.example/items');
      await expectRejectsTypeError(() => listed.cache.warmup(listed.app, ['/links'], { host: 'http://x/' }), /"host"/);
    });
  });

  describe(`request identity: the query allowlist against qs (${storeKind} store)`, function () {
    const f = useFactory(`query-${storeKind}`);

    /** Mounts /items (allowlist: page) and /all (no allowlist) that echo req.query. */
    function mount(app: Express, h: CacheHandle): void {
      app.get('/items', h.cache.route({ namespace: 'q', query: ['page'] }), (req, res) => {
        res.json({ page: req.query.page ?? null });
      });
      app.get('/all', h.cache.route({ namespace: 'q' }), (req, res) => {
        res.json(req.query);
      });
    }

    const hostile = ['/items?page[]=999', '/items?page[x]=1', '/items?page%5B%5D=999', '/items?page%5Bx%5D=2', '/items?page[0]=7'];
    /** page[]=999 and page%5B%5D=999 are the same req.query, so one entry. */
    const hostileEntries = 4;

    async function check(http: () => request.Agent, h: CacheHandle): Promise<void> {
      for (const path of hostile) {
        const poisoned = await http().get(path).expect(200);
        expect(poisoned.body.page, `${path} is read as req.query.page`).to.not.equal(null);
      }
      await waitForEntries(h, hostileEntries);
      const plain = await http().get('/items').expect(200);
      expect(plain.body, '/items is not poisoned').to.deep.equal({ page: null });
      const string = await http().get('/items?page=999').expect(200);
      expect(string.body, 'a string is not an array').to.deep.equal({ page: '999' });
      await waitForEntries(h, hostileEntries + 2);
      const ignored = await http().get('/items?page=999&utm=x').expect(200);
      expect(ignored.headers['x-cache'], 'parameters outside the allowlist still share the entry').to.equal('HIT');
      expect(ignored.body).to.deep.equal({ page: '999' });
      // Without an allowlist, qs reads parameters with brackets in order: they are keyed as sent.
      const ab = await http().get('/all?a=2&a[b]=1').expect(200);
      await waitForEntries(h, hostileEntries + 3);
      const ba = await http().get('/all?a[b]=1&a=2').expect(200);
      expect(ba.body).to.not.deep.equal(ab.body);
      expect(ba.headers['x-cache']).to.equal('MISS');
      await waitForEntries(h, hostileEntries + 4);
      const sorted = await http().get('/all?y=2&x=1').expect(200);
      expect(sorted.body).to.deep.equal({ y: '2', x: '1' });
      await waitForEntries(h, hostileEntries + 5);
      expect((await http().get('/all?x=1&y=2').expect(200)).headers['x-cache'], 'plain names are still sorted').to.equal('HIT');
    }

    it("on Express 5 with the 'extended' (qs) query parser", async function () {
      const h = await f.setup(storeKind);
      h.app.set('query parser', 'extended');
      mount(h.app, h);
      await check(h.http, h);
    });

    it('on Express 4 (qs by default)', async function () {
      const h = await f.cache(storeKind);
      const app = express4();
      mount(app as unknown as Express, h);
      const url = await f.listen(app);
      await check(() => request(url), h);
    });
  });

  describe(`request identity: background refresh behind 'trust proxy' (${storeKind} store)`, function () {
    const f = useFactory(`refresh-proxy-${storeKind}`);

    for (const trust of ['loopback', '127.0.0.0/8'] as const) {
      it(`an https-only app refreshes its https entry with an https answer (trust proxy '${trust}')`, async function () {
        this.timeout(15_000);
        const h: AppHandle = await f.setup(storeKind);
        h.app.set('trust proxy', trust);
        h.app.use((req, res, next) => {
          if (!req.secure) {
            res.redirect(301, `https://${req.get('host')}${req.originalUrl}`);
            return;
          }
          next();
        });
        const seen: Array<{ protocol: string; ip: string | undefined; host: string }> = [];
        h.app.get('/secure', h.cache.route({ namespace: 'tp', ttl: '1s', staleTtl: '1m' }), (req, res) => {
          seen.push({ protocol: req.protocol, ip: req.ip, host: req.hostname });
          res.json({ version: seen.length, protocol: req.protocol });
        });
        const headers = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.7', Host: 'shop.example' };
        const first = await h.http().get('/secure').set(headers).expect(200);
        expect(first.body).to.deep.equal({ version: 1, protocol: 'https' });
        await waitForEntries(h);
        await waitFor(
          'the entry to go stale',
          async () => (await h.http().get('/secure').set(headers)).headers['x-cache'] === 'STALE',
          5000,
          100,
        );
        await waitFor('the background refresh', () => seen.length >= 2, 5000);
        expect(seen[1], 'the refresh saw the request as the original did').to.deep.equal({
          protocol: 'https',
          ip: '203.0.113.7',
          host: 'shop.example',
        });
        await waitFor(
          'the refreshed entry',
          async () => {
            const res = await h.http().get('/secure').set(headers);
            return res.headers['x-cache'] === 'HIT' && res.body.version === 2;
          },
          5000,
          50,
        );
        const hit = await h.http().get('/secure').set(headers).expect(200);
        expect(hit.body.protocol).to.equal('https');
      });
    }
  });
}

async function expectRejectsTypeError(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await run();
  } catch (err) {
    caught = err;
  }
  expect(caught).to.be.instanceOf(TypeError);
  expect(String((caught as Error).message)).to.match(pattern);
}
