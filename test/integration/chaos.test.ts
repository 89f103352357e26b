/**
 * The store-call bounds, tested fast and exactly through a chaos client
 * (test/helpers/chaos-redis.ts) on the shared Redis: the circuit breaker
 * opens after N failures, makes no store call while open and lets one probe
 * through after the cooldown; a store that answers late or never is waited
 * for at most timeoutMs (BYPASS); and no more than 2000 store calls are ever
 * left waiting. The same behaviours on real paused/slowed servers are in
 * faults.test.ts and fail-open.test.ts.
 */
import { expect } from 'chai';
import express from 'express';
import sinon from 'sinon';
import request from 'supertest';
import { createCache, type Cache, type CacheOptions } from 'express-cache-aside';
import { captureLogger, useFactory, waitFor } from '../helpers/app-factory';
import { chaos, type ChaosRedis } from '../helpers/chaos-redis';

/** The pending-call cap the README promises ("a hung store cannot queue commands without end"). */
const MAX_PENDING_STORE_CALLS = 2000;

describe('store-call bounds through a chaos client', function () {
  this.timeout(30_000);
  const clients: ChaosRedis[] = [];
  // Registered before the factory's cleanup, so hung commands are released before caches close.
  afterEach(() => {
    for (const client of clients.splice(0)) client.chaos.heal();
  });
  const f = useFactory('chaos');

  async function chaosClient(): Promise<ChaosRedis> {
    const client = chaos(await f.redis());
    clients.push(client);
    return client;
  }

  /** A cache on a chaos client with one cached route, GET /doc, whose handler runs are counted. */
  async function serve(
    client: ChaosRedis,
    options: CacheOptions,
  ): Promise<{ cache: Cache; runs: () => number; get: () => Promise<{ cache: string; ms: number }> }> {
    const cache = f.adopt(createCache({ logger: captureLogger().logger, ...options, redis: client, prefix: f.prefix() }));
    let runs = 0;
    const app = express();
    app.get('/doc', cache.route({ namespace: 'chaos', key: 'doc', ttl: '1h' }), (_req, res) => {
      runs += 1;
      res.json({ doc: 'content' });
    });
    const url = await f.listen(app);
    const get = async (): Promise<{ cache: string; ms: number }> => {
      const start = Date.now();
      const res = await request(url).get('/doc').expect(200);
      expect(res.body).to.deep.equal({ doc: 'content' });
      return { cache: String(res.headers['x-cache']), ms: Date.now() - start };
    };
    return { cache, runs: () => runs, get };
  }

  it('the wrapper passes commands through, and throws, delays or hangs them for all commands or named ones', async function () {
    const client = await chaosClient();
    const key = `${f.prefix()}:wrapper`;
    expect(await client.set(key, 'v', 'PX', 60_000)).to.equal('OK');
    client.chaos.alwaysThrow(['get']);
    const thrown = await client.get(key).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    expect(thrown).to.equal('chaos: get failed');
    expect(await client.exists(key), 'a command not named passes').to.equal(1);
    client.chaos.alwaysDelay(150);
    const start = Date.now();
    expect(await client.exists(key)).to.equal(1);
    expect(Date.now() - start, 'delayed').to.be.at.least(140);
    client.chaos.alwaysHang();
    const hanging = client.get(key);
    await waitFor('the command to hang', () => client.chaos.hanging === 1, 1000);
    client.chaos.heal();
    expect(
      await hanging.then(
        () => 'answered',
        (err: Error) => err.message,
      ),
    ).to.match(/released by heal/);
    expect(await client.get(key), 'healed').to.equal('v');
    expect(client.chaos.calls('get')).to.equal(3);
  });

  it('breaker: opens after 3 failures, makes no store call while open, lets exactly one probe through per cooldown, closes on a good probe', async function () {
    // Only Date is faked, and it still runs with real time: the cooldown can be ten minutes that the test skips
    // (twice, within the entry's hour).
    const clock = sinon.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const cooldownMs = 600_000;
    const timeoutMs = 300;
    const client = await chaosClient();
    const s = await serve(client, { timeoutMs, breaker: { failures: 3, cooldownMs } });
    expect((await s.get()).cache).to.equal('MISS');
    await waitFor('the entry to be a HIT', async () => (await s.get()).cache === 'HIT');

    client.chaos.alwaysThrow();
    const beforeFailures = client.chaos.calls();
    for (let i = 0; i < 3; i += 1) expect((await s.get()).cache, `failure ${i}`).to.equal('BYPASS');
    expect(client.chaos.calls() - beforeFailures, 'each failing request tried the store once').to.equal(3);

    const opened = client.chaos.calls();
    const runs = s.runs();
    const open = await Promise.all(Array.from({ length: 20 }, () => s.get()));
    expect(open.map((r) => r.cache)).to.deep.equal(Array(20).fill('BYPASS'));
    expect(s.runs() - runs, 'every request answered by its handler').to.equal(20);
    expect(client.chaos.calls(), 'no store call while the circuit is open').to.equal(opened);

    // The probe hangs, so every request sent while it is out must skip the store.
    client.chaos.alwaysHang();
    clock.tick(cooldownMs);
    const halfOpen = await Promise.all(Array.from({ length: 10 }, () => s.get()));
    expect(halfOpen.map((r) => r.cache)).to.deep.equal(Array(10).fill('BYPASS'));
    expect(client.chaos.calls() - opened, 'exactly one probe after the cooldown').to.equal(1);
    expect(
      halfOpen.filter((r) => r.ms >= timeoutMs - 20),
      'only the probe waited out the timeout',
    ).to.have.length(1);

    // The probe timed out: open again for a whole cooldown.
    await Promise.all(Array.from({ length: 5 }, () => s.get()));
    expect(client.chaos.calls() - opened, 'a failed probe reopens the circuit').to.equal(1);

    client.chaos.heal();
    clock.tick(cooldownMs);
    expect((await s.get()).cache, 'the probe answers from the store').to.equal('HIT');
    const closed = client.chaos.calls();
    for (let i = 0; i < 5; i += 1) expect((await s.get()).cache).to.equal('HIT');
    expect(client.chaos.calls() - closed, 'closed again: every request uses the store').to.equal(5);
    clock.restore();
  });

  it('timeout: a store that answers late or never is waited for timeoutMs, the request answered BYPASS by its handler', async function () {
    const timeoutMs = 250;
    const boundMs = timeoutMs + 1500;
    const client = await chaosClient();
    const s = await serve(client, { timeoutMs, breaker: false });
    expect((await s.get()).cache).to.equal('MISS');
    await waitFor('the entry to be a HIT', async () => (await s.get()).cache === 'HIT');

    client.chaos.alwaysHang();
    const hung = await s.get();
    expect(hung.cache).to.equal('BYPASS');
    expect(hung.ms, 'waited for the timeout').to.be.at.least(timeoutMs - 20);
    expect(hung.ms, 'answered within the bound').to.be.below(boundMs);

    client.chaos.alwaysDelay(5000);
    const late = await s.get();
    expect(late.cache).to.equal('BYPASS');
    expect(late.ms).to.be.within(timeoutMs - 20, boundMs);

    expect(await s.cache.getOrSet('data', 'late', () => 'from fetch'), 'getOrSet answers from fetch').to.equal('from fetch');

    // Late but inside the timeout: still a hit.
    client.chaos.alwaysDelay(20);
    expect((await s.get()).cache).to.equal('HIT');
  });

  it('pending cap: with the breaker off and the store hung, at most 2000 store calls wait; the rest are refused at once', async function () {
    const client = await chaosClient();
    const cache = f.adopt(
      createCache({ redis: client, prefix: f.prefix(), timeoutMs: 30, breaker: false, logger: captureLogger().logger }),
    );
    client.chaos.alwaysHang();
    const calls = MAX_PENDING_STORE_CALLS + 1500;
    const started = Date.now();
    const values = await Promise.all(Array.from({ length: calls }, (_, i) => cache.getOrSet('ns', `k${i}`, async () => i)));
    expect(values).to.deep.equal(Array.from({ length: calls }, (_, i) => i));
    // A lookup is one script or MGET, with the entry's GET pipelined beside a script: count lookups by their first command.
    const lookups = client.chaos.calls('evalsha') + client.chaos.calls('mget');
    expect(lookups, 'store calls still waiting').to.equal(MAX_PENDING_STORE_CALLS);
    expect(client.chaos.hanging, 'every command that reached the client is still waiting').to.equal(client.chaos.calls());
    expect(client.chaos.calls(), 'calls past the cap never reach the client').to.be.at.most(2 * MAX_PENDING_STORE_CALLS);
    expect(cache.stats().bypasses).to.equal(calls);
    expect(Date.now() - started, 'every call answered within the bound').to.be.below(5000);

    // The waiting calls end (here: rejected): the cap is free again and the store is used.
    client.chaos.heal();
    // The rejections reach the cache in microtasks; one turn of the event loop settles them all.
    await new Promise((resolve) => setImmediate(resolve));
    const bypasses = cache.stats().bypasses;
    await waitFor(
      'a getOrSet answered from the store',
      async () => (await cache.getOrSet('ns', 'after', async () => 'v')) === 'v' && cache.stats().hits === 1,
    );
    expect(cache.stats().bypasses, 'no call refused once the waiting calls ended').to.equal(bypasses);
  });
});
