/**
 * Behaviour tests of cache.route: what is never stored (cookies, no-store,
 * private, unlisted statuses, oversized bodies, unfinished responses), which
 * methods pass through, how the default key is formed, how concurrent misses
 * coalesce, and that storing never delays the response. Runs against the
 * Redis and the memory store; the slow-store test uses its own redis-server.
 */
import http from 'node:http';
import { expect } from 'chai';
import type { RequestHandler } from 'express';
import request from 'supertest';
import { binaryParser, deferred, entryKeys, sleep, storeKinds, useFactory, waitForEntries, type AppHandle } from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';

/** Long enough for a write that was (wrongly) started to land before we look. */
const SETTLE_MS = 150;

/** Mounts a cached GET route with a call counter; returns the counter. */
function mount(
  h: AppHandle,
  path: string,
  handler: RequestHandler,
  routeOptions: Partial<Parameters<AppHandle['cache']['route']>[0]> = {},
): { calls: number } {
  const counter = { calls: 0 };
  h.app.get(path, h.cache.route({ namespace: 'route', ...routeOptions }), (req, res, next) => {
    counter.calls += 1;
    return handler(req, res, next);
  });
  return counter;
}

/** Two GETs with a pause between: the second must still be a MISS and run the handler again. */
async function expectNeverStored(h: AppHandle, path: string, counter: { calls: number }): Promise<request.Response> {
  const first = await h.http().get(path).buffer(true).parse(binaryParser);
  expect(first.headers['x-cache']).to.equal('MISS');
  await sleep(SETTLE_MS);
  if (h.redis) expect(await entryKeys(h), 'no entry key was written').to.deep.equal([]);
  const second = await h.http().get(path).buffer(true).parse(binaryParser);
  expect(second.headers['x-cache'], 'second request').to.equal('MISS');
  expect(counter.calls).to.equal(2);
  return second;
}

for (const storeKind of storeKinds) {
  describe(`route storage rules (${storeKind} store)`, function () {
    const f = useFactory(`route-${storeKind}`);

    it('never stores a response that sets a cookie (and passes the cookie through)', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/cookie', (_req, res) => {
        res.cookie('sid', 'secret').send('with cookie');
      });
      const second = await expectNeverStored(h, '/cookie', counter);
      expect(second.headers['set-cookie']).to.be.an('array').with.length(1);
    });

    it('never stores Cache-Control: no-store', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/no-store', (_req, res) => {
        res.set('Cache-Control', 'no-store').send('fresh every time');
      });
      await expectNeverStored(h, '/no-store', counter);
    });

    it('never stores Cache-Control: private', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/private', (_req, res) => {
        res.set('Cache-Control', 'private, max-age=60').send('mine');
      });
      await expectNeverStored(h, '/private', counter);
    });

    it('never stores a 404 or a 500 with the default statuses', async function () {
      const h = await f.setup(storeKind);
      const notFound = mount(h, '/missing', (_req, res) => {
        res.status(404).send('not here');
      });
      const second = await expectNeverStored(h, '/missing', notFound);
      expect(second.status).to.equal(404);

      const failing = { calls: 0 };
      h.app.get('/broken', h.cache.route({ namespace: 'other' }), (_req, res) => {
        failing.calls += 1;
        res.status(500).send('oops');
      });
      await h.http().get('/broken').expect(500);
      await sleep(SETTLE_MS);
      const again = await h.http().get('/broken').expect(500);
      expect(again.headers['x-cache']).to.equal('MISS');
      expect(failing.calls).to.equal(2);
    });

    it('stores a 404 when statuses is [200, 404]', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(
        h,
        '/gone',
        (_req, res) => {
          res.status(404).json({ error: 'gone' });
        },
        { statuses: [200, 404] },
      );
      const miss = await h.http().get('/gone').expect(404);
      expect(miss.headers['x-cache']).to.equal('MISS');
      await waitForEntries(h);
      const hit = await h.http().get('/gone').expect(404);
      expect(hit.headers['x-cache']).to.equal('HIT');
      expect(hit.body).to.deep.equal({ error: 'gone' });
      expect(counter.calls).to.equal(1);
    });

    it('passes a body over maxBodyBytes through untouched and does not store it (known length and streamed)', async function () {
      const h = await f.setup(storeKind);
      const big = Buffer.alloc(5000, 7);
      const sent = mount(
        h,
        '/big-send',
        (_req, res) => {
          res.type('application/octet-stream').send(big);
        },
        { maxBodyBytes: 1000 },
      );
      const second = await expectNeverStored(h, '/big-send', sent);
      expect((second.body as Buffer).equals(big)).to.equal(true);

      const streamedCounter = { calls: 0 };
      h.app.get('/big-stream', h.cache.route({ namespace: 'streamed', maxBodyBytes: 1000 }), (_req, res) => {
        streamedCounter.calls += 1;
        res.type('application/octet-stream');
        for (let i = 0; i < 5; i += 1) res.write(big.subarray(i * 1000, (i + 1) * 1000));
        res.end();
      });
      const first = await h.http().get('/big-stream').buffer(true).parse(binaryParser);
      expect((first.body as Buffer).equals(big)).to.equal(true);
      await sleep(SETTLE_MS);
      const again = await h.http().get('/big-stream').buffer(true).parse(binaryParser);
      expect(again.headers['x-cache']).to.equal('MISS');
      expect((again.body as Buffer).equals(big)).to.equal(true);
      expect(streamedCounter.calls).to.equal(2);
    });

    it('stores a body at exactly maxBodyBytes', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(
        h,
        '/edge',
        (_req, res) => {
          res.type('application/octet-stream').send(Buffer.alloc(1000, 1));
        },
        { maxBodyBytes: 1000 },
      );
      await h.http().get('/edge').expect(200);
      await waitForEntries(h);
      const hit = await h.http().get('/edge').buffer(true).parse(binaryParser);
      expect(hit.headers['x-cache']).to.equal('HIT');
      expect((hit.body as Buffer).length).to.equal(1000);
      expect(counter.calls).to.equal(1);
    });

    it('stores nothing when the handler throws after res.write; the next request is a MISS', async function () {
      const h = await f.setup(storeKind);
      // Express's final handler still destroys the socket, but does not print the expected error.
      h.app.set('env', 'test');
      const counter = mount(h, '/throws', (_req, res) => {
        res.type('text/plain');
        if (counter.calls === 1) {
          res.write('partial ');
          throw new Error('handler failed mid-response');
        }
        res.end('complete');
      });
      // Express destroys the socket when an error follows sent headers, so the client sees a broken response.
      await h
        .http()
        .get('/throws')
        .then(
          () => undefined,
          () => undefined,
        );
      await sleep(SETTLE_MS);
      if (h.redis) expect(await entryKeys(h)).to.deep.equal([]);
      const next = await h.http().get('/throws');
      expect(next.status).to.equal(200);
      expect(next.headers['x-cache']).to.equal('MISS');
      expect(next.text).to.equal('complete');
      expect(counter.calls).to.equal(2);
    });

    it('stores nothing when the client aborts mid-response; the next request is a MISS', async function () {
      const h = await f.setup(storeKind);
      const gate = deferred();
      const serverSawClose = deferred();
      const handlerEnded = deferred();
      const counter = mount(h, '/slow', async (_req, res) => {
        res.type('text/plain');
        if (counter.calls > 1) {
          res.end('first second third');
          return;
        }
        res.on('close', () => serverSawClose.resolve());
        res.write('first ');
        await gate.promise;
        res.write('second ');
        res.end('third');
        handlerEnded.resolve();
      });

      const clientReq = http.get(`${h.url}/slow`);
      clientReq.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        clientReq.on('response', (res) => {
          res.on('error', () => undefined);
          res.once('data', () => {
            clientReq.destroy();
            resolve();
          });
        });
      });
      await serverSawClose.promise;
      gate.resolve();
      await handlerEnded.promise;
      await sleep(SETTLE_MS);
      if (h.redis) expect(await entryKeys(h)).to.deep.equal([]);

      const next = await h.http().get('/slow');
      expect(next.headers['x-cache']).to.equal('MISS');
      expect(next.text).to.equal('first second third');
      expect(counter.calls).to.equal(2);
    });
  });

  describe(`route methods and keys (${storeKind} store)`, function () {
    const f = useFactory(`keys-${storeKind}`);

    it('lets POST, PUT and DELETE pass straight through, without a cache header and without storing', async function () {
      const h = await f.setup(storeKind);
      let calls = 0;
      h.app.all('/any', h.cache.route({ namespace: 'methods' }), (req, res) => {
        calls += 1;
        res.json({ method: req.method, calls });
      });
      h.app.use('/mounted', h.cache.route({ namespace: 'mounted' }), (req, res) => {
        calls += 1;
        res.json({ method: req.method, calls });
      });
      const post1 = await h.http().post('/any').send({ a: 1 }).expect(200);
      const post2 = await h.http().post('/any').send({ a: 1 }).expect(200);
      expect(post1.body).to.deep.equal({ method: 'POST', calls: 1 });
      expect(post2.body).to.deep.equal({ method: 'POST', calls: 2 });
      for (const res of [post1, post2]) expect(res.headers).to.not.have.property('x-cache');

      const put = await h.http().put('/mounted/x').expect(200);
      const del = await h.http().delete('/mounted/x').expect(200);
      expect(put.headers).to.not.have.property('x-cache');
      expect(del.headers).to.not.have.property('x-cache');
      expect(calls).to.equal(4);

      await sleep(SETTLE_MS);
      const get = await h.http().get('/any').expect(200);
      expect(get.headers['x-cache'], 'a POST never fills the GET entry').to.equal('MISS');
      expect(get.body).to.deep.equal({ method: 'GET', calls: 5 });
    });

    it('keys by path plus the query sorted by name: reordered params share an entry, other values do not', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/x', (req, res) => {
        res.json({ query: req.query, call: counter.calls });
      });
      const first = await h.http().get('/x?b=2&a=1').expect(200);
      expect(first.headers['x-cache']).to.equal('MISS');
      await waitForEntries(h);
      const reordered = await h.http().get('/x?a=1&b=2').expect(200);
      expect(reordered.headers['x-cache']).to.equal('HIT');
      expect(reordered.body).to.deep.equal(first.body);

      const a1 = await h.http().get('/x?a=1').expect(200);
      expect(a1.headers['x-cache']).to.equal('MISS');
      await waitForEntries(h, 2);
      const a2 = await h.http().get('/x?a=2').expect(200);
      expect(a2.headers['x-cache'], '/x?a=2 is not /x?a=1').to.equal('MISS');
      expect(a2.body.query).to.deep.equal({ a: '2' });
      const plain = await h.http().get('/x').expect(200);
      expect(plain.headers['x-cache'], '/x is not /x?a=1').to.equal('MISS');
      expect(counter.calls).to.equal(4);
    });

    it('keys by path: /items/1 and /items/2 are different entries', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/items/:id', (req, res) => {
        res.json({ id: req.params.id });
      });
      await h.http().get('/items/1').expect(200);
      await waitForEntries(h);
      const two = await h.http().get('/items/2').expect(200);
      expect(two.headers['x-cache']).to.equal('MISS');
      expect(two.body).to.deep.equal({ id: '2' });
      expect(counter.calls).to.equal(2);
    });

    it("with query: ['page'] ignores every other parameter", async function () {
      const h = await f.setup(storeKind);
      const counter = mount(
        h,
        '/list',
        (req, res) => {
          res.json({ page: req.query.page ?? null });
        },
        { query: ['page'] },
      );
      const first = await h.http().get('/list?page=1&utm_source=a').expect(200);
      expect(first.headers['x-cache']).to.equal('MISS');
      await waitForEntries(h);
      const otherUtm = await h.http().get('/list?utm_source=b&page=1&ref=x').expect(200);
      expect(otherUtm.headers['x-cache']).to.equal('HIT');
      expect(otherUtm.body).to.deep.equal({ page: '1' });
      const page2 = await h.http().get('/list?page=2&utm_source=a').expect(200);
      expect(page2.headers['x-cache']).to.equal('MISS');
      expect(page2.body).to.deep.equal({ page: '2' });
      expect(counter.calls).to.equal(2);
    });
  });

  describe(`route coalescing (${storeKind} store)`, function () {
    const f = useFactory(`coalesce-${storeKind}`);

    it('answers 50 concurrent misses with one handler call and identical 200 bodies', async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/popular', async (_req, res) => {
        // Long enough for all 50 requests to arrive while the leader is still in its handler.
        await sleep(400);
        res.json({ call: counter.calls, padding: 'p'.repeat(2000) });
      });
      const responses = await Promise.all(Array.from({ length: 50 }, () => request(h.url).get('/popular')));
      expect(counter.calls).to.equal(1);
      for (const res of responses) {
        expect(res.status).to.equal(200);
        expect(res.text).to.equal(responses[0]?.text);
      }
      expect(responses.filter((r) => r.headers['x-cache'] === 'MISS')).to.have.length(1);
    });

    it("lets waiters run the handler themselves when the leader's response sets a cookie, never sharing it", async function () {
      const h = await f.setup(storeKind);
      const counter = mount(h, '/session', async (_req, res) => {
        const call = counter.calls;
        await sleep(300);
        res.cookie('sid', `secret-${call}`).json({ call });
      });
      const responses = await Promise.all(Array.from({ length: 20 }, () => request(h.url).get('/session')));
      expect(counter.calls).to.equal(20);
      const calls = new Set<number>();
      for (const res of responses) {
        expect(res.status).to.equal(200);
        expect(res.headers['x-cache']).to.not.equal('HIT');
        const call = (res.body as { call: number }).call;
        calls.add(call);
        const cookies = res.headers['set-cookie'] as unknown as string[];
        expect(cookies, 'each response carries only its own cookie').to.have.length(1);
        expect(cookies[0]).to.match(new RegExp(`^sid=secret-${call};`));
      }
      expect(calls.size, 'every response came from its own handler call').to.equal(20);
    });
  });
}

describe('route: storing never delays the response', function () {
  const f = useFactory('no-delay');
  const server = useRedisProcess();

  it('sends the MISS response while the store is frozen (write pending), and the entry lands after', async function () {
    // A long timeout: if the write were awaited before the response, the response would wait out this timeout.
    const h = await f.setupOn(server.client(), { timeoutMs: 3000 });
    let calls = 0;
    h.app.get('/frozen', h.cache.route({ namespace: 'frozen' }), (_req, res) => {
      calls += 1;
      // The lookup is done (the handler only runs after it); freeze Redis so the write cannot complete.
      if (calls === 1) server.pause();
      res.send('served without waiting for the store');
    });
    const started = Date.now();
    let miss: request.Response;
    try {
      miss = await h.http().get('/frozen');
    } finally {
      server.resume();
    }
    const elapsed = Date.now() - started;
    expect(miss.status).to.equal(200);
    expect(miss.headers['x-cache']).to.equal('MISS');
    expect(miss.text).to.equal('served without waiting for the store');
    expect(elapsed, 'response time with a frozen store').to.be.below(1000);

    await waitForEntries(h);
    const hit = await h.http().get('/frozen');
    expect(hit.headers['x-cache']).to.equal('HIT');
    expect(calls).to.equal(1);
  });
});
