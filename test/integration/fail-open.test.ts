/**
 * Fail-open behaviour against a real redis-server this file starts and
 * faults itself (SIGSTOP, SIGKILL, restart): requests are answered by their
 * handler within a bound with X-Cache BYPASS, invalidation never holds a
 * mutation's response hostage nor lets stale data back in, and caching
 * resumes on its own. Each scenario runs with three ioredis client setups:
 * the library defaults, `enableOfflineQueue: false` and
 * `maxRetriesPerRequest: null` (retries forever): all must stay bounded.
 */
import { once } from 'node:events';
import { expect } from 'chai';
import Redis, { type RedisOptions } from 'ioredis';
import type request from 'supertest';
import { captureLogger, eventuallyHit, sleep, useFactory, waitFor, waitForEntries, type AppHandle } from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';
import type { RedisProcess } from '../helpers/redis-server';

const TIMEOUT_MS = 100;
/** What "answered promptly" means on a shared 2-core machine: timeoutMs plus a generous margin. */
const BOUND_MS = 500;

const clientSetups: Array<{ name: string; options: RedisOptions }> = [
  { name: 'ioredis defaults', options: {} },
  { name: 'enableOfflineQueue: false', options: { enableOfflineQueue: false } },
  { name: 'maxRetriesPerRequest: null', options: { maxRetriesPerRequest: null } },
];

/** An ioredis client with only the given options over the library defaults, ready to use. */
async function connect(server: RedisProcess, options: RedisOptions): Promise<Redis> {
  const redis = new Redis(server.url, options);
  // Fault tests provoke connection errors on purpose; an application would log them.
  redis.on('error', () => undefined);
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

/** Times one GET. */
async function timedGet(h: AppHandle, path: string): Promise<{ res: request.Response; ms: number }> {
  const start = Date.now();
  const res = await h.http().get(path);
  return { res, ms: Date.now() - start };
}

/** GET /item cached in namespace 'items' (answers the handler's call count); PUT /item sets its title and clears 'items'. */
function itemApp(h: AppHandle): { calls: number; title: string } {
  const state = { calls: 0, title: 'v1' };
  h.app.get('/item', h.cache.route({ namespace: 'items', key: 'one' }), (_req, res) => {
    state.calls += 1;
    res.json({ call: state.calls, title: state.title });
  });
  h.app.put('/item', h.cache.invalidate({ namespaces: ['items'] }), (req, res) => {
    state.title = (req.body as { title: string }).title;
    res.json({ ok: true });
  });
  return state;
}

/** Fills /item and checks the next GET is a HIT. */
async function fill(h: AppHandle): Promise<void> {
  const miss = await h.http().get('/item').expect(200);
  expect(miss.headers['x-cache']).to.equal('MISS');
  await waitForEntries(h);
  const hit = await h.http().get('/item').expect(200);
  expect(hit.headers['x-cache']).to.equal('HIT');
}

for (const setup of clientSetups) {
  describe(`fail open (${setup.name})`, function () {
    this.timeout(30_000);
    const f = useFactory('fail-open');
    // Left running and answering for the next test, whatever this one did.
    const server = useRedisProcess();

    async function newApp(): Promise<{ h: AppHandle; state: { calls: number; title: string } }> {
      // Store failures are expected here: record the logs instead of printing them.
      const h = await f.setupOn(await connect(server, setup.options), { timeoutMs: TIMEOUT_MS, logger: captureLogger().logger });
      return { h, state: itemApp(h) };
    }

    it('paused Redis: each request gets its handler answer within 500 ms with BYPASS; after resume HIT/MISS again', async function () {
      const { h, state } = await newApp();
      await fill(h);
      server.pause();
      try {
        for (let i = 0; i < 6; i += 1) {
          const { res, ms } = await timedGet(h, '/item');
          expect(res.status).to.equal(200);
          expect(res.headers['x-cache'], `request ${i}`).to.equal('BYPASS');
          expect(res.body.call, 'answered by the handler').to.equal(state.calls);
          expect(ms, `request ${i} took`).to.be.below(BOUND_MS);
        }
        const start = Date.now();
        const value = await h.cache.getOrSet('data', 'k', () => 'from the origin');
        expect(value).to.equal('from the origin');
        expect(Date.now() - start, 'getOrSet on a paused store').to.be.below(BOUND_MS);
      } finally {
        server.resume();
      }
      await waitFor(
        'a HIT or MISS after resume',
        async () => {
          const res = await h.http().get('/item');
          return res.headers['x-cache'] === 'HIT' || res.headers['x-cache'] === 'MISS';
        },
        8000,
        50,
      );
    });

    it('killed Redis: BYPASS fast; restarted empty: caching resumes (MISS then HIT) without restarting the app', async function () {
      const { h } = await newApp();
      await fill(h);
      await server.kill();
      try {
        for (let i = 0; i < 4; i += 1) {
          const { res, ms } = await timedGet(h, '/item');
          expect(res.status).to.equal(200);
          expect(res.headers['x-cache'], `request ${i}`).to.equal('BYPASS');
          expect(ms, `request ${i} took`).to.be.below(BOUND_MS);
        }
        const start = Date.now();
        expect(await h.cache.getOrSet('data', 'k', () => 'origin')).to.equal('origin');
        expect(Date.now() - start, 'getOrSet on a dead store').to.be.below(BOUND_MS);
      } finally {
        await server.restart();
      }
      let first: request.Response | undefined;
      await waitFor(
        'the first request served through the cache again',
        async () => {
          first = await h.http().get('/item');
          expect(first.status).to.equal(200);
          return first.headers['x-cache'] !== 'BYPASS';
        },
        15_000,
        100,
      );
      expect(first?.headers['x-cache'], 'the restarted Redis is empty').to.equal('MISS');
      await waitForEntries(h);
      const hit = await h.http().get('/item').expect(200);
      expect(hit.headers['x-cache']).to.equal('HIT');
    });

    it('invalidate on a paused Redis: the mutation answers within timeoutMs + margin and stale data never comes back', async function () {
      const { h } = await newApp();
      await fill(h);
      server.pause();
      try {
        const start = Date.now();
        const put = await h.http().put('/item').send({ title: 'v2' });
        expect(put.status).to.equal(200);
        expect(Date.now() - start, 'PUT with a paused store').to.be.below(TIMEOUT_MS + BOUND_MS);
        const during = await h.http().get('/item').expect(200);
        expect(during.body.title).to.equal('v2');
        expect(during.headers['x-cache']).to.equal('BYPASS');
      } finally {
        server.resume();
      }
      // Until the clear has gone through, the namespace must be served around the cache, never from the old entry.
      const deadline = Date.now() + 8000;
      let last = '';
      while (Date.now() < deadline && last !== 'HIT') {
        const res = await h.http().get('/item').expect(200);
        expect(res.body.title, `served with X-Cache ${String(res.headers['x-cache'])}`).to.equal('v2');
        last = String(res.headers['x-cache']);
        await sleep(50);
      }
      const hit = await eventuallyHit(h, '/item');
      expect(hit.body.title).to.equal('v2');
    });

    it('leaves no unhandled rejection behind when the client is dropped while commands hang', async function () {
      const seen: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        seen.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        const { h } = await newApp();
        await fill(h);
        server.pause();
        const results = await Promise.all([
          h.http().get('/item'),
          h.http().put('/item').send({ title: 'v3' }),
          h.cache.getOrSet('data', 'k', () => 'origin'),
        ]);
        expect(results[0].status).to.equal(200);
        expect(results[1].status).to.equal(200);
        expect(results[2]).to.equal('origin');
        // Commands still queued on the paused connection are rejected when it is dropped.
        h.redis?.disconnect();
        server.resume();
        await sleep(300);
        await h.cache.close();
        await sleep(100);
        expect(seen.map(String)).to.deep.equal([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });
}
