/**
 * Faults against real processes: Redis killed and restarted empty, Redis
 * slowed by a TCP proxy adding 300 ms per reply, Redis under maxmemory with
 * allkeys-lru evicting entries and generation keys. Through all of them
 * requests keep their latency bound, answers are byte-identical to the same
 * app without a cache, and no entry from before a clear comes back. Also:
 * the circuit breaker measured with INFO commandstats, unfinished responses
 * (client gone, handler threw after res.write) neither stored nor shared with
 * coalesced waiters, and every key the package writes carries a TTL.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import express, { type Express, type RequestHandler } from 'express';
import type Redis from 'ioredis';
import request from 'supertest';
import {
  binaryParser,
  captureLogger,
  deferred,
  entryKeys,
  eventuallyHit,
  scanKeys,
  sleep,
  useFactory,
  waitFor,
  type AppHandle,
  type TestFactory,
} from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';
import { keyLayout } from '../helpers/key-layout';
import { readyClient } from '../helpers/redis-server';
import { startSlowProxy, type SlowProxy } from '../helpers/slow-proxy';
import { escapeGlob } from '../helpers/shared-redis';
import { MAX_PENDING_STORE_CALLS } from '../../src/store-gate';
import { createCache } from 'express-cache-aside';

const TIMEOUT_MS = 100;
/** "Answered promptly" on a shared 2-core machine: timeoutMs plus a generous margin. */
const BOUND_MS = 500;
const SETTLE_MS = 150;

/** Deterministic pseudo-random bytes for (label, version): what the "database" holds. */
function documentBytes(label: string, version: number, size: number): Buffer {
  const blocks: Buffer[] = [];
  let seed = createHash('sha256').update(`${label}@${version}`).digest();
  for (let n = 0; n < size; n += seed.length) {
    blocks.push(seed);
    seed = createHash('sha256').update(seed).digest();
  }
  return Buffer.concat(blocks).subarray(0, size);
}

/** The state the handlers read: a version per namespace, bumped by PUT. */
interface Db {
  versions: Map<string, number>;
}

const versionOf = (db: Db, ns: string): number => db.versions.get(ns) ?? 1;

/**
 * GET /ns/:ns/:key answers binary bytes of (ns, key, version) in two writes;
 * PUT /ns/:ns bumps the version. With a cache the GET is cached in namespace
 * :ns under key :key and the PUT clears :ns; without, it is the reference.
 */
function mountDocs(app: Express, db: Db, size: number, cached?: AppHandle): void {
  const read: RequestHandler = (req, res) => {
    const ns = String(req.params.ns);
    const version = versionOf(db, ns);
    const body = documentBytes(`${ns}/${String(req.params.key)}`, version, size);
    res.status(200).type('application/octet-stream').set('ETag', `"${ns}-${version}"`).set('X-Version', String(version));
    res.write(body.subarray(0, 100));
    res.end(body.subarray(100));
  };
  const write: RequestHandler = (req, res) => {
    const ns = String(req.params.ns);
    db.versions.set(ns, versionOf(db, ns) + 1);
    res.json({ version: versionOf(db, ns) });
  };
  if (cached) {
    app.get('/ns/:ns/:key', cached.cache.route({ namespace: (req) => String(req.params.ns), key: (req) => String(req.params.key) }), read);
    app.put('/ns/:ns', cached.cache.invalidate({ namespaces: (req) => [String(req.params.ns)] }), write);
  } else {
    app.get('/ns/:ns/:key', read);
    app.put('/ns/:ns', write);
  }
}

/** A cached app and the same app without a cache, over one shared Db. */
interface Pair {
  h: AppHandle;
  referenceUrl: string;
  db: Db;
}

async function pairOn(f: TestFactory, redis: Redis, size: number, options: Parameters<TestFactory['setupOn']>[1] = {}): Promise<Pair> {
  // Store failures are provoked on purpose here: keep them out of the console.
  const h = await f.setupOn(redis, { timeoutMs: TIMEOUT_MS, logger: captureLogger().logger, ...options });
  const db: Db = { versions: new Map() };
  mountDocs(h.app, db, size, h);
  const reference = express();
  mountDocs(reference, db, size);
  return { h, referenceUrl: await f.listen(reference), db };
}

/** A GET and how long it took. */
async function timedGet(url: string, path: string): Promise<{ res: request.Response; ms: number }> {
  const start = performance.now();
  const res = await request(url).get(path).buffer(true).parse(binaryParser);
  return { res, ms: performance.now() - start };
}

/**
 * GETs a path from the cached app and from the reference; both must match byte for byte, and the cached one
 * take at most the bound more than the same request without a cache, timed just before and after it (the
 * reference pays the same loaded machine: the bound is what the cache adds, not what the machine costs).
 */
async function compareGet(pair: Pair, path: string, what: string): Promise<{ cache: string; ms: number }> {
  const before = await timedGet(pair.referenceUrl, path);
  const { res: cached, ms } = await timedGet(pair.h.url, path);
  const { res: reference, ms: referenceMs } = await timedGet(pair.referenceUrl, path);
  const uncachedMs = Math.max(before.ms, referenceMs);
  const cache = String(cached.headers['x-cache']);
  expect(cached.status, `${what}: status`).to.equal(reference.status);
  expect(cached.headers['content-type'], `${what}: content-type`).to.equal(reference.headers['content-type']);
  expect(cached.headers.etag, `${what}: ETag (X-Cache ${cache})`).to.equal(reference.headers.etag);
  expect((cached.body as Buffer).equals(reference.body as Buffer), `${what}: body byte-identical (X-Cache ${cache})`).to.equal(true);
  expect(ms, `${what}: took (X-Cache ${cache}; without a cache ${Math.round(uncachedMs)} ms)`).to.be.below(BOUND_MS + uncachedMs);
  return { cache, ms };
}

/** PUT that bumps and clears a namespace; must answer within timeoutMs + clearWaitMs (1000 by default: its client may be reconnecting) + timeoutMs + the margin. */
async function timedPut(pair: Pair, ns: string): Promise<void> {
  const start = Date.now();
  const res = await pair.h.http().put(`/ns/${ns}`);
  expect(res.status).to.equal(200);
  expect(Date.now() - start, `PUT /ns/${ns} took`).to.be.below(TIMEOUT_MS + 1000 + TIMEOUT_MS + BOUND_MS);
}

describe('faults: Redis killed and restarted empty', function () {
  this.timeout(30_000);
  const f = useFactory('faults-kill');
  const server = useRedisProcess();

  it('keeps the bound, answers byte-identical to the app without a cache, and no entry from before a clear comes back', async function () {
    const pair = await pairOn(f, await readyClient(server.port), 20_000);
    expect((await compareGet(pair, '/ns/docs/a', 'fill')).cache).to.equal('MISS');
    await eventuallyHit(pair.h, '/ns/docs/a');
    await server.kill();
    try {
      for (let i = 0; i < 4; i += 1) expect((await compareGet(pair, '/ns/docs/a', `dead ${i}`)).cache).to.equal('BYPASS');
      // A clear while Redis is down: it cannot reach the store, yet nothing from before it may come back.
      await timedPut(pair, 'docs');
      for (let i = 0; i < 4; i += 1) await compareGet(pair, '/ns/docs/a', `dead after PUT ${i}`);
    } finally {
      await server.restart();
    }
    let last = '';
    const deadline = Date.now() + 15_000;
    while (last !== 'HIT') {
      expect(Date.now(), 'caching resumed within 15 s of the restart').to.be.below(deadline);
      last = (await compareGet(pair, '/ns/docs/a', 'after restart')).cache;
      await sleep(50);
    }
    await timedPut(pair, 'docs');
    expect((await compareGet(pair, '/ns/docs/a', 'after a second clear')).cache).to.equal('MISS');
  });
});

describe('faults: Redis slowed by a TCP proxy adding 300 ms per reply', function () {
  this.timeout(30_000);
  const f = useFactory('faults-slow');
  const server = useRedisProcess();
  let proxy: SlowProxy;

  before(async function () {
    proxy = await startSlowProxy(server.port, 0);
  });
  after(async function () {
    await proxy?.stop();
  });

  it('keeps the bound, answers byte-identical, and an entry from before a clear never comes back once Redis is fast again', async function () {
    const pair = await pairOn(f, await readyClient(proxy.port), 20_000);
    await compareGet(pair, '/ns/docs/a', 'fill');
    await eventuallyHit(pair.h, '/ns/docs/a');
    proxy.setDelay(300);
    try {
      for (let i = 0; i < 8; i += 1) expect((await compareGet(pair, '/ns/docs/a', `slow ${i}`)).cache).to.equal('BYPASS');
      await timedPut(pair, 'docs');
      for (let i = 0; i < 8; i += 1) await compareGet(pair, '/ns/docs/a', `slow after PUT ${i}`);
    } finally {
      proxy.setDelay(0);
    }
    let last = '';
    const deadline = Date.now() + 10_000;
    while (last !== 'HIT') {
      expect(Date.now(), 'caching resumed within 10 s').to.be.below(deadline);
      last = (await compareGet(pair, '/ns/docs/a', 'fast again')).cache;
      await sleep(50);
    }
  });
});

describe('faults: Redis under maxmemory with allkeys-lru', function () {
  this.timeout(30_000);
  const f = useFactory('faults-lru');
  const server = useRedisProcess({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lru', '--maxmemory-samples', '10'] });
  let admin: Redis;

  before(function () {
    admin = server.client();
  });

  it('evicting entries and generation keys: bounded, byte-identical, never an entry from before a clear', async function () {
    const pair = await pairOn(f, await readyClient(server.port), 16_000);
    const namespaces = Array.from({ length: 16 }, (_, i) => `n${i}`);
    const keys = Array.from({ length: 6 }, (_, i) => `k${i}`);
    const cold = namespaces.slice(0, 8);
    const hot = namespaces.slice(8);
    // Fill the cold half, then churn the hot half long enough that the cold half (generations included) is evicted.
    for (const ns of cold) for (const key of keys) await compareGet(pair, `/ns/${ns}/${key}`, `fill ${ns}/${key}`);
    for (let round = 0; round < 4; round += 1) {
      for (const ns of hot) for (const key of keys) await compareGet(pair, `/ns/${ns}/${key}`, `churn ${round} ${ns}/${key}`);
    }
    const stats = await admin.info('stats');
    expect(Number(/evicted_keys:(\d+)/.exec(stats)?.[1]), 'Redis evicted keys').to.be.above(0);
    const generationKeys = cold.map((ns) => keyLayout(pair.h.prefix).generation(ns));
    const present = await admin.exists(...generationKeys);
    expect(present, 'some generation keys of the cold namespaces were evicted').to.be.below(cold.length);

    // Random traffic over every namespace with clears in between: the reference decides what is right.
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const seen = new Set<string>();
    for (let op = 0; op < 250; op += 1) {
      const ns = namespaces[random(namespaces.length)]!;
      if (random(100) < 15) {
        await timedPut(pair, ns);
      } else {
        const key = keys[random(keys.length)]!;
        seen.add((await compareGet(pair, `/ns/${ns}/${key}`, `op ${op} ${ns}/${key}`)).cache);
      }
    }
    expect([...seen], 'the cache was in use, not bypassed').to.include('HIT');
  });

  it('a fill that began before a clear is not stored when the generation that clear wrote is evicted before the fill lands', async function () {
    const redis = await readyClient(server.port);
    const h = await f.setupOn(redis, { timeoutMs: TIMEOUT_MS });
    const db = { version: 1 };
    const handlerRead = deferred();
    const gate = deferred();
    let calls = 0;
    h.app.get('/doc', h.cache.route({ namespace: 'evicted', key: 'doc' }), async (_req, res) => {
      calls += 1;
      const version = db.version;
      if (calls === 1) {
        handlerRead.resolve();
        await gate.promise;
      }
      res.json({ version });
    });
    h.app.put('/doc', h.cache.invalidate({ namespaces: ['evicted'] }), (_req, res) => {
      db.version += 1;
      res.json({ version: db.version });
    });
    const generationKey = keyLayout(h.prefix).generation('evicted');
    // A cold namespace (no generation yet, as after an eviction); the fill reads version 1 and is held.
    const slowFill = h.http().get('/doc');
    const filled = slowFill.then((res) => res);
    await handlerRead.promise;
    await h.http().put('/doc').expect(200);
    expect(await admin.exists(generationKey), 'the clear wrote a generation').to.equal(1);
    // allkeys-lru (or any eviction policy) may drop that generation before the slow fill lands; do it deterministically.
    await admin.del(generationKey);
    gate.resolve();
    expect((await filled).body).to.deep.equal({ version: 1 });
    await sleep(SETTLE_MS);
    const after = await h.http().get('/doc').expect(200);
    expect(after.body, `a read after the acknowledged PUT (X-Cache ${String(after.headers['x-cache'])})`).to.deep.equal({ version: 2 });
  });
});

describe('faults: circuit breaker measured with INFO commandstats', function () {
  this.timeout(30_000);
  const f = useFactory('faults-breaker');
  const server = useRedisProcess();
  let proxy: SlowProxy;
  let admin: Redis;

  before(async function () {
    proxy = await startSlowProxy(server.port, 0);
    admin = server.client();
  });
  after(async function () {
    await proxy?.stop();
  });

  /** How many MGETs (one per lookup) Redis has executed since the last RESETSTAT. */
  async function lookups(): Promise<number> {
    const info = await admin.info('commandstats');
    return Number(/cmdstat_mget:calls=(\d+)/.exec(info)?.[1] ?? 0);
  }

  async function timed(h: AppHandle): Promise<{ cache: string; ms: number }> {
    const start = Date.now();
    const res = await h.http().get('/doc').expect(200);
    expect(res.body).to.deep.equal({ doc: 'content' });
    return { cache: String(res.headers['x-cache']), ms: Date.now() - start };
  }

  it('after 5 failures stops trying Redis (no timeout paid per request), then lets exactly one probe through per cooldown', async function () {
    // Wide apart, so that on a loaded machine an open-circuit request (seen at 173 ms) is never taken for one that
    // paid the timeout, and a burst of 20 requests ends well inside one cooldown.
    const timeoutMs = 1000;
    const cooldownMs = 3000;
    const h = await f.setupOn(await readyClient(proxy.port), {
      timeoutMs,
      breaker: { failures: 5, cooldownMs },
      logger: captureLogger().logger,
    });
    h.app.get('/doc', h.cache.route({ namespace: 'breaker', key: 'doc' }), (_req, res) => {
      res.json({ doc: 'content' });
    });
    await h.http().get('/doc').expect(200);
    await eventuallyHit(h, '/doc');
    await admin.config('RESETSTAT');
    proxy.setDelay(5000);

    for (let i = 0; i < 5; i += 1) {
      const { cache, ms } = await timed(h);
      expect(cache).to.equal('BYPASS');
      expect(ms, `failure ${i} waited out the timeout`).to.be.at.least(timeoutMs - 20);
    }
    // Commands travel to Redis at once (only replies are delayed), so the count is exact.
    await waitFor('5 lookups at Redis', async () => (await lookups()) === 5, 2000);

    const open = await Promise.all(Array.from({ length: 20 }, () => timed(h)));
    for (const [i, { cache, ms }] of open.entries()) {
      expect(cache).to.equal('BYPASS');
      expect(ms, `request ${i} with the circuit open`).to.be.below(timeoutMs / 2);
    }
    await sleep(100);
    expect(await lookups(), 'no lookup reached Redis while the circuit was open').to.equal(5);

    await sleep(cooldownMs);
    const halfOpen = await Promise.all(Array.from({ length: 10 }, () => timed(h)));
    expect(
      halfOpen.filter((r) => r.ms >= timeoutMs - 20),
      'exactly one request paid for the probe',
    ).to.have.length(1);
    await sleep(100);
    expect(await lookups(), 'one probe after the cooldown').to.equal(6);

    // The probe failed: open again, and the next cooldown lets one more through.
    const reopened = await timed(h);
    expect(reopened.ms).to.be.below(timeoutMs / 2);
    expect(await lookups()).to.equal(6);
    await sleep(cooldownMs + 100);
    await Promise.all(Array.from({ length: 5 }, () => timed(h)));
    await sleep(100);
    expect(await lookups(), 'one probe per cooldown').to.equal(7);

    // Redis fast again: once a probe succeeds, every request uses the cache.
    proxy.setDelay(0);
    await waitFor('a HIT after recovery', async () => (await timed(h)).cache === 'HIT', 10_000, 100);
    const before = await lookups();
    for (let i = 0; i < 5; i += 1) expect((await timed(h)).cache).to.equal('HIT');
    expect(await lookups()).to.equal(before + 5);
  });
});

describe('faults: unfinished responses are never stored nor shared', function () {
  this.timeout(30_000);
  const f = useFactory('faults-partial');

  const FULL = 'the complete body';

  /** Mounts /slow whose first call writes a partial body, waits for `gate`, then finishes with `firstEnding`. */
  function mountSlow(h: AppHandle, firstEnding: 'end' | 'throw', gate: Promise<void>, leaderClosed: () => void): { calls: number } {
    const counter = { calls: 0 };
    // 'test' keeps Express's final handler from printing the deliberate error.
    h.app.set('env', 'test');
    h.app.get('/slow', h.cache.route({ namespace: 'partial', key: 'slow' }), async (_req, res) => {
      counter.calls += 1;
      res.type('text/plain');
      if (counter.calls > 1) {
        res.end(FULL);
        return;
      }
      res.on('close', leaderClosed);
      res.write('partial-');
      await gate;
      if (firstEnding === 'throw') throw new Error('handler failed after res.write');
      res.end('rest');
    });
    return counter;
  }

  /** The waiters' complete answers may be stored; the leader's partial one never. */
  async function expectNoPartialStored(h: AppHandle): Promise<void> {
    for (const key of await entryKeys(h)) {
      const value = await h.redis!.getBuffer(key);
      expect(value?.includes('partial-'), `${key} holds the partial body`).to.equal(false);
    }
  }

  /** Starts the leader request and resolves once its first body bytes arrived; destroy() aborts it. */
  async function startLeader(url: string): Promise<{ destroy(): void }> {
    const req = http.get(`${url}/slow`);
    req.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      req.on('response', (res) => {
        res.on('error', () => undefined);
        res.once('data', () => resolve());
      });
    });
    return { destroy: () => req.destroy() };
  }

  it('the client disconnects mid-response: nothing is stored and coalesced waiters get full bodies, never the partial one', async function () {
    const h = await f.setup('redis');
    const gate = deferred();
    const closed = deferred();
    const counter = mountSlow(h, 'end', gate.promise, () => closed.resolve());
    const leader = await startLeader(h.url);
    const waiters = Promise.all(Array.from({ length: 5 }, () => request(h.url).get('/slow')));
    // Let the waiters reach the cache and coalesce on the leader's fill.
    await sleep(200);
    leader.destroy();
    await closed.promise;
    gate.resolve();
    for (const res of await waiters) {
      expect(res.status).to.equal(200);
      expect(res.text).to.equal(FULL);
      expect(res.headers['x-cache']).to.not.equal('HIT');
    }
    expect(counter.calls, 'each waiter ran the handler itself').to.equal(6);
    await sleep(SETTLE_MS);
    await expectNoPartialStored(h);
    const next = await h.http().get('/slow').expect(200);
    expect(next.text).to.equal(FULL);
  });

  it('the handler throws after res.write: nothing is stored and coalesced waiters get full bodies, never the partial one', async function () {
    const h = await f.setup('redis');
    const gate = deferred();
    const counter = mountSlow(h, 'throw', gate.promise, () => undefined);
    await startLeader(h.url);
    const waiters = Promise.all(Array.from({ length: 5 }, () => request(h.url).get('/slow')));
    await sleep(200);
    gate.resolve();
    for (const res of await waiters) {
      expect(res.status).to.equal(200);
      expect(res.text).to.equal(FULL);
      expect(res.headers['x-cache']).to.not.equal('HIT');
    }
    expect(counter.calls).to.equal(6);
    await sleep(SETTLE_MS);
    await expectNoPartialStored(h);
    const next = await h.http().get('/slow').expect(200);
    expect(next.text).to.equal(FULL);
  });
});

describe('faults: every key the package writes expires', function () {
  this.timeout(30_000);
  const f = useFactory('faults-ttl');
  const server = useRedisProcess();
  let admin: Redis;

  before(function () {
    admin = server.client();
  });

  it('entries PX fresh+stale, locks PX, records never shorter than their entries; no key without a TTL; a clear of an unwritten namespace writes nothing', async function () {
    const lockTtlMs = 4000;
    const refreshBackoffMs = 3000;
    const h = await f.setupOn(await readyClient(server.port), { timeoutMs: 500, lockTtlMs, refreshBackoffMs });
    const hold = deferred();
    const inHandler = deferred();
    let calls = 0;
    h.app.get('/short', h.cache.route({ namespace: 'pages', ttl: '1s', staleTtl: '5s' }), (_req, res) => {
      calls += 1;
      // The second call is the background refresh: it fails, so the refresh lock is held for the backoff.
      if (calls === 2) res.status(500).send('origin down');
      else res.json({ calls });
    });
    h.app.get('/slow', h.cache.route({ namespace: 'pages', ttl: '10s' }), async (_req, res) => {
      inHandler.resolve();
      await hold.promise;
      res.json({ slow: true });
    });
    h.app.get('/long', h.cache.route({ namespace: 'long-lived', ttl: '2d' }), (_req, res) => {
      res.json({ long: true });
    });
    h.app.put('/pages', h.cache.invalidate({ namespaces: ['pages', 'never-written'] }), (_req, res) => {
      res.json({ ok: true });
    });

    const pttl = async (): Promise<Map<string, number>> => {
      const keys = await scanKeys(admin, '*');
      const result = new Map<string, number>();
      for (const key of keys) result.set(key, await admin.pttl(key));
      return result;
    };

    await h.http().get('/short').expect(200);
    await eventuallyHit(h, '/short');
    await h.http().get('/long').expect(200);
    await eventuallyHit(h, '/long');
    expect(await h.cache.getOrSet('data', 'value', () => ({ at: new Date(0) }), { ttl: 30, staleTtl: 30 })).to.deep.equal({
      at: new Date(0),
    });

    // A fill in progress holds a lock: it must expire too.
    const slow = h.http().get('/slow');
    const slowDone = slow.then((res) => res);
    await inHandler.promise;
    const duringFill = await pttl();
    const lockKeys = [...duringFill.keys()].filter((key) => key.includes(':l:'));
    expect(lockKeys, 'a fill lock is held').to.have.length.at.least(1);
    for (const key of lockKeys) expect(duringFill.get(key), key).to.be.within(1, lockTtlMs);
    hold.resolve();
    await slowDone;

    // Stale, and the refresh fails: the refresh lock is held for the backoff.
    await sleep(1100);
    const stale = await h.http().get('/short').expect(200);
    expect(stale.headers['x-cache']).to.equal('STALE');
    await waitFor('the failed refresh', () => calls >= 2, 3000);
    await sleep(SETTLE_MS);
    await h.http().put('/pages').expect(200);

    const all = await pttl();
    expect(all.size).to.be.above(0);
    const day = 24 * 60 * 60 * 1000;
    const layout = keyLayout(h.prefix);
    const entriesOf = (namespace: string): Array<[string, number]> =>
      [...all].filter(([key]) => layout.parse(key)?.part === 'e' && layout.parse(key)?.namespace === namespace);
    for (const [key, ttl] of all) {
      expect(key.startsWith(`${h.prefix}:`), `${key} is under the cache's prefix`).to.equal(true);
      expect(ttl, `${key} has a TTL`).to.be.above(0);
      const part = layout.parse(key)?.part;
      if (part === 'g' || part === 'all' || part === 't') {
        // Records live as long as the longest entry that names them, or a short fill TTL when no entry was stored.
        expect(ttl, `${key} (record)`).to.be.at.most(2 * day + 1000);
      } else if (part === 'e') {
        expect(ttl, `${key} (entry)`).to.be.at.most(2 * day);
      } else if (part === 'l' || part === 'r') {
        expect(ttl, `${key} (lock)`).to.be.at.most(Math.max(lockTtlMs, refreshBackoffMs));
      } else {
        expect.fail(`${key} is not a documented key kind`);
      }
    }
    // Entries of the short route live fresh + stale (6 s) at most.
    const pagesEntries = entriesOf('pages');
    expect(pagesEntries.length).to.be.at.least(1);
    for (const [key, ttl] of pagesEntries) expect(ttl, key).to.be.at.most(10_000);
    // Issue 14 item 14: an absent record validates nothing, so a clear of a namespace nothing was written to writes nothing.
    expect(all.has(layout.generation('never-written')), 'a clear of an unwritten namespace writes no key').to.equal(false);
    // The namespace record and the global record outlive every entry written under them.
    const [longEntry] = entriesOf('long-lived');
    expect(longEntry, 'the 2-day entry').to.not.equal(undefined);
    // Read a moment apart, so allow a second of difference.
    expect(all.get(layout.generation('long-lived'))).to.be.at.least(longEntry![1] - 1000);
    expect(all.get(layout.all())).to.be.at.least(longEntry![1] - 1000);
    const refreshLocks = [...all.keys()].filter((key) => key.includes(':r:'));
    expect(refreshLocks, 'the failed refresh holds its lock (with a TTL)').to.have.length.at.least(1);
    expect(await entryKeys({ ...h, redis: admin })).to.have.length.at.least(3);
    expect(await scanKeys(admin, `${escapeGlob(h.prefix)}:*`)).to.have.length(all.size);
  });
});

describe('faults: a hung store cannot queue commands without end, even with the breaker off', function () {
  const server = useRedisProcess();

  it('refuses store calls past MAX_PENDING_STORE_CALLS at once while the server is paused', async function () {
    // Default ioredis options: retries and the offline queue would keep every command.
    const client = server.client({ maxRetriesPerRequest: null });
    await client.ping();
    const cache = createCache({
      redis: client,
      prefix: 'pending-cap',
      timeoutMs: 30,
      breaker: false,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    server.pause();
    try {
      const calls = MAX_PENDING_STORE_CALLS + 1500;
      const started = Date.now();
      const values = await Promise.all(Array.from({ length: calls }, (_, i) => cache.getOrSet('ns', `k${i}`, async () => i)));
      expect(values[calls - 1]).to.equal(calls - 1);
      const queued =
        (client as unknown as { commandQueue: { length: number } }).commandQueue.length +
        (client as unknown as { offlineQueue: { length: number } }).offlineQueue.length;
      // A lookup that gets a fill ready is two commands on the wire (the script and the GET pipelined behind it).
      expect(queued, 'commands waiting in ioredis').to.be.at.most(2 * MAX_PENDING_STORE_CALLS + 50);
      expect(cache.stats().bypasses).to.equal(calls);
      expect(Date.now() - started, 'every call answered within the bound').to.be.lessThan(5000);
    } finally {
      server.resume();
      await cache.close();
    }
  });
});
