/**
 * Safe by default (Varnish's built-in rules, inside Express): requests with
 * Authorization bypass the cache unless the route says how it varies,
 * responses that set cookies or vary on an unkeyed request header are never
 * stored, canary values in forwarding/override/language/origin headers sent
 * on a miss never reach a later normal request (with and without
 * 'trust proxy'), and the query string's share of the key is bounded
 * (`query` option, sorted parameters, long keys hashed). Shared Redis,
 * random prefix per test.
 */
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import compression from 'compression';
import { expect } from 'chai';
import type { Request, RequestHandler } from 'express';
import request from 'supertest';
import { entryKeys, scanKeys, sleep, useFactory, waitForEntries, type AppHandle } from '../helpers/app-factory';
import { keyLayout } from '../helpers/key-layout';
import { escapeGlob } from '../helpers/shared-redis';

/** Long enough for a write that was (wrongly) started to land before we look. */
const SETTLE_MS = 150;

type RouteOptions = Parameters<AppHandle['cache']['route']>[0];

/** Mounts a cached GET route in namespace 'sec' with a call counter. */
function mount(h: AppHandle, path: string, handler: RequestHandler, options: Partial<RouteOptions> = {}): { calls: number } {
  const counter = { calls: 0 };
  h.app.get(path, h.cache.route({ namespace: 'sec', ...options }), (req, res, next) => {
    counter.calls += 1;
    return handler(req, res, next);
  });
  return counter;
}

/** GET with the given request headers. */
function get(h: AppHandle, path: string, headers: Record<string, string> = {}): request.Test {
  return h.http().get(path).set(headers);
}

describe('safe by default: Authorization and Vary', function () {
  const f = useFactory('sec-auth');

  it('a request carrying Authorization is neither served from nor stored in the cache', async function () {
    const h = await f.setup('redis');
    const counter = mount(h, '/doc', (req, res) => {
      res.json({ user: req.headers.authorization ?? 'anonymous' });
    });
    // Cold entry: the authorized request must not fill it.
    const cold = await get(h, '/doc', { Authorization: 'Bearer alice-token' }).expect(200);
    expect(cold.headers['x-cache']).to.equal('BYPASS');
    expect(cold.body).to.deep.equal({ user: 'Bearer alice-token' });
    await sleep(SETTLE_MS);
    expect(await entryKeys(h), 'nothing stored for an authorized request').to.deep.equal([]);

    const anon = await get(h, '/doc').expect(200);
    expect(anon.headers['x-cache']).to.equal('MISS');
    await waitForEntries(h);
    // Warm entry: the authorized request must not be served the anonymous copy.
    const warm = await get(h, '/doc', { Authorization: 'Bearer bob-token' }).expect(200);
    expect(warm.headers['x-cache']).to.equal('BYPASS');
    expect(warm.body).to.deep.equal({ user: 'Bearer bob-token' });
    const anonAgain = await get(h, '/doc').expect(200);
    expect(anonAgain.headers['x-cache']).to.equal('HIT');
    expect(anonAgain.body).to.deep.equal({ user: 'anonymous' });
    expect(counter.calls).to.equal(3);
  });

  it("vary: ['authorization'] caches per credential: one user's entry never reaches another or anonymous", async function () {
    const h = await f.setup('redis');
    const counter = mount(
      h,
      '/me',
      (req, res) => {
        res.json({ user: req.headers.authorization ?? 'anonymous' });
      },
      { vary: ['authorization'] },
    );
    const alice1 = await get(h, '/me', { Authorization: 'Bearer alice-token' }).expect(200);
    expect(alice1.headers['x-cache']).to.equal('MISS');
    await waitForEntries(h);
    const alice2 = await get(h, '/me', { Authorization: 'Bearer alice-token' }).expect(200);
    expect(alice2.headers['x-cache']).to.equal('HIT');
    expect(alice2.body).to.deep.equal({ user: 'Bearer alice-token' });
    const bob = await get(h, '/me', { Authorization: 'Bearer bob-token' }).expect(200);
    expect(bob.headers['x-cache']).to.equal('MISS');
    expect(bob.body).to.deep.equal({ user: 'Bearer bob-token' });
    const anon = await get(h, '/me').expect(200);
    expect(anon.headers['x-cache']).to.equal('MISS');
    expect(anon.body).to.deep.equal({ user: 'anonymous' });
    expect(counter.calls).to.equal(3);
    // The credential is folded in hashed: it never appears in a Redis key.
    for (const key of await entryKeys(h)) expect(key).to.not.include('alice').and.not.include('bob');
  });

  it('shared: true serves and stores requests with Authorization as one shared entry', async function () {
    const h = await f.setup('redis');
    const counter = mount(
      h,
      '/catalog',
      (_req, res) => {
        res.json({ catalog: ['a', 'b'] });
      },
      { shared: true },
    );
    const first = await get(h, '/catalog', { Authorization: 'Bearer alice-token' }).expect(200);
    expect(first.headers['x-cache']).to.equal('MISS');
    await waitForEntries(h);
    const other = await get(h, '/catalog', { Authorization: 'Bearer bob-token' }).expect(200);
    expect(other.headers['x-cache']).to.equal('HIT');
    const anon = await get(h, '/catalog').expect(200);
    expect(anon.headers['x-cache']).to.equal('HIT');
    expect(counter.calls).to.equal(1);
  });

  it('never stores a response whose Vary names a request header the key does not include, nor Vary: *', async function () {
    const h = await f.setup('redis');
    const byLanguage = mount(h, '/lang', (req, res) => {
      res.set('Vary', 'Accept-Language').json({ text: req.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello' });
    });
    const fr = await get(h, '/lang', { 'Accept-Language': 'fr' }).expect(200);
    expect(fr.body).to.deep.equal({ text: 'bonjour' });
    await sleep(SETTLE_MS);
    const en = await get(h, '/lang', { 'Accept-Language': 'en' }).expect(200);
    expect(en.headers['x-cache']).to.equal('MISS');
    expect(en.body).to.deep.equal({ text: 'hello' });
    expect(byLanguage.calls).to.equal(2);

    const star = mount(h, '/star', (_req, res) => {
      res.set('Vary', '*').json({ any: true });
    });
    await get(h, '/star').expect(200);
    await sleep(SETTLE_MS);
    expect((await get(h, '/star').expect(200)).headers['x-cache']).to.equal('MISS');
    expect(star.calls).to.equal(2);
    expect(await entryKeys(h)).to.deep.equal([]);
  });

  it("stores per value when the route's vary holds the header the response varies on", async function () {
    const h = await f.setup('redis');
    const counter = mount(
      h,
      '/lang',
      (req, res) => {
        res.set('Vary', 'Accept-Language').json({ text: req.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello' });
      },
      { vary: ['Accept-Language'] },
    );
    await get(h, '/lang', { 'Accept-Language': 'fr' }).expect(200);
    await waitForEntries(h);
    const fr = await get(h, '/lang', { 'Accept-Language': 'fr' }).expect(200);
    expect(fr.headers['x-cache']).to.equal('HIT');
    expect(fr.body).to.deep.equal({ text: 'bonjour' });
    const en = await get(h, '/lang', { 'Accept-Language': 'en' }).expect(200);
    expect(en.headers['x-cache']).to.equal('MISS');
    expect(en.body).to.deep.equal({ text: 'hello' });
    expect(counter.calls).to.equal(2);
  });

  it('stores an identity-encoded response whose Vary names only Accept-Encoding (the design exempts it)', async function () {
    const h = await f.setup('redis');
    const counter = mount(h, '/plain', (_req, res) => {
      res.set('Vary', 'Accept-Encoding').type('text/plain').send('same bytes for every encoding');
    });
    await get(h, '/plain').expect(200);
    await waitForEntries(h);
    const again = await get(h, '/plain').expect(200);
    expect(again.headers['x-cache'], 'Vary: Accept-Encoding alone must not prevent storing').to.equal('HIT');
    expect(again.text).to.equal('same bytes for every encoding');
    expect(counter.calls).to.equal(1);
  });

  it('with the compression middleware in front (it adds Vary: Accept-Encoding), entries are stored and replayed to gzip and identity clients', async function () {
    const h = await f.setup('redis');
    h.app.use(compression({ threshold: 100 }));
    const text = 'compressible text '.repeat(300);
    const counter = mount(h, '/big', (_req, res) => {
      res.type('text/plain').send(text);
    });
    const first = await get(h, '/big', { 'Accept-Encoding': 'gzip' }).expect(200);
    expect(first.headers['content-encoding']).to.equal('gzip');
    await waitForEntries(h);
    const identity = await get(h, '/big', { 'Accept-Encoding': 'identity' }).expect(200);
    expect(identity.headers['x-cache']).to.equal('HIT');
    expect(identity.headers['content-encoding']).to.equal(undefined);
    expect(identity.text).to.equal(text);
    const gzip = await get(h, '/big', { 'Accept-Encoding': 'gzip' }).expect(200);
    expect(gzip.headers['x-cache']).to.equal('HIT');
    expect(gzip.headers['content-encoding']).to.equal('gzip');
    expect(gzip.text).to.equal(text);
    expect(counter.calls).to.equal(1);
  });

  it('never serves a gzip-encoded body stored for one client to a client that did not ask for gzip', async function () {
    const h = await f.setup('redis');
    const gzipped = gzipSync('hello world!');
    mount(h, '/pre-gzipped', (req, res) => {
      res.set('Vary', 'Accept-Encoding');
      if (String(req.headers['accept-encoding'] ?? '').includes('gzip')) {
        res.set('Content-Encoding', 'gzip').type('text/plain').send(gzipped);
      } else {
        res.type('text/plain').send('hello world!');
      }
    });
    await get(h, '/pre-gzipped', { 'Accept-Encoding': 'gzip' }).expect(200);
    await sleep(SETTLE_MS);
    const identity = await h.http().get('/pre-gzipped').set('Accept-Encoding', 'identity').expect(200);
    expect(identity.headers['content-encoding']).to.equal(undefined);
    expect(identity.text).to.equal('hello world!');
  });
});

describe('safe by default: cookies', function () {
  const f = useFactory('sec-cookie');

  it('requests with cookies are served from and stored in the cache (documented rule)', async function () {
    const h = await f.setup('redis');
    const counter = mount(h, '/page', (_req, res) => {
      res.json({ page: 'public' });
    });
    const withCookie = await get(h, '/page', { Cookie: '_ga=GA1.2.3; theme=dark' }).expect(200);
    expect(withCookie.headers['x-cache']).to.equal('MISS');
    await waitForEntries(h);
    const plain = await get(h, '/page').expect(200);
    expect(plain.headers['x-cache']).to.equal('HIT');
    const otherCookie = await get(h, '/page', { Cookie: 'sid=xyz' }).expect(200);
    expect(otherCookie.headers['x-cache']).to.equal('HIT');
    expect(counter.calls).to.equal(1);
  });

  it("vary: ['cookie'] keys by the cookie: one visitor's entry never reaches another", async function () {
    const h = await f.setup('redis');
    const counter = mount(
      h,
      '/cart',
      (req, res) => {
        res.json({ cart: req.headers.cookie ?? 'none' });
      },
      { vary: ['cookie'] },
    );
    await get(h, '/cart', { Cookie: 'sid=alice' }).expect(200);
    await waitForEntries(h);
    expect((await get(h, '/cart', { Cookie: 'sid=alice' }).expect(200)).headers['x-cache']).to.equal('HIT');
    const bob = await get(h, '/cart', { Cookie: 'sid=bob' }).expect(200);
    expect(bob.headers['x-cache']).to.equal('MISS');
    expect(bob.body).to.deep.equal({ cart: 'sid=bob' });
    expect(counter.calls).to.equal(2);
  });

  const cookieWriters: Array<{ name: string; handler: RequestHandler }> = [
    { name: 'res.cookie', handler: (_req, res) => void res.cookie('sid', 'secret').send('body') },
    { name: 'setHeader with an array', handler: (_req, res) => void res.setHeader('Set-Cookie', ['a=1', 'b=2']).end('body') },
    {
      name: 'writeHead with a headers object',
      handler: (_req, res) => void res.writeHead(200, { 'set-cookie': 'sid=secret', 'content-type': 'text/plain' }).end('body'),
    },
    {
      name: 'writeHead with a raw headers array',
      handler: (_req, res) => void res.writeHead(200, ['Set-Cookie', 'sid=secret', 'Content-Type', 'text/plain']).end('body'),
    },
  ];
  for (const { name, handler } of cookieWriters) {
    it(`never stores a response that sets a cookie (${name})`, async function () {
      const h = await f.setup('redis');
      const counter = mount(h, '/c', handler);
      const first = await get(h, '/c').expect(200);
      expect(first.headers['set-cookie']).to.be.an('array');
      await sleep(SETTLE_MS);
      expect(await entryKeys(h)).to.deep.equal([]);
      const second = await get(h, '/c').expect(200);
      expect(second.headers['x-cache']).to.equal('MISS');
      expect(counter.calls).to.equal(2);
    });
  }

  it('a Set-Cookie response (raw writeHead array) never reaches a coalesced waiter', async function () {
    const h = await f.setup('redis');
    const counter = mount(h, '/login', async (_req, res) => {
      const call = counter.calls;
      await sleep(250);
      res.writeHead(200, ['Set-Cookie', `sid=secret-${call}`, 'Content-Type', 'application/json']);
      res.end(JSON.stringify({ call }));
    });
    const responses = await Promise.all(Array.from({ length: 8 }, () => request(h.url).get('/login')));
    expect(counter.calls).to.equal(8);
    const seen = new Set<number>();
    for (const res of responses) {
      expect(res.status).to.equal(200);
      expect(res.headers['x-cache']).to.not.equal('HIT');
      const call = (res.body as { call: number }).call;
      seen.add(call);
      expect(res.headers['set-cookie']).to.deep.equal([`sid=secret-${call}`]);
    }
    expect(seen.size).to.equal(8);
  });
});

/** The canary headers of the issue, each with a value of its own that shows up nowhere else. */
const canaryHeaders: Array<{ name: string; value: string }> = [
  { name: 'X-Forwarded-Host', value: 'canary-fwd-host.example' },
  { name: 'X-Forwarded-Proto', value: 'canaryproto' },
  { name: 'X-Original-URL', value: '/canary-original-url' },
  { name: 'X-HTTP-Method-Override', value: 'CANARYMETHOD' },
  { name: 'Accept-Language', value: 'canary-LANG' },
  { name: 'Origin', value: 'https://canary-origin.example' },
];

/** Handlers that let a request header reach the response in the ways real apps do. */
const reflectingHandlers: Array<{ name: string; handler: RequestHandler }> = [
  {
    name: "Express's accessors and the raw headers in the body",
    handler: (req, res) => {
      res.json({
        host: req.hostname,
        proto: req.protocol,
        url: req.headers['x-original-url'] ?? req.originalUrl,
        method: req.headers['x-http-method-override'] ?? req.method,
        lang: req.headers['accept-language'] ?? 'default',
        origin: req.headers.origin ?? 'none',
        forwardedHost: req.headers['x-forwarded-host'] ?? 'none',
        forwardedProto: req.headers['x-forwarded-proto'] ?? 'none',
      });
    },
  },
  {
    name: 'response headers only (Link, Content-Language, CORS)',
    handler: (req, res) => {
      res.set('Link', `<${req.protocol}://${req.hostname}/next>; rel="next"`);
      const lang = req.headers['accept-language'];
      if (lang) res.set('Content-Language', lang);
      const origin = req.headers.origin;
      if (origin) res.set('Access-Control-Allow-Origin', origin);
      const override = req.headers['x-http-method-override'] ?? req.headers['x-original-url'];
      if (typeof override === 'string') res.set('X-Handled-As', override);
      res.type('text/plain').send('a neutral body');
    },
  },
];

for (const trustProxy of [false, true]) {
  describe(`safe by default: canaries never reach a later normal request (trust proxy ${trustProxy ? 'on' : 'off'})`, function () {
    const f = useFactory('sec-canary');

    for (const { name: handlerName, handler } of reflectingHandlers) {
      for (const canary of canaryHeaders) {
        it(`${canary.name}, handler reflecting via ${handlerName}`, async function () {
          const h = await f.setup('redis');
          if (trustProxy) h.app.set('trust proxy', true);
          mount(h, '/page', handler);
          const lower = canary.value.toLowerCase();
          const poisoned = await get(h, '/page', { [canary.name]: canary.value }).expect(200);
          expect(poisoned.status).to.equal(200);
          await sleep(SETTLE_MS);
          // Twice: the first normal request may itself be the fill, the second is then a hit.
          for (const attempt of [1, 2]) {
            const normal = await h.http().get('/page').expect(200);
            const seen = `${JSON.stringify(normal.headers)}\n${normal.text}`.toLowerCase();
            expect(seen, `normal request ${attempt} (X-Cache ${String(normal.headers['x-cache'])})`).to.not.include(lower);
            if (attempt === 1) await waitForEntries(h);
          }
        });
      }
    }

    it('a canary the handler reflects JSON-escaped (a quote in the value) never reaches a later normal request', async function () {
      const h = await f.setup('redis');
      if (trustProxy) h.app.set('trust proxy', true);
      mount(h, '/page', (req, res) => {
        res.json({ lang: req.headers['accept-language'] ?? 'default', origin: req.headers.origin ?? 'none' });
      });
      await get(h, '/page', { 'Accept-Language': 'canary"quoted', Origin: 'https://evil.example/"canary' }).expect(200);
      await sleep(SETTLE_MS);
      const normal = await h.http().get('/page').expect(200);
      expect(normal.text, `X-Cache ${String(normal.headers['x-cache'])}`).to.not.include('canary');
      expect(normal.body).to.deep.equal({ lang: 'default', origin: 'none' });
    });

    it('requests carrying X-Original-URL or a method override never share an entry with normal requests', async function () {
      const h = await f.setup('redis');
      if (trustProxy) h.app.set('trust proxy', true);
      // Reflects nothing: keying, not reflection, must keep them apart.
      const counter = mount(h, '/page', (req, res) => {
        const original = req.headers['x-original-url'];
        res.json({ admin: original === '/admin', deleted: req.headers['x-http-method-override'] === 'DELETE' });
      });
      await get(h, '/page', { 'X-Original-URL': '/admin' }).expect(200);
      await get(h, '/page', { 'X-HTTP-Method-Override': 'DELETE' }).expect(200);
      await sleep(SETTLE_MS);
      const normal = await h.http().get('/page').expect(200);
      expect(normal.body).to.deep.equal({ admin: false, deleted: false });
      expect(normal.headers['x-cache']).to.equal('MISS');
      expect(counter.calls).to.equal(3);
    });
  });
}

describe('safe by default: X-Forwarded-* are keyed only when the app trusts the proxy', function () {
  const f = useFactory('sec-fwd');

  it("with 'trust proxy', a request with X-Forwarded-Host gets an entry of its own (keyed even when not reflected)", async function () {
    const h = await f.setup('redis');
    h.app.set('trust proxy', true);
    const counter = mount(h, '/home', (req, res) => {
      // Uses the host without echoing it (chooses a tenant).
      res.json({ tenant: req.hostname.startsWith('tenant-b') ? 'B' : 'A' });
    });
    await get(h, '/home', { 'X-Forwarded-Host': 'tenant-b.example' }).expect(200);
    await sleep(SETTLE_MS);
    const normal = await h.http().get('/home').expect(200);
    expect(normal.body).to.deep.equal({ tenant: 'A' });
    expect(normal.headers['x-cache']).to.equal('MISS');
    expect(counter.calls).to.equal(2);
  });

  it("without 'trust proxy', X-Forwarded-Host is not part of the key (Express ignores it too)", async function () {
    const h = await f.setup('redis');
    const counter = mount(h, '/home', (req, res) => {
      res.json({ tenant: req.hostname.startsWith('tenant-b') ? 'B' : 'A' });
    });
    await h.http().get('/home').expect(200);
    await waitForEntries(h);
    const forwarded = await get(h, '/home', { 'X-Forwarded-Host': 'tenant-b.example' }).expect(200);
    expect(forwarded.headers['x-cache']).to.equal('HIT');
    expect(forwarded.body).to.deep.equal({ tenant: 'A' });
    expect(counter.calls).to.equal(1);
  });
});

describe('query-string cardinality', function () {
  const f = useFactory('sec-query');

  function echoQuery(req: Request): { path: string; query: Array<[string, unknown]> } {
    return { path: req.path, query: Object.entries(req.query).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
  }

  it("query: ['page', 'sort'] keys by those two only, in any order; every other parameter is ignored", async function () {
    const h = await f.setup('redis');
    const counter = mount(
      h,
      '/list',
      (req, res) => {
        res.json({ page: req.query.page ?? null, sort: req.query.sort ?? null });
      },
      { query: ['page', 'sort'] },
    );
    const first = await h.http().get('/list?page=2&sort=price&utm_source=mail&fbclid=abc').expect(200);
    expect(first.headers['x-cache']).to.equal('MISS');
    await waitForEntries(h);
    for (const path of ['/list?sort=price&page=2', '/list?page=2&sort=price&ref=x', '/list?_=123&sort=price&page=2']) {
      const res = await h.http().get(path).expect(200);
      expect(res.headers['x-cache'], path).to.equal('HIT');
      expect(res.body).to.deep.equal({ page: '2', sort: 'price' });
    }
    for (const path of ['/list?page=2', '/list?page=2&sort=name', '/list?page=3&sort=price', '/list']) {
      const res = await h.http().get(path).expect(200);
      expect(res.headers['x-cache'], path).to.equal('MISS');
    }
    expect(counter.calls).to.equal(5);
    // Bounded cardinality: junk parameters add no entries.
    for (let i = 0; i < 10; i += 1) await h.http().get(`/list?page=2&sort=price&cb=${i}`).expect(200);
    expect(counter.calls).to.equal(5);
  });

  it('without the option every parameter counts, sorted by name, repeated values kept in order', async function () {
    const h = await f.setup('redis');
    const counter = mount(h, '/search', (req, res) => {
      res.json(echoQuery(req));
    });
    await h.http().get('/search?q=shoes&page=1').expect(200);
    await waitForEntries(h);
    const reordered = await h.http().get('/search?page=1&q=shoes').expect(200);
    expect(reordered.headers['x-cache']).to.equal('HIT');
    const extra = await h.http().get('/search?page=1&q=shoes&utm=1').expect(200);
    expect(extra.headers['x-cache']).to.equal('MISS');
    await h.http().get('/search?tag=a&tag=b').expect(200);
    await waitForEntries(h, 3);
    const swapped = await h.http().get('/search?tag=b&tag=a').expect(200);
    expect(swapped.headers['x-cache'], 'tag=b&tag=a is not tag=a&tag=b').to.equal('MISS');
    expect(swapped.body.query).to.deep.equal([['tag', ['b', 'a']]]);
    expect(counter.calls).to.equal(4);
  });

  it('hashes keys longer than 200 encoded characters: Redis keys stay short, and distinct long URLs stay distinct', async function () {
    const h = await f.setup('redis');
    const counter = mount(h, '/long', (req, res) => {
      res.json(echoQuery(req));
    });
    const long = 'x'.repeat(600);
    const a = `/long?filter=${long}a`;
    const b = `/long?filter=${long}b`;
    const resA = await h.http().get(a).expect(200);
    expect(resA.headers['x-cache']).to.equal('MISS');
    await waitForEntries(h);
    const resB = await h.http().get(b).expect(200);
    expect(resB.headers['x-cache'], 'differs only after the first 200 characters').to.equal('MISS');
    expect(resB.body.query).to.deep.equal([['filter', `${long}b`]]);
    await waitForEntries(h, 2);
    const hitA = await h.http().get(a).expect(200);
    expect(hitA.headers['x-cache']).to.equal('HIT');
    expect(hitA.body.query).to.deep.equal([['filter', `${long}a`]]);
    expect(counter.calls).to.equal(2);
    const keys = await entryKeys(h);
    expect(keys).to.have.length(2);
    for (const key of keys) {
      const entryPart = keyLayout(h.prefix).parse(key)!.key;
      expect(entryPart.length, key).to.be.at.most(200);
      expect(entryPart).to.not.include('xxxxxxxxxx');
    }
    // A key at or under the bound is kept readable.
    await h.http().get('/long?short=1').expect(200);
    await waitForEntries(h, 3);
    const all = await scanKeys(h.redis!, `${escapeGlob(h.prefix)}:*:e:*`);
    expect(all.some((key) => key.endsWith(encodeURIComponent('/long?short=1')))).to.equal(true);
  });

  it('a raw request with odd query encodings never gets a body made for another query', async function () {
    const h = await f.setup('redis');
    mount(h, '/q', (req, res) => {
      res.json(echoQuery(req));
    });
    const paths = [
      '/q?a=1%202',
      '/q?a=1+2',
      '/q?a=%zz',
      '/q?a=%25zz',
      '/q?a',
      '/q?a=',
      '/q?%61=1',
      '/q?a=1&a=2',
      '/q?a=2&a=1',
      '/q?a[b]=1',
      '/q?a%5Bb%5D=1',
    ];
    const reference = new Map<string, string>();
    for (const path of paths) {
      const res = await rawGet(h.url, path);
      reference.set(path, res);
    }
    await sleep(SETTLE_MS);
    for (const path of [...paths].reverse()) {
      const again = await rawGet(h.url, path);
      expect(JSON.parse(again), path).to.deep.equal(JSON.parse(reference.get(path)!));
    }
  });
});

/** GET of a path sent exactly as given (no client-side re-encoding); resolves the body text. */
function rawGet(base: string, path: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port: Number(port), path, method: 'GET', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${path}: status ${String(res.statusCode)}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
