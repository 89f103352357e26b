/**
 * The package behind Redis Sentinel (a master, a replica and three
 * sentinels, started on free ports by this file): a READONLY reply from a
 * replica is never taken for a value, and through a manual failover and
 * through the master being killed, every request keeps its latency bound,
 * every answer is the current data, and caching resumes on the promoted
 * master without restarting the app.
 *
 * Client configuration an app is expected to use (and this file uses):
 * ioredis in sentinel mode (`sentinels`, `name`) with
 * - `reconnectOnError` returning 2 on READONLY: a node demoted to replica
 *   answers writes with READONLY; reconnect (re-asking the sentinels for the
 *   master) and resend the command;
 * - `failoverDetector: true`: reconnect as soon as the sentinels announce
 *   +switch-master instead of waiting for the old connection to fail;
 * - the harness's fail-fast settings: `maxRetriesPerRequest: 1`,
 *   `connectTimeout: 2000`, `retryStrategy`/`sentinelRetryStrategy` capped
 *   at 500 ms / 1 s between attempts.
 */
import { expect } from 'chai';
import type { RedisOptions } from 'ioredis';
import type Redis from 'ioredis';
import { once } from 'node:events';
import { captureLogger, eventuallyHit, sleep, useFactory, waitFor, type AppHandle } from '../helpers/app-factory';
import { rawCommand } from '../helpers/redis-server';
import { startSentinelSet, type SentinelSet } from '../helpers/redis-sentinel';
import { randomPrefix } from '../helpers/shared-redis';

const TIMEOUT_MS = 100;
/** "Bounded latency" on a shared 2-core machine: timeoutMs plus a generous margin. */
const BOUND_MS = 500;
/** A mutation whose client is reconnecting waits up to clearWaitMs (default 1000) for it: the PUT bound is timeoutMs + clearWaitMs + timeoutMs. */
const PUT_BOUND_MS = TIMEOUT_MS + 1000 + TIMEOUT_MS + BOUND_MS;

/** What an app on Sentinel should configure (see the file header). */
const appClientOptions: RedisOptions = {
  reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
  failoverDetector: true,
};

async function ready(redis: Redis): Promise<Redis> {
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

/** The "database" behind the routes. */
interface Db {
  version: number;
}

/** GET /doc cached in namespace 'docs'; PUT /doc bumps the version and clears 'docs'. */
function mountDoc(h: AppHandle, db: Db): void {
  h.app.get('/doc', h.cache.route({ namespace: 'docs', key: 'doc' }), (_req, res) => {
    res.json({ version: db.version });
  });
  h.app.put('/doc', h.cache.invalidate({ namespaces: ['docs'] }), (_req, res) => {
    db.version += 1;
    res.json({ version: db.version });
  });
}

/** One request of the traffic loop. */
interface Sample {
  at: number;
  method: 'GET' | 'PUT';
  ms: number;
  cache: string;
}

/**
 * Sequential traffic (7 GETs, then a PUT) until `done` says stop: every GET
 * must answer the latest acknowledged version within the bound, every PUT
 * within timeoutMs + the bound. Rejects on the first violation.
 */
async function traffic(h: AppHandle, db: Db, done: (samples: Sample[]) => boolean, maxMs: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const deadline = Date.now() + maxMs;
  for (let i = 0; !done(samples); i += 1) {
    if (Date.now() > deadline) {
      throw new Error(`traffic did not reach its goal within ${maxMs} ms; last samples: ${JSON.stringify(samples.slice(-10))}`);
    }
    const start = Date.now();
    if (i % 8 === 7) {
      const res = await h.http().put('/doc');
      const ms = Date.now() - start;
      expect(res.status, `PUT ${i}`).to.equal(200);
      expect(ms, `PUT ${i} took`).to.be.below(PUT_BOUND_MS);
      samples.push({ at: start, method: 'PUT', ms, cache: '' });
    } else {
      const expected = db.version;
      const res = await h.http().get('/doc');
      const ms = Date.now() - start;
      const cache = String(res.headers['x-cache']);
      expect(res.status, `GET ${i}`).to.equal(200);
      expect(res.body, `GET ${i} (X-Cache ${cache})`).to.deep.equal({ version: expected });
      expect(ms, `GET ${i} took (X-Cache ${cache})`).to.be.below(BOUND_MS);
      samples.push({ at: start, method: 'GET', ms, cache });
    }
    await sleep(15);
  }
  return samples;
}

/** True once, after `since`, a PUT went through and a later GET was a HIT: caching works again. */
function cachingResumedSince(since: () => number | undefined): (samples: Sample[]) => boolean {
  return (samples) => {
    const t = since();
    if (t === undefined) return false;
    const put = samples.findIndex((s) => s.at >= t && s.method === 'PUT');
    return put >= 0 && samples.slice(put + 1).some((s) => s.cache === 'HIT');
  };
}

describe('Redis Sentinel (master, replica, three sentinels)', function () {
  this.timeout(60_000);
  const f = useFactory('sentinel');
  let set: SentinelSet;

  before(async function () {
    set = await startSentinelSet();
  });
  after(async function () {
    await set?.stop();
  });

  /**
   * Waits until the node on `port` is a replica in sync and every sentinel lists it as a healthy replica.
   * After a manual failover Sentinel leaves the old master a master for about 10 s before it converts it.
   */
  async function healthyReplica(port: number): Promise<void> {
    const sentinels = set.sentinels.map((s) => s.client({ commandTimeout: 1000 }));
    await waitFor(
      `node ${port} to be a synced replica known to the sentinels`,
      async () => {
        const info = await rawCommand(port, 'INFO replication', 1000);
        if (info === null || !/role:slave/.test(info) || !/master_link_status:up/.test(info)) return false;
        const views = await Promise.all(
          sentinels.map((s) => (s.call('SENTINEL', 'REPLICAS', set.masterName) as Promise<string[][]>).catch(() => [])),
        );
        return views.every((replicas) =>
          replicas.some((flat) => {
            const fields = new Map<string, string>();
            for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
            // Sentinels refresh a replica's INFO only every 10 s, so their copy of its link status lags; the node's own INFO above is current.
            return fields.get('port') === String(port) && fields.get('flags') === 'slave';
          }),
        );
      },
      20_000,
      200,
    );
    for (const s of sentinels) s.disconnect();
  }

  it('a READONLY reply is never taken for a value: a cache whose client reaches a replica answers correctly, stores nothing, clears nothing by it', async function () {
    const prefix = randomPrefix('sentinel');
    const db: Db = { version: 1 };
    const onMaster = await f.setupOn(await ready(set.client(appClientOptions)), {
      prefix,
      timeoutMs: TIMEOUT_MS,
      logger: captureLogger().logger,
    });
    mountDoc(onMaster, db);
    // A process whose connection ended up on a replica (a demoted master, a stale address).
    const log = captureLogger();
    const onReplica = await f.setupOn(await ready(set.replica.client()), { prefix, timeoutMs: TIMEOUT_MS, logger: log.logger });
    mountDoc(onReplica, db);
    let otherCalls = 0;
    onReplica.app.get('/other', onReplica.cache.route({ namespace: 'docs', key: 'other' }), (_req, res) => {
      otherCalls += 1;
      res.json({ other: true });
    });

    await onMaster.http().get('/doc').expect(200);
    await eventuallyHit(onMaster, '/doc');
    // Reads work on the replica: the entry replicated from the master is a hit there.
    const replicated = await eventuallyHit(onReplica, '/doc');
    expect(replicated.body).to.deep.equal({ version: 1 });

    // A fill through the replica: the write is refused with READONLY and must not count as stored.
    for (let i = 0; i < 3; i += 1) {
      const res = await onReplica.http().get('/other').expect(200);
      expect(res.body).to.deep.equal({ other: true });
      expect(res.headers['x-cache'], `fill ${i} through the replica`).to.not.equal('HIT');
      await sleep(50);
    }
    expect(otherCalls).to.equal(3);

    // getOrSet through the replica: the fetched value every time, never an error reply.
    let fetches = 0;
    for (let i = 0; i < 2; i += 1) {
      expect(await onReplica.cache.getOrSet('data', 'v', () => ({ fetched: ++fetches }))).to.deep.equal({ fetched: i + 1 });
    }

    // A clear through the replica is refused: this process must not serve the old entry, and says so.
    const put = await onReplica.http().put('/doc').expect(200);
    expect(put.body).to.deep.equal({ version: 2 });
    for (let i = 0; i < 3; i += 1) {
      const res = await onReplica.http().get('/doc').expect(200);
      expect(res.body, `read ${i} after a clear the replica refused (X-Cache ${String(res.headers['x-cache'])})`).to.deep.equal({
        version: 2,
      });
      expect(res.headers['x-cache']).to.equal('BYPASS');
    }
    expect(onReplica.cache.stats().errors, 'READONLY replies are counted as store failures').to.be.above(0);
    expect(
      log.entries.some((e) => (e.level === 'warn' || e.level === 'error') && /READONLY|clear/i.test(JSON.stringify(e))),
      'logged',
    ).to.equal(true);
  });

  it('manual failover: a clear the old master acknowledged after the replica was promoted is not lost; bounded latency throughout', async function () {
    const db: Db = { version: 1 };
    const redis = await ready(set.client(appClientOptions));
    const h = await f.setupOn(redis, { timeoutMs: TIMEOUT_MS, logger: captureLogger().logger });
    mountDoc(h, db);
    await h.http().get('/doc').expect(200);
    await eventuallyHit(h, '/doc');
    const oldPort = await set.currentMasterPort();
    const newPort = oldPort === set.master.port ? set.replica.port : set.master.port;
    const connectedPort = (): number | undefined => (redis as unknown as { stream?: { remotePort?: number } }).stream?.remotePort;
    const admin = set.sentinels[0]!.client({ commandTimeout: 2000 });
    await admin.call('SENTINEL', 'FAILOVER', set.masterName);
    // Sentinel promotes the replica first and demotes the old master a little later; writes in between go to the old master.
    await waitFor(
      'the replica to be promoted',
      async () => /role:master/.test((await rawCommand(newPort, 'INFO replication', 500)) ?? ''),
      15_000,
      5,
    );
    const putOn = connectedPort();
    const start = Date.now();
    const put = await h.http().put('/doc').expect(200);
    expect(Date.now() - start, 'PUT during the failover took').to.be.below(PUT_BOUND_MS);
    expect(put.body).to.deep.equal({ version: 2 });

    // From here on every read must be version 2, until caching runs on the promoted master.
    let onNewMaster = 0;
    const deadline = Date.now() + 20_000;
    while (onNewMaster < 3) {
      expect(Date.now(), 'caching resumed on the promoted master within 20 s').to.be.below(deadline);
      const t0 = Date.now();
      const res = await h.http().get('/doc').expect(200);
      const ms = Date.now() - t0;
      const cache = String(res.headers['x-cache']);
      expect(
        res.body,
        `read after the acknowledged PUT (sent to port ${String(putOn)}; X-Cache ${cache}, connected to ${String(connectedPort())}, new master ${newPort})`,
      ).to.deep.equal({ version: 2 });
      expect(ms, `read took (X-Cache ${cache})`).to.be.below(BOUND_MS);
      if (connectedPort() === newPort && cache !== 'BYPASS') onNewMaster += 1;
      await sleep(20);
    }
    expect((await eventuallyHit(h, '/doc')).body).to.deep.equal({ version: 2 });
    await healthyReplica(oldPort);
  });

  it('master killed: bounded latency through the failover, never an old answer, caching resumes after promotion without restarting the app', async function () {
    // Whatever the previous test left, start from a replica in sync that the sentinels can promote.
    const masterPort = await set.currentMasterPort();
    await healthyReplica(masterPort === set.master.port ? set.replica.port : set.master.port);
    const db: Db = { version: 1 };
    const h = await f.setupOn(await ready(set.client(appClientOptions)), { timeoutMs: TIMEOUT_MS, logger: captureLogger().logger });
    mountDoc(h, db);
    await h.http().get('/doc').expect(200);
    await eventuallyHit(h, '/doc');
    const oldPort = await set.currentMasterPort();
    let promotedAt: number | undefined;
    let failover: Error | undefined;
    const running = traffic(
      h,
      db,
      cachingResumedSince(() => promotedAt),
      40_000,
    );
    await sleep(300);
    await set.killMaster();
    try {
      await set.waitForFailover(oldPort, 30_000);
    } catch (err) {
      failover = err as Error;
    }
    promotedAt = Date.now();
    const samples = await running;
    if (failover) throw failover;
    const during = samples.filter((s) => s.cache === 'BYPASS');
    expect(during.length, 'some requests were served around the cache during the failover').to.be.above(0);
    expect(Math.max(...samples.filter((s) => s.method === 'GET').map((s) => s.ms)), 'slowest read').to.be.below(TIMEOUT_MS + BOUND_MS);
    expect(Math.max(...samples.map((s) => s.ms)), 'slowest request').to.be.below(PUT_BOUND_MS);
  });
});
