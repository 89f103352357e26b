/**
 * HTTP fidelity of a replayed response (issue 14, items 5, 10 to 13): repeated
 * headers keep their multiplicity and order; hop-by-hop headers are never
 * stored; Age counts the origin's Age plus the time in cache and the origin's
 * Date is replayed unchanged (the cache-tests other-age-update-* and
 * other-date-update* cases); a Vary set in front of the cache (cors) is merged
 * with the stored one; and a Set-Cookie added by a session middleware's
 * on-headers hook (express-session, cookie-session) keeps the response out of
 * the cache. Runs against both stores, with the real middleware packages.
 */
import { expect } from 'chai';
import cookieSession from 'cookie-session';
import cors from 'cors';
import session from 'express-session';
import { rawRequest, sleep, storeKinds, useFactory, waitForEntries, type AppHandle } from '../helpers/app-factory';

/** The values of one header, in the order the raw response head carries them. */
function headerLines(head: string, name: string): string[] {
  const lower = name.toLowerCase();
  return head
    .split('\r\n')
    .slice(1)
    .filter((line) => line.slice(0, line.indexOf(':')).trim().toLowerCase() === lower)
    .map((line) => line.slice(line.indexOf(':') + 1).trim());
}

/** GET over a raw socket: the MISS, then (once stored) the HIT. */
async function rawMissThenHit(
  h: AppHandle,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ miss: string; hit: string; hitBody: Buffer }> {
  const miss = await rawRequest(h.url, 'GET', path, headers);
  expect(miss.headers['x-cache'], 'first request').to.equal('MISS');
  await waitForEntries(h);
  const hit = await rawRequest(h.url, 'GET', path, headers);
  expect(hit.headers['x-cache'], 'second request').to.equal('HIT');
  return { miss: miss.head, hit: hit.head, hitBody: hit.body };
}

for (const storeKind of storeKinds) {
  describe(`HTTP fidelity of replays (${storeKind} store)`, function () {
    const f = useFactory(`fidelity-${storeKind}`);

    it('replays repeated headers (two Link, res.append twice, writeHead with a flat array) with their multiplicity and order', async function () {
      const h = await f.setup(storeKind);
      h.app.get('/append', h.cache.route({ namespace: 'fid' }), (_req, res) => {
        res.append('Link', '</a.css>; rel=preload');
        res.append('Link', '</b.js>; rel=preload');
        res.append('X-A', '1');
        res.append('X-A', '2');
        res.json({ ok: true });
      });
      h.app.get('/flat', h.cache.route({ namespace: 'fid' }), (_req, res) => {
        res.writeHead(200, ['Content-Type', 'text/plain', 'X-B', 'one', 'X-B', 'two', 'X-B', 'three']);
        res.end('flat');
      });
      const append = await rawMissThenHit(h, '/append');
      expect(headerLines(append.miss, 'link')).to.deep.equal(['</a.css>; rel=preload', '</b.js>; rel=preload']);
      expect(headerLines(append.hit, 'link')).to.deep.equal(headerLines(append.miss, 'link'));
      expect(headerLines(append.hit, 'x-a')).to.deep.equal(['1', '2']);
      const flat = await rawMissThenHit(h, '/flat');
      expect(headerLines(flat.miss, 'x-b')).to.deep.equal(['one', 'two', 'three']);
      expect(headerLines(flat.hit, 'x-b')).to.deep.equal(['one', 'two', 'three']);
      expect(flat.hitBody.toString()).to.equal('flat');
    });

    it('never stores or replays hop-by-hop headers, those named in Connection included', async function () {
      const h = await f.setup(storeKind);
      h.app.get('/hop', h.cache.route({ namespace: 'fid' }), (_req, res) => {
        res.setHeader('Connection', 'close, X-Hop-Secret');
        res.setHeader('X-Hop-Secret', 'per-connection');
        res.setHeader('Keep-Alive', 'timeout=5');
        res.setHeader('Proxy-Authenticate', 'Basic realm="proxy"');
        res.setHeader('Proxy-Authorization', 'Basic c2VjcmV0');
        res.setHeader('Proxy-Authentication-Info', 'nextnonce="abc"');
        res.setHeader('TE', 'trailers');
        res.setHeader('Upgrade', 'h2c');
        res.setHeader('X-End-To-End', 'kept');
        res.send('hop');
      });
      const { miss, hit } = await rawMissThenHit(h, '/hop');
      expect(headerLines(miss, 'x-hop-secret'), 'the miss itself is untouched').to.deep.equal(['per-connection']);
      for (const name of [
        'x-hop-secret',
        'keep-alive',
        'proxy-authenticate',
        'proxy-authorization',
        'proxy-authentication-info',
        'te',
        'upgrade',
      ]) {
        expect(headerLines(hit, name), `${name} on the HIT`).to.deep.equal([]);
      }
      expect(headerLines(hit, 'x-end-to-end')).to.deep.equal(['kept']);
    });

    it("adds the time in cache to the origin's Age and replays the origin's Date (cache-tests other-age-update-*, other-date-update*)", async function () {
      this.timeout(15_000);
      const h = await f.setup(storeKind);
      const originDate = new Date(Date.now() - 60_000).toUTCString();
      const expires = new Date(Date.now() + 30 * 24 * 3600_000).toUTCString();
      h.app.get('/aged', h.cache.route({ namespace: 'fid', ttl: '1h' }), (_req, res) => {
        res.setHeader('Age', '30');
        res.setHeader('Date', originDate);
        res.setHeader('Expires', expires);
        res.send('aged');
      });
      h.app.get('/dated', h.cache.route({ namespace: 'fid', ttl: '1h' }), (_req, res) => {
        res.send('dated');
      });
      const aged = await rawRequest(h.url, 'GET', '/aged');
      const dated = await rawRequest(h.url, 'GET', '/dated');
      expect(aged.headers['x-cache']).to.equal('MISS');
      await waitForEntries(h, 2);
      // The cache-tests pause 3 s and expect Age > 32; 2.2 s here gives Age >= 32.
      await sleep(2200);
      const agedHit = await rawRequest(h.url, 'GET', '/aged');
      const datedHit = await rawRequest(h.url, 'GET', '/dated');
      expect(agedHit.headers['x-cache']).to.equal('HIT');
      expect(headerLines(agedHit.head, 'age')).to.have.length(1);
      expect(Number(agedHit.headers.age)).to.be.at.least(32);
      expect(headerLines(agedHit.head, 'date')).to.deep.equal([originDate]);
      expect(headerLines(agedHit.head, 'expires')).to.deep.equal([expires]);
      expect(datedHit.headers['x-cache']).to.equal('HIT');
      expect(headerLines(datedHit.head, 'date'), 'the Date the miss was sent with, not the time of the hit').to.deep.equal([
        dated.headers.date,
      ]);
      expect(Number(datedHit.headers.age)).to.be.at.least(2);
      // A 304 from the entry carries the origin's Date too.
      const etagged = await rawRequest(h.url, 'GET', '/dated', { 'If-None-Match': String(datedHit.headers.etag) });
      expect(etagged.status).to.equal(304);
      expect(headerLines(etagged.head, 'date')).to.deep.equal([dated.headers.date]);
    });

    it('merges the stored Vary with the one cors sets in front of the cache (Origin is kept)', async function () {
      const h = await f.setup(storeKind, { compress: { threshold: 64 } });
      h.app.use(cors({ origin: true }));
      // cors varies its answer on Origin, so the route keys by it (a response with an unkeyed Vary is not stored).
      h.app.get('/cors', h.cache.route({ namespace: 'fid', vary: ['origin'] }), (_req, res) => {
        res.json({ items: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item ${i}` })) });
      });
      const headers = { Origin: 'https://app.example', 'Accept-Encoding': 'gzip' };
      const { miss, hit } = await rawMissThenHit(h, '/cors', headers);
      const names = (head: string): string[] =>
        headerLines(head, 'vary')
          .flatMap((v) => v.split(','))
          .map((s) => s.trim().toLowerCase());
      expect(names(miss)).to.include('origin');
      expect(names(hit), 'Vary on the HIT').to.include.members(['origin', 'accept-encoding']);
      expect(headerLines(hit, 'vary'), 'one Vary line').to.have.length(1);
      expect(headerLines(hit, 'access-control-allow-origin')).to.deep.equal(['https://app.example']);
      const plain = await rawRequest(h.url, 'GET', '/cors', { Origin: 'https://app.example' });
      expect(plain.headers['x-cache'], 'a client without gzip gets the inflated entry').to.equal('HIT');
      expect(names(plain.head)).to.include.members(['origin', 'accept-encoding']);
    });

    it('does not store a response whose Set-Cookie express-session adds in its on-headers hook', async function () {
      const h = await f.setup(storeKind);
      h.app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: true, name: 'sid' }));
      let calls = 0;
      h.app.get('/me', h.cache.route({ namespace: 'fid' }), (req, res) => {
        calls += 1;
        res.json({ session: req.session.id });
      });
      const first = await h.http().get('/me').expect(200);
      expect(String(first.headers['set-cookie'])).to.include('sid=');
      await sleep(storeKind === 'redis' ? 100 : 30);
      const second = await h.http().get('/me').expect(200);
      expect(second.headers['x-cache'], "the second client is not served the first one's session").to.equal('MISS');
      expect(second.body.session).to.not.equal(first.body.session);
      expect(calls).to.equal(2);
    });

    it('does not store a response whose session cookie-session writes in its on-headers hook; one without a cookie is stored', async function () {
      const h = await f.setup(storeKind);
      h.app.use(cookieSession({ name: 'sess', keys: ['k1'] }));
      let calls = 0;
      h.app.get('/visit', h.cache.route({ namespace: 'fid' }), (req, res) => {
        calls += 1;
        // cookie-session's req.session (express-session's declarations type it otherwise).
        const data = req.session as unknown as Record<string, unknown>;
        data.visitor = `v${calls}`;
        res.json({ visitor: data.visitor });
      });
      h.app.get('/plain', h.cache.route({ namespace: 'fid' }), (_req, res) => {
        res.json({ plain: true });
      });
      const first = await h.http().get('/visit').expect(200);
      expect(String(first.headers['set-cookie'])).to.include('sess=');
      await sleep(storeKind === 'redis' ? 100 : 30);
      const second = await h.http().get('/visit').expect(200);
      expect(second.headers['x-cache']).to.equal('MISS');
      expect(second.body.visitor).to.equal('v2');
      const plain = await rawMissThenHit(h, '/plain');
      expect(headerLines(plain.hit, 'set-cookie')).to.deep.equal([]);
    });
  });
}
