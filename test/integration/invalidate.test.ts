/**
 * Behaviour tests of namespace invalidation: read-your-writes after a 2xx
 * mutation, nothing cleared by a failed one, the function forms, namespaces
 * and keys treated as data (never patterns, no ':' collisions), O(1) clears,
 * a deleted generation key never resurrecting old entries, and a fill that
 * began before a clear never becoming visible after it.
 */
import { expect } from 'chai';
import type { Request } from 'express';
import {
  deferred,
  entryKeys,
  eventuallyHit,
  liveEntryCount,
  sleep,
  storeKinds,
  useFactory,
  waitForEntries,
  type AppHandle,
  type CacheHandle,
} from '../helpers/app-factory';
import { keyLayout } from '../helpers/key-layout';

/** Long enough for a write that was (wrongly) allowed to land before we look. */
const SETTLE_MS = 200;

interface CoursesState {
  title: string;
  reads: number;
}

/** GET /courses cached in namespace 'courses'; PUT /courses clears it on 2xx, answers 400 without a title and 500 on demand. */
function coursesApp(h: AppHandle): CoursesState {
  const state: CoursesState = { title: 'v0', reads: 0 };
  h.app.get('/courses', h.cache.route({ namespace: 'courses', key: 'list' }), (_req, res) => {
    state.reads += 1;
    res.json({ title: state.title });
  });
  h.app.put('/courses', h.cache.invalidate({ namespaces: ['courses'] }), (req, res) => {
    const body = req.body as { title?: string; fail?: boolean };
    if (body.fail) {
      res.status(500).json({ error: 'database down' });
      return;
    }
    if (!body.title) {
      res.status(400).json({ error: 'title required' });
      return;
    }
    state.title = body.title;
    res.json({ ok: true });
  });
  return state;
}

/** Fills GET path and checks it is now a HIT. */
async function fillAndHit(h: AppHandle, path: string): Promise<unknown> {
  await h.http().get(path).expect(200);
  await waitForEntries(h, 1);
  const hit = await h.http().get(path).expect(200);
  expect(hit.headers['x-cache'], `${path} after fill`).to.equal('HIT');
  return hit.body;
}

/** A getOrSet whose fetch reports whether it ran. */
async function probe(handle: CacheHandle, namespace: string, key: string, value: string): Promise<{ value: string; fetched: boolean }> {
  let fetched = false;
  const result = await handle.cache.getOrSet(namespace, key, () => {
    fetched = true;
    return value;
  });
  return { value: result, fetched };
}

/** Median of a list of numbers. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

for (const storeKind of storeKinds) {
  describe(`invalidate middleware (${storeKind} store)`, function () {
    const f = useFactory(`invalidate-${storeKind}`);

    it('after a 2xx PUT the very next GET is a MISS with fresh data (read-your-writes), five times over', async function () {
      const h = await f.setup(storeKind);
      const state = coursesApp(h);
      for (let round = 1; round <= 5; round += 1) {
        const before = await h.http().get('/courses').expect(200);
        // Wait until the entry of this round is stored, so the PUT has something to clear.
        await waitForEntries(h, 1, 'courses');
        const cached = await h.http().get('/courses').expect(200);
        expect(cached.headers['x-cache']).to.equal('HIT');
        expect(cached.body).to.deep.equal(before.body);

        await h
          .http()
          .put('/courses')
          .send({ title: `v${round}` })
          .expect(200);
        const after = await h.http().get('/courses').expect(200);
        expect(after.headers['x-cache'], `round ${round}`).to.equal('MISS');
        expect(after.body, `round ${round}`).to.deep.equal({ title: `v${round}` });
      }
      expect(state.reads).to.equal(6);
    });

    it('clears nothing when the mutation answers 4xx or 5xx', async function () {
      const h = await f.setup(storeKind);
      const state = coursesApp(h);
      await fillAndHit(h, '/courses');
      await h.http().put('/courses').send({}).expect(400);
      const after400 = await h.http().get('/courses').expect(200);
      expect(after400.headers['x-cache']).to.equal('HIT');
      await h.http().put('/courses').send({ fail: true }).expect(500);
      const after500 = await h.http().get('/courses').expect(200);
      expect(after500.headers['x-cache']).to.equal('HIT');
      expect(state.reads).to.equal(1);
    });

    it('accepts namespaces as a function of the request, and as an async function', async function () {
      const h = await f.setup(storeKind);
      let reads = 0;
      h.app.get(
        '/users/:id',
        h.cache.route({ namespace: (req: Request) => `user:${req.params.id as string}`, key: 'profile' }),
        (req, res) => {
          reads += 1;
          res.json({ id: req.params.id, reads });
        },
      );
      h.app.put('/users/:id', h.cache.invalidate({ namespaces: (req: Request) => [`user:${req.params.id as string}`] }), (_req, res) => {
        res.status(204).end();
      });
      h.app.patch(
        '/users/:id',
        h.cache.invalidate({
          namespaces: async (req: Request) => {
            await sleep(20);
            return [`user:${req.params.id as string}`];
          },
        }),
        (_req, res) => {
          res.json({ patched: true });
        },
      );

      await h.http().get('/users/1').expect(200);
      await h.http().get('/users/2').expect(200);
      await waitForEntries(h, 2);
      await h.http().put('/users/1').expect(204);
      const one = await h.http().get('/users/1').expect(200);
      const two = await h.http().get('/users/2').expect(200);
      expect(one.headers['x-cache'], 'user 1 was cleared').to.equal('MISS');
      expect(two.headers['x-cache'], 'user 2 was not').to.equal('HIT');

      await waitForEntries(h, 2);
      await h.http().patch('/users/2').expect(200);
      const twoAgain = await h.http().get('/users/2').expect(200);
      const oneAgain = await h.http().get('/users/1').expect(200);
      expect(twoAgain.headers['x-cache'], 'async form cleared user 2').to.equal('MISS');
      expect(oneAgain.headers['x-cache']).to.equal('HIT');
    });

    it("clearing 'user:*' (from a URL or directly) leaves 'user:1' cached", async function () {
      const h = await f.setup(storeKind);
      h.app.get(
        '/users/:id',
        h.cache.route({ namespace: (req: Request) => `user:${req.params.id as string}`, key: 'profile' }),
        (req, res) => {
          res.json({ id: req.params.id });
        },
      );
      h.app.put('/users/:id', h.cache.invalidate({ namespaces: (req: Request) => [`user:${req.params.id as string}`] }), (_req, res) => {
        res.json({ ok: true });
      });
      await fillAndHit(h, '/users/1');
      await h.http().put('/users/*').expect(200);
      await h.http().put('/users/%3F').expect(200);
      await h.cache.invalidateNamespaces(['user:*', 'user:?', 'user:[1]', 'user:[0-9]', '*']);
      const still = await h.http().get('/users/1').expect(200);
      expect(still.headers['x-cache']).to.equal('HIT');
    });

    it("keeps ('a', 'b:c') and ('a:b', 'c') apart, in entries and in clears", async function () {
      const h = await f.cache(storeKind);
      expect((await probe(h, 'a', 'b:c', 'first')).value).to.equal('first');
      await waitForEntries(h, 1);
      const other = await probe(h, 'a:b', 'c', 'second');
      expect(other).to.deep.equal({ value: 'second', fetched: true });
      await waitForEntries(h, 2);
      await h.cache.invalidateNamespaces(['a']);
      expect(await probe(h, 'a:b', 'c', 'third'), "clearing 'a' leaves 'a:b'").to.deep.equal({ value: 'second', fetched: false });
      expect(await probe(h, 'a', 'b:c', 'fourth'), "'a' was cleared").to.deep.equal({ value: 'fourth', fetched: true });
    });

    it('treats *, ?, [, ], {, } and : in namespaces as data: each clear reaches only its own namespace', async function () {
      const h = await f.cache(storeKind);
      const namespaces = ['n', 'n*', 'n?', 'n[x]', 'n[a-z]', 'n{x}', '{n}', 'n}', 'n:x', 'n%2A', 'n\\*'];
      for (const ns of namespaces) await probe(h, ns, 'k', `${ns}@0`);
      await waitForEntries(h, namespaces.length);
      const version = new Map(namespaces.map((ns) => [ns, 0]));
      for (const [round, target] of namespaces.entries()) {
        await h.cache.invalidateNamespaces([target]);
        for (const ns of namespaces) {
          const next = round + 1;
          const got = await probe(h, ns, 'k', `${ns}@${next}`);
          if (ns === target) {
            expect(got.fetched, `clearing ${target} clears ${ns}`).to.equal(true);
            version.set(ns, next);
          } else {
            expect(got, `clearing ${target} must not touch ${ns}`).to.deep.equal({
              value: `${ns}@${version.get(ns) ?? -1}`,
              fetched: false,
            });
          }
        }
        await waitForEntries(h, namespaces.length);
      }
    });

    it('never shows a route fill that began before a clear: handler blocked, clear, release, next GET is a MISS', async function () {
      const h = await f.setup(storeKind);
      const started = deferred();
      const release = deferred();
      let calls = 0;
      h.app.get('/race', h.cache.route({ namespace: 'race', key: 'one' }), async (_req, res) => {
        calls += 1;
        const call = calls;
        if (call === 1) {
          started.resolve();
          await release.promise;
        }
        res.json({ call });
      });
      const firstResponse = h
        .http()
        .get('/race')
        .then((res) => res);
      await started.promise;
      await h.cache.invalidateNamespaces(['race']);
      release.resolve();
      const first = await firstResponse;
      expect(first.headers['x-cache']).to.equal('MISS');
      expect(first.body).to.deep.equal({ call: 1 });
      await sleep(SETTLE_MS);
      if (h.redis) expect(await liveEntryCount(h), 'the stale fill was refused').to.equal(0);
      const next = await h.http().get('/race').expect(200);
      expect(next.headers['x-cache']).to.equal('MISS');
      expect(next.body).to.deep.equal({ call: 2 });
    });

    it('never shows a getOrSet fill that began before a clear', async function () {
      const h = await f.cache(storeKind);
      const started = deferred();
      const release = deferred<string>();
      const pending = h.cache.getOrSet('race', 'k', async () => {
        started.resolve();
        return release.promise;
      });
      await started.promise;
      await h.cache.invalidateNamespaces(['race']);
      release.resolve('before the clear');
      expect(await pending).to.equal('before the clear');
      await sleep(SETTLE_MS);
      if (h.redis) expect(await liveEntryCount(h), 'the stale fill was refused').to.equal(0);
      expect(await probe(h, 'race', 'k', 'after the clear')).to.deep.equal({ value: 'after the clear', fetched: true });
    });
  });
}

describe('invalidate on Redis: generation keys and O(1) clears', function () {
  const f = useFactory('invalidate-gen');

  it('serves nothing from before the last clear once the generation key is deleted', async function () {
    const h = await f.setup('redis');
    let calls = 0;
    h.app.get('/g/:id', h.cache.route({ namespace: 'gen', key: (req: Request) => req.params.id as string }), (req, res) => {
      calls += 1;
      res.json({ id: req.params.id, call: calls });
    });
    const redis = h.redis;
    if (!redis) throw new Error('expected a Redis-backed cache');
    const generationKey = keyLayout(h.prefix).generation('gen');

    // Written under the very first generation: must not come back when the generation disappears.
    await fillAndHit(h, '/g/old');
    expect(await redis.exists(generationKey), `generation key ${generationKey} exists`).to.equal(1);
    expect(await redis.del(generationKey)).to.equal(1);
    const afterEviction = await h.http().get('/g/old').expect(200);
    expect(afterEviction.headers['x-cache'], 'entry of a vanished generation').to.equal('MISS');
    await waitForEntries(h, 1, 'gen');

    // Now a clear, a fill after it, and the generation deleted again.
    await h.cache.invalidateNamespaces(['gen']);
    await h.http().get('/g/new').expect(200);
    await waitForEntries(h, 1, 'gen');
    expect(await redis.del(generationKey)).to.equal(1);
    const old = await h.http().get('/g/old').expect(200);
    const fresh = await h.http().get('/g/new').expect(200);
    expect(old.headers['x-cache']).to.equal('MISS');
    expect(fresh.headers['x-cache']).to.equal('MISS');
    expect(old.body.call).to.be.greaterThan(3);

    // And caching carries on afterwards (the two misses race to recreate the generation, so poll).
    const hit = await eventuallyHit(h, '/g/new');
    expect(hit.body.id).to.equal('new');
  });

  it('clears a namespace of 20,000 entries as fast as one of 10, with 40,000 keys in Redis', async function () {
    this.timeout(120_000);
    const h = await f.cache('redis', { ttl: '10m' });
    const redis = h.redis as NonNullable<typeof h.redis>;
    // One real entry per namespace through getOrSet, then copies of its stored bytes under other keys by
    // pipeline: each copy is a live entry of the current generation (checked below), and 40,000 of them
    // take a second instead of the minute that 40,000 fetch round trips take on a shared machine.
    const fill = async (namespace: string, count: number): Promise<void> => {
      await h.cache.getOrSet(namespace, 'k0', () => ({ namespace, key: 'k0' }));
      await waitForEntries(h, 1, namespace);
      const source = keyLayout(h.prefix).entry(namespace, 'k0');
      const [value, pttl] = await Promise.all([redis.getBuffer(source), redis.pttl(source)]);
      if (!value || pttl <= 0) throw new Error(`entry ${source} not found (pttl ${pttl})`);
      for (let start = 1; start < count; start += 5000) {
        const pipeline = redis.pipeline();
        for (let i = start; i < Math.min(count, start + 5000); i += 1)
          pipeline.set(keyLayout(h.prefix).entry(namespace, `k${i}`), value, 'PX', pttl);
        await pipeline.exec();
      }
    };
    await fill('big', 20_000);
    await fill('small', 10);
    await fill('other', 19_990);
    expect((await entryKeys(h)).length).to.equal(40_000);
    for (const [namespace, key] of [
      ['big', 'k19999'],
      ['small', 'k9'],
      ['other', 'k777'],
    ] as const) {
      const copy = await h.cache.getOrSet(namespace, key, () => ({ namespace: 'not', key: 'cached' }));
      expect(copy, `${namespace}/${key} is served from the cache`).to.deep.equal({ namespace, key: 'k0' });
    }

    const bigTimes: number[] = [];
    const smallTimes: number[] = [];
    const timeClear = async (namespace: string, into: number[]): Promise<void> => {
      const start = process.hrtime.bigint();
      await h.cache.invalidateNamespaces([namespace]);
      into.push(Number(process.hrtime.bigint() - start) / 1e6);
    };
    // Warm up both paths, then interleave so both see the same machine load.
    await timeClear('big', []);
    await timeClear('small', []);
    for (let i = 0; i < 20; i += 1) {
      await timeClear('big', bigTimes);
      await timeClear('small', smallTimes);
    }
    const big = median(bigTimes);
    const small = median(smallTimes);
    // Below half a millisecond the difference is scheduler noise, not work done per entry.
    const ratio = Math.max(big, 0.5) / Math.max(small, 0.5);
    expect(big, `median clear of 20,000 entries (ms); small was ${small.toFixed(2)}`).to.be.below(20);
    expect(small, 'median clear of 10 entries (ms)').to.be.below(20);
    expect(ratio, `big/small median ratio (big ${big.toFixed(2)} ms, small ${small.toFixed(2)} ms)`).to.be.below(3);

    expect(await probe(h, 'big', 'k123', 'refetched'), "'big' was cleared").to.deep.equal({ value: 'refetched', fetched: true });
    const other = await h.cache.getOrSet('other', 'k123', () => ({ namespace: 'wrong', key: 'wrong' }));
    expect(other, "'other' was not").to.deep.equal({ namespace: 'other', key: 'k0' });
  });
});
