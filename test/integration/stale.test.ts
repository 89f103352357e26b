/**
 * Stale entries on the shared Redis: within staleTtl a request (or a
 * getOrSet call) gets the stale copy at once while exactly one background
 * refresh runs, and the refreshed entry replaces it; when the origin throws,
 * answers 5xx or times out, clients keep the stale copy, the origin is
 * retried at most once per refreshBackoffMs, and once the stale window ends
 * the error reaches the client and nothing is stored. Short ttls and
 * `jitter: 0` keep the timeline exact; bounds are generous for a shared
 * 2-core machine.
 */
import { expect } from 'chai';
import type { ErrorRequestHandler } from 'express';
import { REFRESH_HEADER } from '../../src/route';
import { liveEntryCount, sleep, useFactory, waitFor, waitForEntries, type AppHandle } from '../helpers/app-factory';
import { keyLayout } from '../helpers/key-layout';

/** A stale answer must come back well under the handler's time. */
const HANDLER_MS = 400;
const STALE_ANSWER_BOUND_MS = 250;

/** The cache's warnings (failed refreshes are expected here) kept out of the test output. */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Answers a thrown error as JSON, so the origin's failure is visible to the test (and quiet in its output). */
const jsonErrors: ErrorRequestHandler = (err: Error, _req, res, _next) => {
  res.status(500).json({ error: err.message });
};

/** Timed GET through supertest. */
async function timedGet(
  h: AppHandle,
  path: string,
): Promise<{ status: number; cache: string; age: string | undefined; body: Record<string, unknown>; ms: number }> {
  const start = Date.now();
  const res = await h.http().get(path);
  return {
    status: res.status,
    cache: String(res.headers['x-cache']),
    age: res.headers.age as string | undefined,
    body: res.body as Record<string, unknown>,
    ms: Date.now() - start,
  };
}

/** Gaps between consecutive times. */
function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

describe('stale-while-revalidate: cache.route', function () {
  this.timeout(20_000);
  const f = useFactory('stale-route');

  it('within staleTtl a request gets the stale copy at once (STALE, Age) and exactly one refresh runs; the next request gets the new body', async function () {
    const h = await f.setup('redis', { jitter: 0, timeoutMs: 1000, logger: quiet });
    let calls = 0;
    h.app.get('/news', h.cache.route({ namespace: 'news', key: 'latest', ttl: '1s', staleTtl: '5s' }), async (_req, res) => {
      calls += 1;
      const n = calls;
      if (n > 1) await sleep(HANDLER_MS);
      res.json({ n });
    });
    const first = await timedGet(h, '/news');
    expect(first.cache).to.equal('MISS');
    await waitForEntries(h);
    await sleep(1100);

    const stale = await timedGet(h, '/news');
    expect(stale.status).to.equal(200);
    expect(stale.cache).to.equal('STALE');
    expect(stale.body).to.deep.equal({ n: 1 });
    expect(Number(stale.age), 'Age of the stale copy').to.be.at.least(1);
    expect(stale.ms, `stale answer vs a ${HANDLER_MS} ms handler`).to.be.below(STALE_ANSWER_BOUND_MS);

    // More requests while the refresh runs: all stale, none starts another refresh.
    const during = await Promise.all(Array.from({ length: 20 }, () => timedGet(h, '/news')));
    for (const r of during) {
      expect(r.body, `X-Cache ${r.cache}`).to.deep.equal({ n: 1 });
      expect(r.cache).to.equal('STALE');
    }
    await waitFor('the background refresh', () => calls === 2, 5000);
    await waitFor('the refreshed entry', async () => (await timedGet(h, '/news')).body.n === 2, 5000, 20);
    const fresh = await timedGet(h, '/news');
    expect(fresh.cache, 'the refreshed entry replaced the stale one').to.equal('HIT');
    expect(fresh.body).to.deep.equal({ n: 2 });
    expect(Number(fresh.age)).to.be.below(2);
    await sleep(200);
    expect(calls, 'one fill and exactly one refresh').to.equal(2);
    const stats = h.cache.stats();
    expect(stats.stale, 'stale serves counted').to.be.at.least(21);
    expect(stats.refreshes).to.equal(1);
    expect(stats.namespaces.news?.stale).to.equal(stats.stale);
  });

  it('the refreshed entry gets a whole new lifetime in Redis (ttl + staleTtl)', async function () {
    const h = await f.setup('redis', { jitter: 0, timeoutMs: 1000, logger: quiet });
    let calls = 0;
    h.app.get('/page', h.cache.route({ namespace: 'pages', key: 'home', ttl: '1s', staleTtl: '5s' }), (_req, res) => {
      calls += 1;
      res.json({ n: calls });
    });
    await h.http().get('/page').expect(200);
    await waitForEntries(h);
    await sleep(1100);
    const entryKey = keyLayout(h.prefix).entry('pages', 'home');
    const before = await h.redis!.pttl(entryKey);
    expect(before, 'PTTL while stale').to.be.within(1, 5000);
    expect((await h.http().get('/page')).headers['x-cache']).to.equal('STALE');
    await waitFor('the refreshed entry', async () => (await h.http().get('/page')).body.n === 2, 5000, 20);
    expect(await h.redis!.pttl(entryKey), 'PTTL after the refresh').to.be.above(5000);
  });

  it('a client cannot start a refill: the refresh marker header without the cache’s secret is an ordinary request', async function () {
    const h = await f.setup('redis', { jitter: 0, timeoutMs: 1000, logger: quiet });
    let calls = 0;
    h.app.get('/doc', h.cache.route({ namespace: 'docs', key: 'one', ttl: '30s' }), (_req, res) => {
      calls += 1;
      res.json({ n: calls });
    });
    await h.http().get('/doc').expect(200);
    await waitForEntries(h);
    const forged = await h.http().get('/doc').set(REFRESH_HEADER, 'guessed-secret.guessed-token').expect(200);
    expect(forged.headers['x-cache']).to.equal('HIT');
    expect(forged.body).to.deep.equal({ n: 1 });
    expect(calls).to.equal(1);
    expect(h.cache.stats().refreshes).to.equal(0);
  });
});

describe('stale-if-error: cache.route', function () {
  this.timeout(20_000);
  const f = useFactory('stale-if-error');

  it('the handler throws, then answers 500: clients keep the stale 200, the origin is retried at most once per refreshBackoffMs, and after the stale window the error reaches the client and nothing is stored', async function () {
    const backoffMs = 800;
    const h = await f.setup('redis', { jitter: 0, timeoutMs: 1000, refreshBackoffMs: backoffMs, logger: quiet });
    let mode: 'ok' | 'throw' | 'fail' = 'ok';
    const failedCalls: number[] = [];
    h.app.get('/price', h.cache.route({ namespace: 'prices', key: 'one', ttl: '1s', staleTtl: '3s' }), (_req, res) => {
      if (mode === 'ok') {
        res.json({ price: 42 });
        return;
      }
      failedCalls.push(Date.now());
      if (mode === 'throw') {
        mode = 'fail';
        throw new Error('origin down');
      }
      res.status(500).json({ error: 'origin error' });
    });
    h.app.use(jsonErrors);
    expect((await timedGet(h, '/price')).cache).to.equal('MISS');
    await waitForEntries(h);
    await sleep(1100);
    mode = 'throw';

    const served: Array<Awaited<ReturnType<typeof timedGet>>> = [];
    const deadline = Date.now() + 8000;
    let last = await timedGet(h, '/price');
    while (last.cache === 'STALE' && Date.now() < deadline) {
      served.push(last);
      await sleep(100);
      last = await timedGet(h, '/price');
    }
    expect(served.length, 'stale answers during the ~3 s window').to.be.at.least(15);
    for (const r of served) {
      expect(r.status).to.equal(200);
      expect(r.body, 'the stale copy, never the error').to.deep.equal({ price: 42 });
    }
    // The stale window is over: the origin's error now reaches the client.
    expect(last.status, `after the window (X-Cache ${last.cache})`).to.equal(500);
    expect(last.cache).to.equal('MISS');
    expect(last.body).to.deep.equal({ error: 'origin error' });

    const refreshCalls = failedCalls.slice(0, -1); // the last call answered the MISS after the window
    expect(refreshCalls.length, 'the throw and at least one 500 were tried in the background').to.be.at.least(2);
    expect(refreshCalls.length, `background calls in a ~3 s window with a ${backoffMs} ms backoff`).to.be.at.most(5);
    for (const gap of gaps(refreshCalls)) expect(gap, 'time between two tries of the failing origin').to.be.at.least(backoffMs * 0.9);

    await sleep(150);
    expect(await liveEntryCount(h, 'prices'), 'the error was not stored').to.equal(0);
    const again = await timedGet(h, '/price');
    expect(again.status).to.equal(500);
    expect(again.cache).to.equal('MISS');
    expect(h.cache.stats().stale).to.equal(served.length);
  });

  it('a refresh that times out (handler slower than lockTtlMs) also waits refreshBackoffMs before the origin is tried again', async function () {
    const backoffMs = 1500;
    const h = await f.setup('redis', { jitter: 0, timeoutMs: 1000, refreshBackoffMs: backoffMs, lockTtlMs: 400, logger: quiet });
    let hang = false;
    const hungCalls: number[] = [];
    h.app.get('/slow', h.cache.route({ namespace: 'slow', key: 'one', ttl: '1s', staleTtl: '5s' }), async (_req, res) => {
      if (hang) {
        hungCalls.push(Date.now());
        await sleep(2000);
      }
      if (!res.writableEnded && !res.destroyed) res.json({ v: hang ? 'late' : 'first' });
    });
    expect((await timedGet(h, '/slow')).cache).to.equal('MISS');
    await waitForEntries(h);
    await sleep(1100);
    hang = true;
    const started = Date.now();
    while (Date.now() - started < 2600) {
      const r = await timedGet(h, '/slow');
      expect(r.cache).to.equal('STALE');
      expect(r.body).to.deep.equal({ v: 'first' });
      await sleep(100);
    }
    expect(hungCalls.length, 'the origin was tried in the background').to.be.at.least(1);
    const seen = `calls at +${hungCalls.map((t) => t - started).join(', +')} ms`;
    for (const gap of gaps(hungCalls))
      expect(gap, `time between two tries of a timing-out origin (${seen})`).to.be.at.least(backoffMs * 0.9);
    expect(hungCalls.length, `tries in 2.6 s with a ${backoffMs} ms backoff (${seen})`).to.be.at.most(2);
  });
});

describe('stale-while-revalidate: cache.getOrSet', function () {
  this.timeout(20_000);
  const f = useFactory('stale-get-or-set');

  it('within staleTtl the stale value is returned at once and one background fetch refreshes it', async function () {
    const h = await f.cache('redis', { jitter: 0, timeoutMs: 1000 });
    const options = { ttl: '1s', staleTtl: '5s' };
    expect(await h.cache.getOrSet('data', 'k', () => ({ v: 1 }), options)).to.deep.equal({ v: 1 });
    await waitForEntries(h);
    await sleep(1100);
    let fetches = 0;
    const slowFetch = async (): Promise<{ v: number }> => {
      fetches += 1;
      await sleep(HANDLER_MS);
      return { v: 2 };
    };
    const start = Date.now();
    const values = await Promise.all(Array.from({ length: 10 }, () => h.cache.getOrSet('data', 'k', slowFetch, options)));
    expect(Date.now() - start, `stale values vs a ${HANDLER_MS} ms fetch`).to.be.below(STALE_ANSWER_BOUND_MS);
    for (const v of values) expect(v).to.deep.equal({ v: 1 });
    await waitFor('the refreshed value', async () => (await h.cache.getOrSet('data', 'k', slowFetch, options)).v === 2, 5000, 20);
    expect(fetches, 'exactly one background fetch').to.equal(1);
    const stats = h.cache.stats();
    expect(stats.refreshes).to.equal(1);
    expect(stats.stale).to.be.at.least(10);
  });

  it('three caches on one prefix (as three processes would) refresh a stale value once between them', async function () {
    const first = await f.cache('redis', { jitter: 0, timeoutMs: 1000 });
    const others = [
      await f.cache('redis', { jitter: 0, timeoutMs: 1000, prefix: first.prefix }),
      await f.cache('redis', { jitter: 0, timeoutMs: 1000, prefix: first.prefix }),
    ];
    const options = { ttl: '1s', staleTtl: '5s' };
    await first.cache.getOrSet('data', 'shared', () => 'old', options);
    await waitForEntries(first);
    await sleep(1100);
    let fetches = 0;
    const fetch = async (): Promise<string> => {
      fetches += 1;
      await sleep(HANDLER_MS);
      return 'new';
    };
    const all = [first, ...others];
    const values = await Promise.all(
      all.flatMap((h) => Array.from({ length: 5 }, () => h.cache.getOrSet('data', 'shared', fetch, options))),
    );
    expect(
      values.every((v) => v === 'old'),
      JSON.stringify(values),
    ).to.equal(true);
    await waitFor(
      'the refreshed value',
      async () => (await others[1]!.cache.getOrSet('data', 'shared', fetch, options)) === 'new',
      5000,
      20,
    );
    await sleep(100);
    expect(fetches, 'one refresh across the three caches').to.equal(1);
    expect(all.reduce((n, h) => n + h.cache.stats().refreshes, 0)).to.equal(1);
  });

  it('a throwing fetch while stale keeps returning the stale value, is retried at most once per refreshBackoffMs, and after the window its error reaches the caller', async function () {
    const backoffMs = 800;
    const h = await f.cache('redis', { jitter: 0, timeoutMs: 1000, refreshBackoffMs: backoffMs, logger: quiet });
    const options = { ttl: '1s', staleTtl: '3s' };
    await h.cache.getOrSet('data', 'rate', () => 1.25, options);
    await waitForEntries(h);
    await sleep(1100);
    const failedCalls: number[] = [];
    const failing = (): Promise<number> => {
      failedCalls.push(Date.now());
      return Promise.reject(new Error('rates service down'));
    };
    const returned: number[] = [];
    let error: unknown;
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline) {
      try {
        returned.push(await h.cache.getOrSet('data', 'rate', failing, options));
      } catch (err) {
        error = err;
        break;
      }
      await sleep(100);
    }
    expect(returned.length, 'stale values during the ~3 s window').to.be.at.least(15);
    expect(
      returned.every((v) => v === 1.25),
      'always the stale value',
    ).to.equal(true);
    expect(error, 'after the window the fetch error reaches the caller').to.be.instanceOf(Error);
    expect((error as Error).message).to.equal('rates service down');
    const refreshCalls = failedCalls.slice(0, -1); // the last call was the miss after the window
    expect(refreshCalls.length).to.be.within(1, 5);
    for (const gap of gaps(refreshCalls)) expect(gap, 'time between two tries of the failing fetch').to.be.at.least(backoffMs * 0.9);
    await sleep(100);
    expect(await liveEntryCount(h, 'data'), 'nothing stored').to.equal(0);
    let called = false;
    expect(
      await h.cache.getOrSet(
        'data',
        'rate',
        () => {
          called = true;
          return 1.5;
        },
        options,
      ),
    ).to.equal(1.5);
    expect(called, 'a miss again: fetch called').to.equal(true);
  });
});
