/**
 * Tags, soft purge and invalidateAll through the public API, each against
 * the shared Redis and on a live local Redis Cluster (3 masters this file
 * starts): tagging by list and by a function of (req, res), clearing by tag
 * from the middleware and the call, read-your-writes across two instances on
 * one prefix, the fill-before-tag-clear race driven step by step, a lost tag
 * record, soft purge, invalidateAll in O(1), a failed tag clear served
 * uncached and retried, getOrSet tags, and 404 scans that leave no key.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { expect } from 'chai';
import express, { type Express, type RequestHandler } from 'express';
import type { Cluster, Redis } from 'ioredis';
import sinon from 'sinon';
import { createCache, type Cache, type CacheOptions } from 'express-cache-aside';
import { RedisStore } from '../../src/stores/redis-store';
import { captureLogger, deferred, sleep, waitFor } from '../helpers/app-factory';
import { keyLayout } from '../helpers/key-layout';
import { startCluster, type RedisClusterProcess } from '../helpers/redis-cluster';
import { keysWithTtl } from '../helpers/redis-store-subject';
import { connectShared, deleteByPrefix, randomPrefix } from '../helpers/shared-redis';

/** One GET or write over HTTP: status, X-Cache and the body as text. */
interface Answer {
  status: number;
  cache: string;
  body: string;
}

function send(port: number, method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cache: String(res.headers['x-cache']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A cache and its app, one "instance". */
interface Instance {
  cache: Cache;
  app: Express;
  get(path: string): Promise<Answer>;
  put(path: string): Promise<Answer>;
}

/** Where the caches keep their entries: the shared Redis, or the live Cluster. */
interface Backend {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  client(): Promise<Redis | Cluster>;
  /** A client to look behind the cache with (the same kind). */
  inspector(): Promise<Redis | Cluster>;
}

const sharedBackend = (): Backend => {
  const clients: Redis[] = [];
  return {
    name: 'the shared Redis',
    async start() {},
    async stop() {
      for (const client of clients.splice(0)) await client.quit().catch(() => undefined);
    },
    async client() {
      const client = await connectShared();
      clients.push(client);
      return client;
    },
    async inspector() {
      return this.client();
    },
  };
};

const clusterBackend = (): Backend => {
  let cluster: RedisClusterProcess | undefined;
  let inspector: Cluster | undefined;
  return {
    name: 'a live Redis Cluster',
    async start() {
      cluster = await startCluster();
    },
    async stop() {
      await cluster?.stop();
    },
    async client() {
      const client = cluster!.client();
      if (client.status !== 'ready') await once(client, 'ready');
      return client;
    },
    async inspector() {
      inspector ??= (await this.client()) as Cluster;
      return inspector;
    },
  };
};

/**
 * The shop benchmark's lost hits: GET /courses/77 fills (its handler held on a promise) while another request clears
 * the unrelated tag course:78; the fill carries course:77, a tag with no record yet. It must be stored: the next read
 * is a HIT. Then a clear of course:77 itself while a second fill is held: that fill is refused and the read after sees the edit.
 */
async function unrelatedClearDuringFirstFill(make: (mount: (cache: Cache, app: Express) => void) => Promise<Instance>): Promise<void> {
  const db = new Map([
    [77, 'seventy-seven'],
    [78, 'seventy-eight'],
  ]);
  let gate = deferred();
  let held = 0;
  let edits = 0;
  const mount = (cache: Cache, app: Express): void => {
    app.get('/courses/:id', cache.route({ namespace: 'courses', tags: (req) => [`course:${String(req.params.id)}`] }), async (req, res) => {
      const id = Number(req.params.id);
      const read = db.get(id);
      if (id === 77 && held++ < 2) await gate.promise;
      res.json({ title: read });
    });
    app.put('/courses/:id', cache.invalidate({ tags: (req) => [`course:${String(req.params.id)}`] }), (req, res) => {
      db.set(Number(req.params.id), `edit ${++edits}`);
      res.json({ ok: true });
    });
  };
  const a = await make(mount);
  const filling = a.get('/courses/77');
  await waitFor('the fill of /courses/77 to be held', () => held === 1);
  expect((await a.put('/courses/78')).status).to.equal(200);
  gate.resolve();
  expect((await filling).cache).to.equal('MISS');
  await waitFor('/courses/77 to be a HIT', async () => (await a.get('/courses/77')).cache === 'HIT', 2000, 20);
  expect(held, 'the handler of /courses/77 ran once: the fill was stored').to.equal(1);
  // The rule still protects a fill from a clear of its own tag (whose record now exists).
  await a.put('/courses/77');
  gate = deferred();
  const racing = a.get('/courses/77');
  await waitFor('the second fill of /courses/77 to be held', () => held === 2);
  expect((await a.put('/courses/77')).status).to.equal(200);
  gate.resolve();
  expect(JSON.parse((await racing).body), 'the held fill read before the edit').to.deep.equal({ title: 'edit 2' });
  await sleep(100);
  const after = await a.get('/courses/77');
  expect(JSON.parse(after.body), `the held fill was not stored (X-Cache ${after.cache})`).to.deep.equal({ title: 'edit 3' });
}

for (const backend of [sharedBackend(), clusterBackend()]) {
  describe(`tags, soft purge and invalidateAll on ${backend.name}`, function () {
    this.timeout(60_000);
    let prefix: string;
    const caches: Cache[] = [];
    const servers: http.Server[] = [];

    before(async function () {
      await backend.start();
    });
    after(async function () {
      await backend.stop();
    });
    beforeEach(function () {
      prefix = randomPrefix('tags');
    });
    afterEach(async function () {
      sinon.restore();
      for (const cache of caches.splice(0)) await cache.close();
      for (const server of servers.splice(0)) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await deleteByPrefix(await backend.inspector(), prefix);
    });

    /** A cache on this backend under the test's prefix (two of them are two instances), with an app listening. */
    async function instance(options: CacheOptions = {}, mount?: (cache: Cache, app: Express) => void): Promise<Instance> {
      const cache = createCache({ redis: await backend.client(), prefix, ttl: 60, timeoutMs: 1000, ...options });
      caches.push(cache);
      const app = express();
      mount?.(cache, app);
      const server = app.listen(0, '127.0.0.1');
      servers.push(server);
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      return { cache, app, get: (path) => send(port, 'GET', path), put: (path) => send(port, 'PUT', path) };
    }

    /** GETs until HIT (the fill's write lands in the background). */
    async function hit(i: Instance, path: string): Promise<Answer> {
      let last: Answer | undefined;
      await waitFor(
        `${path} to be a HIT`,
        async () => {
          last = await i.get(path);
          return last.cache === 'HIT';
        },
        5000,
      );
      return last!;
    }

    /** The shop: courses by id and by slug (tagged with the id found), lists, and a user's enrollments in another namespace. */
    function shop(db: Map<number, string>, calls: Record<string, number>): (cache: Cache, app: Express) => void {
      const count = (name: string): void => {
        calls[name] = (calls[name] ?? 0) + 1;
      };
      return (cache, app) => {
        app.get('/courses/:id', cache.route({ namespace: 'courses', tags: (req) => [`course:${String(req.params.id)}`] }), (req, res) => {
          count(`id:${String(req.params.id)}`);
          res.json({ title: db.get(Number(req.params.id)) });
        });
        // The slug route learns the id in the handler: the tags function reads it from res.locals.
        app.get(
          '/by-slug/:slug',
          cache.route({ namespace: 'courses', tags: (_req, res) => [`course:${String(res.locals.id)}`] }),
          (req, res) => {
            count(`slug:${String(req.params.slug)}`);
            const id = Number(String(req.params.slug).replace('c', ''));
            res.locals.id = id;
            res.json({ title: db.get(id) });
          },
        );
        app.get('/list', cache.route({ namespace: 'lists', tags: ['courses:list'] }), (_req, res) => {
          count('list');
          res.json([...db.values()]);
        });
        app.get(
          '/users/:uid/enrollments',
          cache.route({ namespace: (req) => `user:${String(req.params.uid)}`, key: 'enrollments', tags: ['course:5'] }),
          (_req, res) => {
            count('enrollments');
            res.json({ courses: [db.get(5)] });
          },
        );
        app.get('/plain', cache.route({ namespace: 'courses' }), (_req, res) => {
          count('plain');
          res.json({ plain: true });
        });
      };
    }

    it('tags by list and by a function of (req, res): clearing one tag misses exactly its entries, across namespaces; others stay HIT', async function () {
      const db = new Map([
        [5, 'five'],
        [6, 'six'],
      ]);
      const calls: Record<string, number> = {};
      const a = await instance({}, shop(db, calls));
      const paths = ['/courses/5', '/courses/6', '/by-slug/c5', '/by-slug/c6', '/list', '/users/1/enrollments', '/plain'];
      for (const path of paths) await hit(a, path);
      db.set(5, 'FIVE');
      await a.cache.invalidateTags(['course:5']);
      for (const path of ['/courses/5', '/by-slug/c5', '/users/1/enrollments']) {
        const after = await a.get(path);
        expect(after.cache, path).to.equal('MISS');
        expect(after.body, path).to.contain('FIVE');
      }
      for (const path of ['/courses/6', '/by-slug/c6', '/list', '/plain'])
        expect((await a.get(path)).cache, `${path} is untouched`).to.equal('HIT');
      expect(a.cache.stats().clears.tags).to.equal(1);
    });

    it('invalidate middleware: tags only, tags with namespaces, an async tags function; a non-2xx answer clears nothing', async function () {
      const db = new Map([
        [5, 'five'],
        [6, 'six'],
      ]);
      const calls: Record<string, number> = {};
      const a = await instance({}, (cache, app) => {
        shop(db, calls)(cache, app);
        app.put('/courses/:id', cache.invalidate({ tags: (req) => Promise.resolve([`course:${String(req.params.id)}`]) }), (req, res) => {
          db.set(Number(req.params.id), `edited ${String(req.params.id)}`);
          res.json({ ok: true });
        });
        app.put('/fail/:id', cache.invalidate({ tags: ['course:6'] }), (_req, res) => {
          res.status(409).json({ ok: false });
        });
        app.put('/import', cache.invalidate({ namespaces: ['lists'], tags: ['course:5', 'course:6'] }), (_req, res) => {
          res.json({ ok: true });
        });
        app.put('/static', cache.invalidate({ tags: ['course:6'] }), (_req, res) => {
          res.json({ ok: true });
        });
      });
      for (const path of ['/courses/5', '/courses/6', '/list', '/plain']) await hit(a, path);
      expect((await a.put('/fail/6')).status).to.equal(409);
      expect((await a.get('/courses/6')).cache, 'a failed mutation clears nothing').to.equal('HIT');
      expect((await a.put('/courses/5')).status).to.equal(200);
      const edited = await a.get('/courses/5');
      expect(edited.cache).to.equal('MISS');
      expect(edited.body).to.contain('edited 5');
      expect((await a.get('/courses/6')).cache).to.equal('HIT');
      await a.put('/static');
      expect((await a.get('/courses/6')).cache, 'static tags').to.equal('MISS');
      for (const path of ['/courses/5', '/courses/6', '/list']) await hit(a, path);
      await a.put('/import');
      for (const path of ['/courses/5', '/courses/6', '/list'])
        expect((await a.get(path)).cache, `${path} after tags + namespaces`).to.equal('MISS');
      expect((await a.get('/plain')).cache, 'the untagged entry of a namespace not named stays').to.equal('HIT');
    });

    it('read-your-writes across two instances, and the fill-before-tag-clear race closed (driven step by step)', async function () {
      let state = 'old';
      let handlerCalls = 0;
      const gate = deferred();
      const mount = (cache: Cache, app: Express): void => {
        app.get('/item', cache.route({ namespace: 'items', key: 'one', tags: ['item:1'] }), async (_req, res) => {
          handlerCalls += 1;
          const read = state;
          if (handlerCalls === 1) await gate.promise;
          res.json({ state: read });
        });
        app.put('/item', cache.invalidate({ tags: ['item:1'] }), (_req, res) => {
          state = 'new';
          res.json({ ok: true });
        });
      };
      const a = await instance({}, mount);
      const b = await instance({}, mount);
      // B's fill reads the old state and is held; A's write is acknowledged; then a client reads on B.
      const first = b.get('/item');
      await waitFor("B's fill to read the old state", () => handlerCalls === 1);
      expect((await a.put('/item')).status).to.equal(200);
      const second = b.get('/item');
      await waitFor('the second read to run the handler', () => handlerCalls === 2, 1000).catch(() => undefined);
      gate.resolve();
      const [older, newer] = await Promise.all([first, second]);
      expect(JSON.parse(older.body)).to.deep.equal({ state: 'old' });
      expect(JSON.parse(newer.body), `the read after the write (X-Cache ${newer.cache})`).to.deep.equal({ state: 'new' });
      // The old fill's write was refused (its tag was cleared after it began): nothing serves 'old' again, on either instance.
      await sleep(200);
      for (const i of [a, b, b]) expect(JSON.parse((await i.get('/item')).body)).to.deep.equal({ state: 'new' });
      expect((await hit(a, '/item')).body).to.contain('new');
    });

    it('a first fill of a tag with no record is stored although an unrelated tag was cleared while it filled (the next read is a HIT)', async function () {
      await unrelatedClearDuringFirstFill((mount) => instance({}, mount));
    });

    it('a tags function that throws or returns a bad value: logged, the answer served, nothing stored', async function () {
      const log = captureLogger();
      let calls = 0;
      const a = await instance({ logger: log.logger }, (cache, app) => {
        app.get(
          '/throws',
          cache.route({
            namespace: 'bad',
            tags: () => {
              throw new Error('no id');
            },
          }),
          (_req, res) => {
            calls += 1;
            res.json({ calls });
          },
        );
        app.get('/empty-string', cache.route({ namespace: 'bad', tags: () => [''] }), (_req, res) => {
          calls += 1;
          res.json({ calls });
        });
      });
      for (const path of ['/throws', '/empty-string']) {
        for (let i = 0; i < 3; i++) {
          const answer = await a.get(path);
          expect(answer.status, path).to.equal(200);
          expect(answer.cache, path).to.equal('MISS');
        }
      }
      expect(calls, 'every request ran the handler').to.equal(6);
      expect(log.entries.filter((e) => String(e.msg).includes('tags function failed'))).to.have.length(6);
    });

    it('a deleted tag record never brings an entry back', async function () {
      let version = 1;
      const a = await instance({}, (cache, app) => {
        app.get('/doc', cache.route({ namespace: 'docs', key: 'doc', tags: ['doc-1'] }), (_req, res) => {
          res.json({ version });
        });
      });
      await hit(a, '/doc');
      const inspector = await backend.inspector();
      const tagKey = keyLayout(prefix).tag('doc-1');
      expect(await inspector.exists(tagKey), 'the tag record').to.equal(1);
      version = 2;
      await a.cache.invalidateTags(['doc-1']);
      // Eviction (or a failover) loses the record the clear wrote.
      expect(await inspector.del(tagKey)).to.equal(1);
      const after = await a.get('/doc');
      expect(after.cache).to.equal('MISS');
      expect(JSON.parse(after.body)).to.deep.equal({ version: 2 });
      expect(JSON.parse((await hit(a, '/doc')).body)).to.deep.equal({ version: 2 });
      // And the record lost while the entry is still valid: the entry names a token no record holds again.
      await inspector.del(tagKey);
      version = 3;
      const lost = await a.get('/doc');
      expect(lost.cache, 'an entry whose tag record is gone is a miss').to.equal('MISS');
      expect(JSON.parse(lost.body)).to.deep.equal({ version: 3 });
    });

    it('soft purge: STALE while one refresh runs, then HIT with the new value; a route without staleTtl simply misses', async function () {
      let version = 1;
      let refreshes = 0;
      const a = await instance({}, (cache, app) => {
        app.get('/soft', cache.route({ namespace: 'soft', ttl: 60, staleTtl: 60, tags: ['s'] }), (_req, res) => {
          refreshes += 1;
          res.json({ version });
        });
        app.get('/hard', cache.route({ namespace: 'soft', ttl: 60, tags: ['s'] }), (_req, res) => {
          res.json({ version });
        });
        app.put('/soft', cache.invalidate({ tags: ['s'], soft: true }), (_req, res) => {
          version += 1;
          res.json({ ok: true });
        });
      });
      await hit(a, '/soft');
      await hit(a, '/hard');
      const before = refreshes;
      await a.put('/soft');
      const stale = await Promise.all([a.get('/soft'), a.get('/soft'), a.get('/soft')]);
      for (const answer of stale) {
        expect(answer.cache).to.equal('STALE');
        expect(JSON.parse(answer.body)).to.deep.equal({ version: 1 });
      }
      await waitFor('the refresh', async () => (await a.get('/soft')).cache === 'HIT', 5000);
      expect(JSON.parse((await a.get('/soft')).body)).to.deep.equal({ version: 2 });
      expect(refreshes - before, 'one refresh').to.equal(1);
      const hard = await a.get('/hard');
      expect(hard.cache, 'without staleTtl a soft-purged entry is a miss').to.equal('MISS');
      expect(JSON.parse(hard.body)).to.deep.equal({ version: 2 });
      await a.cache.invalidateTags(['s'], { soft: true });
      expect((await a.get('/soft')).cache, 'invalidateTags soft too').to.equal('STALE');
      expect(a.cache.stats().clears.soft).to.equal(2);
      await waitFor('the second refresh', async () => (await a.get('/soft')).cache === 'HIT', 5000);
    });

    it('invalidateAll: every entry of every namespace and tag, on both instances, at once', async function () {
      let version = 1;
      const mount = (cache: Cache, app: Express): void => {
        app.get(
          '/n/:ns/:id',
          cache.route({ namespace: (req) => String(req.params.ns), tags: (req) => [`t${String(req.params.id)}`] }),
          (_req, res) => {
            res.json({ version });
          },
        );
      };
      const a = await instance({}, mount);
      const b = await instance({}, mount);
      const paths = ['/n/x/1', '/n/y/2', '/n/z/3'];
      for (const path of paths) await hit(b, path);
      expect(await b.cache.getOrSet('values', 'v', () => version)).to.equal(1);
      version = 2;
      await a.cache.invalidateAll();
      for (const path of paths) {
        const after = await b.get(path);
        expect(after.cache, path).to.equal('MISS');
        expect(JSON.parse(after.body)).to.deep.equal({ version: 2 });
      }
      expect(await b.cache.getOrSet('values', 'v', () => version)).to.equal(2);
      expect(a.cache.stats().clears.all).to.equal(1);
    });

    it('invalidateAll is O(1): the same time with 10 and with 20,000 entries, and no key is deleted or scanned', async function () {
      const a = await instance();
      const inspector = await backend.inspector();
      const timings: Record<number, number> = {};
      for (const count of [10, 20_000]) {
        const ns = `bulk${count}`;
        expect(await a.cache.getOrSet(ns, 'seed', () => 'value', { tags: ['bulk'] })).to.equal('value');
        await waitFor('the seed entry', async () => (await a.cache.getOrSet(ns, 'seed', () => 'other')) === 'value');
        // Copies of the seed entry under other keys: valid entries of the same namespace, written in one pipeline.
        const layout = keyLayout(prefix);
        const seed = await inspector.getBuffer(layout.entry(ns, 'seed'));
        const pipeline = inspector.pipeline();
        for (let i = 0; i < count; i++) pipeline.set(layout.entry(ns, `k${i}`), seed!, 'PX', 600_000);
        await pipeline.exec();
        expect(await a.cache.getOrSet(ns, `k${count - 1}`, () => 'fetched'), 'a copy is a hit').to.equal('value');
        const samples: number[] = [];
        for (let round = 0; round < 5; round++) {
          const started = performance.now();
          await a.cache.invalidateAll();
          samples.push(performance.now() - started);
        }
        timings[count] = samples.sort((x, y) => x - y)[2]!;
        expect(await a.cache.getOrSet(ns, `k${count - 1}`, () => 'fetched'), 'after invalidateAll').to.equal('fetched');
        expect(await inspector.exists(layout.entry(ns, `k${count - 2}`)), 'entries are left to expire, not deleted').to.equal(1);
      }
      expect(
        timings[20_000],
        `median ${timings[20_000]!.toFixed(1)} ms with 20,000 entries vs ${timings[10]!.toFixed(1)} ms with 10`,
      ).to.be.below(timings[10]! * 5 + 50);
    });

    it('getOrSet tags: the value is cleared with its tag, and not with another', async function () {
      const a = await instance();
      let fetches = 0;
      const fetch = (): number => ++fetches;
      expect(await a.cache.getOrSet('data', 'one', fetch, { tags: ['price:1'] })).to.equal(1);
      await waitFor('the value stored', async () => (await a.cache.getOrSet('data', 'one', fetch, { tags: ['price:1'] })) === 1);
      await a.cache.invalidateTags(['price:2']);
      expect(await a.cache.getOrSet('data', 'one', fetch, { tags: ['price:1'] })).to.equal(1);
      await a.cache.invalidateTags(['price:1']);
      expect(await a.cache.getOrSet('data', 'one', fetch, { tags: ['price:1'] })).to.equal(fetches);
      expect(fetches).to.be.at.least(2);
    });

    it('a failed tag clear: the entries carrying the tag are served uncached meanwhile, untagged ones stay HIT, and the clear is retried', async function () {
      let version = 1;
      const log = captureLogger();
      const a = await instance({ logger: log.logger }, (cache, app) => {
        app.get('/tagged', cache.route({ namespace: 'f', tags: ['t'] }), (_req, res) => {
          res.json({ version });
        });
        app.get('/other', cache.route({ namespace: 'f' }), (_req, res) => {
          res.json({ version });
        });
      });
      await hit(a, '/tagged');
      await hit(a, '/other');
      let refuse = true;
      const original = RedisStore.prototype.clearTags;
      sinon.stub(RedisStore.prototype, 'clearTags').callsFake(async function (this: RedisStore, ...args) {
        if (refuse) throw new Error('injected: the store refused the tag clear');
        return original.apply(this, args);
      });
      version = 2;
      await a.cache.invalidateTags(['t']);
      const during = await a.get('/tagged');
      expect(during.cache, 'served uncached while the clear is pending').to.equal('BYPASS');
      expect(JSON.parse(during.body)).to.deep.equal({ version: 2 });
      expect((await a.get('/other')).cache).to.equal('HIT');
      expect(a.cache.stats().clears.failed).to.equal(1);
      refuse = false;
      await waitFor('the retried clear to land', async () => (await a.get('/tagged')).cache !== 'BYPASS', 10_000);
      expect(JSON.parse((await hit(a, '/tagged')).body)).to.deep.equal({ version: 2 });
    });

    it('404 scans leave no lasting key: records a miss creates live the short fill TTL, then vanish', async function () {
      const a = await instance({ lockTtlMs: 300 }, (cache, app) => {
        app.get(
          '/users/:id',
          cache.route({ namespace: (req) => `user:${String(req.params.id)}`, tags: (req) => [`user:${String(req.params.id)}`] }),
          (_req, res) => {
            res.status(404).json({ error: 'no such user' });
          },
        );
      });
      for (let id = 0; id < 50; id++) expect((await a.get(`/users/${id}`)).status).to.equal(404);
      const inspector = await backend.inspector();
      for (const { key, pttlMs } of await keysWithTtl(inspector, prefix)) expect(pttlMs, key).to.be.within(1, 1000);
      await waitFor('every key to expire', async () => (await keysWithTtl(inspector, prefix)).length === 0, 5000, 100);
    });
  });
}

describe('tags: the in-process tier drops entries by tag and everything across instances', function () {
  this.timeout(30_000);
  const prefix = randomPrefix('tags-l1');
  const caches: Cache[] = [];
  const clients: Redis[] = [];
  afterEach(async function () {
    for (const cache of caches.splice(0)) await cache.close();
    const inspector = await connectShared();
    await deleteByPrefix(inspector, prefix);
    await inspector.quit();
    for (const client of clients.splice(0)) await client.quit();
  });

  for (const consistency of ['acknowledged', 'delivered'] as const) {
    it(`${consistency}: after A's tag clear or invalidateAll, B never serves its in-process copy${consistency === 'delivered' ? ' once the message arrives' : ''}`, async function () {
      const make = async (): Promise<Cache> => {
        const client = await connectShared();
        clients.push(client);
        const cache = createCache({ redis: client, prefix, timeoutMs: 1000, l1: { max: 100, ttl: '30s', consistency } });
        caches.push(cache);
        return cache;
      };
      const a = await make();
      const b = await make();
      let version = 1;
      const mount = (cache: Cache): RequestHandler[] => [
        cache.route({ namespace: 'l1', key: 'k', tags: ['hot'] }),
        (_req, res) => {
          res.json({ version });
        },
      ];
      const app = express();
      app.get('/k', ...mount(b));
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as AddressInfo).port;
      try {
        // Wait for B's subscription, then until B serves from its tier.
        await waitFor("B's tier to hold the entry", async () => (await send(port, 'GET', '/k')).cache === 'HIT', 5000);
        for (const clear of [() => a.invalidateTags(['hot']), () => a.invalidateAll()]) {
          version += 1;
          await clear();
          if (consistency === 'delivered') await sleep(50);
          const after = await send(port, 'GET', '/k');
          expect(JSON.parse(after.body), `X-Cache ${after.cache}`).to.deep.equal({ version });
          await waitFor("B's tier to hold the new entry", async () => (await send(port, 'GET', '/k')).cache === 'HIT', 5000);
        }
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });
  }
});

describe('tags on the memory store', function () {
  this.timeout(20_000);
  const caches: Cache[] = [];
  const servers: http.Server[] = [];
  afterEach(async function () {
    for (const cache of caches.splice(0)) await cache.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a first fill of a tag with no record is stored although an unrelated tag was cleared while it filled (the next read is a HIT)', async function () {
    await unrelatedClearDuringFirstFill(async (mount) => {
      const cache = createCache({ ttl: 60 });
      caches.push(cache);
      const app = express();
      mount(cache, app);
      const server = app.listen(0, '127.0.0.1');
      servers.push(server);
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      return { cache, app, get: (path) => send(port, 'GET', path), put: (path) => send(port, 'PUT', path) };
    });
  });
});
