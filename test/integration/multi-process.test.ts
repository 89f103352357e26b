/**
 * One fill and one refresh across processes: four forked Node workers
 * (test/helpers/workers/route-worker.ts), each with its own caches on the
 * shared Redis under one random prefix, serve the same routes. The parent
 * fires concurrent requests at all of them over keep-alive sockets and reads
 * what each worker's handlers did (over IPC, numbered by a Redis INCR) and
 * what its caches counted. Covers: a cold entry filled once across
 * processes; a stale entry refreshed once across processes; a leader whose
 * response sets a cookie or fails never has it replayed to waiters; waiters
 * wait at most lockWaitMs; a fill lock never outlives its own expiry and a
 * late leader never releases another process's lock.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import Redis from 'ioredis';
import { sleep, useFactory, waitFor } from '../helpers/app-factory';
import { keyLayout } from '../helpers/key-layout';
import { startSlowProxy, type SlowProxy } from '../helpers/slow-proxy';
import { connectShared, deleteByPrefix, randomPrefix, sharedRedisUrl } from '../helpers/shared-redis';
import type { FromWorker, WorkerBody, WorkerCall, WorkerConfig, WorkerReport, WorkerRouteSpec } from '../helpers/workers/route-worker';
import type { CacheStats } from 'express-cache-aside';

const WORKER_FILE = path.resolve(__dirname, '../helpers/workers/route-worker.ts');
const WORKERS = 4;

/** A forked worker and its port. */
interface Worker {
  index: number;
  child: ChildProcess;
  port: number;
}

/** One answer as the parent saw it. */
interface Answer {
  worker: number;
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  ms: number;
}

const routes: WorkerRouteSpec[] = [
  { path: '/cold', cache: 'main', namespace: 'cold', key: 'one', ttl: '30s', handlerMs: 200, kind: 'body' },
  { path: '/stale', cache: 'stale', namespace: 'stale', key: 'one', ttl: '1s', staleTtl: '20s', handlerMs: 1000, kind: 'body' },
  { path: '/cookie', cache: 'main', namespace: 'cookie', key: 'one', ttl: '30s', handlerMs: 200, kind: 'cookie' },
  { path: '/flaky', cache: 'main', namespace: 'flaky', key: 'one', ttl: '30s', handlerMs: 200, kind: 'fail-first' },
  { path: '/long', cache: 'short-wait', namespace: 'long', key: 'one', ttl: '30s', handlerMs: 1500, kind: 'body' },
  { path: '/overrun', cache: 'short-lock', namespace: 'overrun', key: 'one', ttl: '30s', handlerMs: 2500, kind: 'body' },
];

describe('several processes on one Redis', function () {
  this.timeout(30_000);
  const prefix = randomPrefix('multi-process');
  const workers: Worker[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let redis: Redis;
  let reportId = 0;

  before(async function () {
    this.timeout(60_000);
    redis = await connectShared();
    const config = (index: number): WorkerConfig => ({
      index,
      redisUrl: sharedRedisUrl,
      prefix,
      caches: {
        // timeoutMs 1000: on a loaded 2-core machine a 100 ms store timeout would turn these into fail-open tests.
        main: { lockWaitMs: 3000, timeoutMs: 1000 },
        stale: { jitter: 0, refreshBackoffMs: 1000, timeoutMs: 1000 },
        'short-wait': { lockWaitMs: 300, timeoutMs: 1000 },
        'short-lock': { lockTtlMs: 1000, lockWaitMs: 200, timeoutMs: 1000 },
      },
      routes,
      ...(process.env.ECA_WORKER_LOG ? { logLevel: process.env.ECA_WORKER_LOG as WorkerConfig['logLevel'] } : {}),
    });
    const started = await Promise.allSettled(Array.from({ length: WORKERS }, (_, i) => forkWorker(i, config(i))));
    for (const result of started) if (result.status === 'fulfilled') workers.push(result.value);
    const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  });

  after(async function () {
    agent.destroy();
    await Promise.all(workers.splice(0).map((w) => stopWorker(w.child)));
    if (redis) {
      await deleteByPrefix(redis, prefix);
      await redis.quit();
    }
  });

  /** Forks one worker and resolves once it listens. */
  function forkWorker(index: number, config: WorkerConfig): Promise<Worker> {
    const child = fork(WORKER_FILE, [], {
      execArgv: ['--import', 'tsx'],
      cwd: path.resolve(__dirname, '../..'),
      // 'test' keeps Express's default error handler from printing the thrown leader failure.
      env: { ...process.env, NODE_ENV: 'test' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(() => {
        void stopWorker(child);
        reject(new Error(`worker ${index} did not start within 45 s`));
      }, 45_000);
      child.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve({ index, child, port: message.port });
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          void stopWorker(child);
          reject(new Error(`worker ${index} failed to start: ${message.message}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker ${index} exited before it was ready (code ${String(code)}, signal ${String(signal)})`));
      });
      child.send({ type: 'start', config });
    });
  }

  /** Kills a worker and waits for it to be gone. */
  async function stopWorker(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await Promise.race([gone, sleep(5000)]);
  }

  /** Asks a worker for its handler calls and cache stats. */
  function report(w: Worker): Promise<WorkerReport> {
    const id = ++reportId;
    return new Promise<WorkerReport>((resolve, reject) => {
      const timer = setTimeout(() => {
        w.child.off('message', onMessage);
        reject(new Error(`worker ${w.index} did not report within 5 s`));
      }, 5000);
      const onMessage = (message: FromWorker): void => {
        if (message.type !== 'report' || message.id !== id) return;
        clearTimeout(timer);
        w.child.off('message', onMessage);
        resolve(message.report);
      };
      w.child.on('message', onMessage);
      w.child.send({ type: 'report', id });
    });
  }

  /** Every worker's calls of one route, with the worker's index. */
  async function callsOf(routePath: string): Promise<Array<WorkerCall & { worker: number }>> {
    const reports = await Promise.all(workers.map((w) => report(w)));
    return reports.flatMap((r, i) => (r.calls[routePath] ?? []).map((c) => ({ ...c, worker: i })));
  }

  /** Every worker's stats of one cache. */
  async function statsOf(cacheName: string): Promise<CacheStats[]> {
    const reports = await Promise.all(workers.map((w) => report(w)));
    return reports.map((r, i) => {
      const stats = r.stats[cacheName];
      if (!stats) throw new Error(`worker ${i} has no cache ${cacheName}`);
      return stats;
    });
  }

  const sum = (list: CacheStats[], field: 'lockWaits' | 'lockTimeouts' | 'refreshes' | 'stale'): number =>
    list.reduce((total, s) => total + s[field], 0);

  /** One GET over the keep-alive agent. */
  function get(w: Worker, routePath: string): Promise<Answer> {
    const start = Date.now();
    return new Promise<Answer>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: w.port, path: routePath, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            worker: w.index,
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
            ms: Date.now() - start,
          }),
        );
        res.on('error', reject);
      });
      req.setTimeout(15_000, () => req.destroy(new Error(`GET ${routePath} on worker ${w.index}: no answer within 15 s`)));
      req.on('error', reject);
    });
  }

  /** `perWorker` concurrent GETs on each of the given workers, all fired at once. */
  function burst(routePath: string, perWorker: number, on: Worker[] = workers): Promise<Answer[]> {
    return Promise.all(on.flatMap((w) => Array.from({ length: perWorker }, () => get(w, routePath))));
  }

  /** Opens `perWorker` keep-alive sockets to each worker, so a burst that follows starts together everywhere. */
  async function warmSockets(perWorker: number): Promise<void> {
    const answers = await burst('/ping', perWorker);
    for (const a of answers) expect(a.status).to.equal(200);
  }

  const body = (a: Answer): WorkerBody => JSON.parse(a.text) as WorkerBody;
  const lockKey = (namespace: string, key: string): string => keyLayout(prefix).lock(namespace, key);

  it('4 processes × 50 concurrent misses on a cold entry (200 ms handler): the handler runs once in all, every answer is the same 200', async function () {
    await warmSockets(50);
    const answers = await burst('/cold', 50);
    expect(answers).to.have.length(200);
    const calls = await callsOf('/cold');
    const stats = await statsOf('main');
    const seen = `handler calls: ${JSON.stringify(calls)}; lockWaits/lockTimeouts per worker: ${JSON.stringify(stats.map((s) => [s.lockWaits, s.lockTimeouts]))}`;
    expect(calls, seen).to.have.length(1);
    for (const a of answers) expect(a.status, a.text).to.equal(200);
    const bodies = new Set(answers.map((a) => a.text));
    expect([...bodies], 'distinct bodies').to.have.length(1);
    expect(body(answers[0]!).n).to.equal(1);
    const misses = answers.filter((a) => a.headers['x-cache'] === 'MISS');
    expect(misses, 'only the one request that ran the handler says MISS').to.have.length(1);
    expect(answers.filter((a) => a.headers['x-cache'] === 'HIT')).to.have.length(199);
    expect(sum(stats, 'lockWaits'), 'the other processes waited on the fill lock').to.be.at.least(1);
    expect(sum(stats, 'lockTimeouts')).to.equal(0);
    expect(await redis.exists(lockKey('cold', 'one')), 'the fill lock is released').to.equal(0);
  });

  it('a stale entry is answered at once in every process and refreshed exactly once across them; then all get the new body', async function () {
    const first = await get(workers[0]!, '/stale');
    expect(first.status).to.equal(200);
    expect(first.headers['x-cache']).to.equal('MISS');
    await waitFor('the /stale entry', async () => (await redis.exists(keyLayout(prefix).entry('stale', 'one'))) === 1);
    await sleep(1200); // past the 1 s ttl (jitter 0)
    await warmSockets(20);
    const stale = await burst('/stale', 20);
    for (const a of stale) {
      expect(a.status).to.equal(200);
      expect(a.headers['x-cache'], `worker ${a.worker}`).to.equal('STALE');
      expect(body(a).n, 'the stale body').to.equal(1);
      expect(Number(a.headers.age), 'Age of a stale copy').to.be.at.least(1);
      expect(a.ms, `a stale answer must not wait for the 1000 ms handler (worker ${a.worker})`).to.be.below(800);
    }
    await waitFor('the refreshed entry', async () => body(await get(workers[1]!, '/stale')).n === 2, 8000, 50);
    const fresh = await burst('/stale', 5);
    for (const a of fresh) {
      expect(a.headers['x-cache'], `worker ${a.worker}`).to.equal('HIT');
      expect(body(a).n, 'the refreshed body replaced the stale one').to.equal(2);
    }
    await sleep(300);
    const calls = await callsOf('/stale');
    expect(
      calls.map((c) => c.n),
      'the fill, then exactly one refresh across 4 processes',
    ).to.deep.equal([1, 2]);
    const stats = await statsOf('stale');
    expect(sum(stats, 'refreshes')).to.equal(1);
    expect(sum(stats, 'stale')).to.be.at.least(80);
  });

  it('a leader whose response sets a cookie: no waiter, in its process or another, receives that cookie', async function () {
    await warmSockets(20);
    const start = Date.now();
    const answers = await burst('/cookie', 20);
    const elapsed = Date.now() - start;
    const tokens = new Set<string>();
    for (const a of answers) {
      expect(a.status).to.equal(200);
      const b = body(a);
      const cookies = a.headers['set-cookie'] ?? [];
      expect(cookies, `worker ${a.worker}`).to.have.length(1);
      expect(cookies[0], 'each client gets the cookie of the handler call that answered it').to.match(
        new RegExp(`^session=${b.token ?? '(none)'};`),
      );
      expect(b.worker, 'answered by a handler in the process the client asked').to.equal(a.worker);
      expect(a.headers['x-cache']).to.equal('MISS');
      tokens.add(b.token ?? '');
    }
    expect(tokens.size, 'no cookie was handed to two clients').to.equal(answers.length);
    const calls = await callsOf('/cookie');
    expect(calls).to.have.length(answers.length);
    expect(await redis.exists(keyLayout(prefix).entry('cookie', 'one')), 'nothing stored').to.equal(0);
    const stats = await statsOf('main');
    expect(sum(stats, 'lockTimeouts'), 'waiters were released when the leader gave up, not by their lockWaitMs').to.equal(0);
    expect(elapsed, 'waiters in other processes did not sit out lockWaitMs (3000 ms)').to.be.below(2500);
  });

  it('a leader that fails releases the lock at once; its error reaches only its own client', async function () {
    await warmSockets(20);
    const start = Date.now();
    const answers = await burst('/flaky', 20);
    const elapsed = Date.now() - start;
    const errors = answers.filter((a) => a.status !== 200);
    expect(
      errors.map((a) => `${a.status} ${a.text.slice(0, 80)}`),
      'only the failing leader answers an error',
    ).to.have.length(1);
    expect(errors[0]!.status).to.equal(500);
    expect(errors[0]!.headers['x-cache']).to.equal('MISS');
    for (const a of answers.filter((x) => x.status === 200)) {
      expect(body(a).n, 'nobody got the leader’s (failed) call').to.be.at.least(2);
      expect(a.text).to.not.include('leader failure');
    }
    expect(elapsed, 'waiters were not held until lockWaitMs (3000 ms)').to.be.below(2500);
    const stats = await statsOf('main');
    expect(sum(stats, 'lockTimeouts')).to.equal(0);
    expect(await redis.exists(lockKey('flaky', 'one')), 'no lock left behind').to.equal(0);
  });

  it('waiters in other processes wait at most lockWaitMs (300 ms) for a slow leader, then run the handler themselves', async function () {
    const [leader, ...others] = workers;
    await warmSockets(10);
    const leading = get(leader!, '/long');
    await waitFor('the leader to take the fill lock', async () => (await redis.exists(lockKey('long', 'one'))) === 1, 5000, 5);
    const fired = Date.now();
    const answers = await burst('/long', 10, others);
    for (const a of [...answers, await leading]) expect(a.status).to.equal(200);
    const calls = await callsOf('/long');
    const leaderCall = calls.find((c) => c.worker === leader!.index);
    expect(leaderCall, 'the leader ran the handler').to.not.equal(undefined);
    for (const w of others) {
      const own = calls.filter((c) => c.worker === w.index);
      expect(own, `worker ${w.index}: one handler call (its own requests coalesced)`).to.have.length(1);
      const waited = own[0]!.at - fired;
      expect(waited, `worker ${w.index} waited before running the handler`).to.be.at.least(200);
      expect(waited, `worker ${w.index} did not wait for the 1500 ms leader`).to.be.below(1100);
    }
    const stats = await statsOf('short-wait');
    for (const w of others) {
      expect(stats[w.index]!.lockWaits, `worker ${w.index} lockWaits`).to.equal(1);
      expect(stats[w.index]!.lockTimeouts, `worker ${w.index} lockTimeouts`).to.equal(1);
    }
  });

  it('a fill lock is never held past its expiry (lockTtlMs 1000), and a late leader never releases the next holder’s lock', async function () {
    const [first, second] = workers;
    const key = lockKey('overrun', 'one');
    const fired = Date.now();
    const firstAnswer = get(first!, '/overrun');
    await waitFor('the first fill lock', async () => (await redis.exists(key)) === 1, 5000, 5);
    const firstToken = await redis.get(key);
    expect(await redis.pttl(key), 'lock PTTL').to.be.within(1, 1000);
    await waitFor('the first lock to expire while its 2500 ms handler still runs', async () => (await redis.exists(key)) === 0, 2000, 10);
    expect(Date.now() - fired, 'expired before the handler finished').to.be.below(2000);
    expect((await callsOf('/overrun')).length, 'first handler still the only call').to.equal(1);
    // Timed so the second lock (1000 ms) spans the moment the first leader finishes (~2500 ms).
    await sleep(Math.max(0, fired + 2000 - Date.now()));
    const secondAnswer = get(second!, '/overrun');
    await waitFor(
      'the second process to take the lock',
      async () => {
        const token = await redis.get(key);
        return token !== null && token !== firstToken;
      },
      3000,
      5,
    );
    const secondToken = await redis.get(key);
    const a1 = await firstAnswer;
    expect(a1.status).to.equal(200);
    await sleep(50); // the first leader's release goes out right after its write
    expect(await redis.get(key), 'the first leader released only its own lock').to.equal(secondToken);
    const a2 = await secondAnswer;
    expect(a2.status).to.equal(200);
    await waitFor('the second lock to be released', async () => (await redis.exists(key)) === 0, 3000, 10);
  });
});

// Two caches in this process stand in for two processes (each has its own
// engine, coalescing and locks); the second reaches Redis over a link whose
// replies arrive 400 ms late, so its lookup misses just before the first
// process's fill lands and its lock attempt comes just after.
describe('one fill across processes when a lookup misses just before another fill lands', function () {
  this.timeout(20_000);
  const f = useFactory('multi-process-race');
  let proxy: SlowProxy | undefined;

  afterEach(async function () {
    await proxy?.stop();
    proxy = undefined;
  });

  it('the late process serves the entry that landed instead of running the handler again', async function () {
    const first = await f.setup('redis', { lockWaitMs: 3000, timeoutMs: 2000 });
    const sharedPort = Number(new URL(sharedRedisUrl).port || 6379);
    proxy = await startSlowProxy(sharedPort, 0);
    const slowClient = f.adoptClient(new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1 }));
    slowClient.on('error', () => undefined);
    await slowClient.ping();
    const second = await f.setupOn(slowClient, { prefix: first.prefix, lockWaitMs: 3000, timeoutMs: 2000 });
    let calls = 0;
    for (const h of [first, second]) {
      h.app.get('/x', h.cache.route({ namespace: 'race', key: 'x', ttl: '30s' }), async (_req, res) => {
        calls += 1;
        const n = calls;
        await sleep(300);
        res.json({ n });
      });
    }
    // Warm the second cache's path on another namespace (its scripts loaded), and let its lock go before the link slows down.
    second.app.get('/warm', second.cache.route({ namespace: 'warm', key: 'w' }), (_req, res) => {
      res.json({ warm: true });
    });
    await second.http().get('/warm').expect(200);
    await waitFor(
      'the warm-up fill to finish',
      async () =>
        (await first.redis!.exists(keyLayout(first.prefix).entry('warm', 'w'))) === 1 &&
        (await first.redis!.exists(keyLayout(first.prefix).lock('warm', 'w'))) === 0,
      3000,
      5,
    );
    proxy.setDelay(400);

    // supertest sends on then(): start it now.
    const a = first
      .http()
      .get('/x')
      .then((r) => r);
    await waitFor(
      'the first process to take the fill lock',
      async () => (await first.redis!.exists(keyLayout(first.prefix).lock('race', 'x'))) === 1,
      3000,
      2,
    );
    const b = second
      .http()
      .get('/x')
      .then((r) => r);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.status).to.equal(200);
    expect(rb.status).to.equal(200);
    const seen = `first: ${String(ra.headers['x-cache'])} ${JSON.stringify(ra.body)}; second: ${String(rb.headers['x-cache'])} ${JSON.stringify(rb.body)}; handler calls: ${calls}`;
    expect(calls, seen).to.equal(1);
    expect(rb.body, `the second process got the first one’s entry (${seen})`).to.deep.equal(ra.body);
    expect(rb.headers['x-cache'], seen).to.equal('HIT');
  });
});
