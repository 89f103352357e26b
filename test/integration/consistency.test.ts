/**
 * A multi-instance consistency check, Jepsen style: three example-shop
 * processes (the real server, spawned as `npm start` runs it) on one
 * PostgreSQL database and one Redis play three instances behind a load
 * balancer. Concurrent clients write the titles of a small hot set of courses
 * (one sequential writer per course, versions counting up, each write read
 * back at once on every instance by its writer) and read them back
 * through every instance: the course, the course list, and the enrollment
 * lists of users holding those courses. Every operation is recorded with its
 * invocation and completion time, and the history is checked: no read that
 * began after a write was acknowledged returns an older version, on any
 * instance. Runs with the in-process tier off and on (in its 'acknowledged'
 * mode), and with Redis
 * restarted in the middle. One instance pauses after each database read
 * (SHOP_READ_DELAY_MS) so that fills overlap writes on other instances often,
 * as they do on a loaded instance, instead of once in a long while.
 */
import http from 'node:http';
import { expect } from 'chai';
import { Client } from 'pg';
import { checkReadYourWrites, describeViolations, type Op } from '../helpers/history';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database';
import { randomPrefix } from '../helpers/shared-redis';
import { startRedis, type RedisProcess } from '../helpers/redis-server';
import { startShopProcess, type ShopProcess } from '../helpers/shop-process';

const HOT_COURSES = [1, 2, 3];
const INSTANCES = 3;
const READERS = 9;
const RUN_MS = 12_000;
const SLOW_INSTANCE_READ_DELAY_MS = 40;
const TITLE = /^hot-(\d+)-v(\d+)$/;

/** One HTTP answer, parsed. */
interface Answer {
  status: number;
  cache: string;
  body: unknown;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function send(agent: http.Agent, base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        timeout: 10_000,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: kept as text
          }
          resolve({ status: res.statusCode ?? 0, cache: String(res.headers['x-cache'] ?? '-'), body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Versions of the hot courses an answer shows: a course, a list of courses, or an enrollment list. */
function versionsIn(body: unknown): Map<number, number> {
  const observed = new Map<number, number>();
  const note = (title: unknown): void => {
    const match = typeof title === 'string' ? TITLE.exec(title) : null;
    if (match) observed.set(Number(match[1]), Number(match[2]));
  };
  const rows = Array.isArray(body) ? body : [body];
  for (const row of rows) {
    if (row === null || typeof row !== 'object') continue;
    const record = row as { title?: unknown; course?: { title?: unknown } };
    note(record.title);
    note(record.course?.title);
  }
  return observed;
}

/** What one variant of the run does differently. */
interface Variant {
  l1?: Record<string, unknown>;
  /** Restart Redis (empty) this long into the run. */
  restartRedisAtMs?: number;
}

describe('consistency across three shop instances (history check)', function () {
  this.timeout(180_000);
  let database: TestDatabase;
  let redis: RedisProcess;
  let sql: Client;
  let holders: number[] = [];
  let shops: ShopProcess[] = [];

  before(async function () {
    database = await createTestDatabase();
    redis = await startRedis();
    // The first process migrates and seeds the empty database; alone, so two never seed at once.
    const first = await startShopProcess({ databaseUrl: database.url, redisUrl: redis.url, prefix: randomPrefix('consistency-seed') });
    await first.stop();
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    const { rows } = await sql.query<{ user_id: number }>(
      `SELECT DISTINCT ON (course_id) user_id FROM enrollments WHERE course_id = ANY($1) ORDER BY course_id, user_id`,
      [HOT_COURSES],
    );
    holders = rows.map((row) => row.user_id);
    expect(holders.length, 'users enrolled in the hot courses').to.be.greaterThan(0);
  });

  afterEach(async function () {
    await Promise.all(shops.map((shop) => shop.stop()));
    shops = [];
  });

  after(async function () {
    await sql?.end();
    await redis?.stop();
    await database?.drop();
  });

  async function run(variant: Variant): Promise<{ history: Op[]; restarted: boolean }> {
    for (const id of HOT_COURSES) await sql.query(`UPDATE courses SET title = $2 WHERE id = $1`, [id, `hot-${id}-v0`]);
    const prefix = randomPrefix('consistency');
    shops = await Promise.all(
      Array.from({ length: INSTANCES }, (_, index) =>
        startShopProcess({
          databaseUrl: database.url,
          redisUrl: redis.url,
          prefix,
          cacheTimeoutMs: 1000,
          ...(variant.l1 ? { l1: variant.l1 } : {}),
          ...(index === INSTANCES - 1 ? { readDelayMs: SLOW_INSTANCE_READ_DELAY_MS } : {}),
        }),
      ),
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const history: Op[] = [];
    const started = performance.now();
    const until = started + RUN_MS;
    const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;
    const readPaths = [
      ...HOT_COURSES.flatMap((id) => [`/courses/${id}`, `/courses/${id}`]),
      '/courses',
      ...holders.map((user) => `/users/${user}/enrollments`),
    ];

    const writer = async (item: number): Promise<void> => {
      for (let version = 1; performance.now() < until; version += 1) {
        const instance = Math.floor(Math.random() * INSTANCES);
        const invokedAt = performance.now();
        let ok = false;
        try {
          const answer = await send(agent, shops[instance]!.url, 'PUT', `/courses/${item}`, { title: `hot-${item}-v${version}` });
          ok = answer.status === 200;
        } catch {
          ok = false;
        }
        history.push({ kind: 'write', item, version, instance, invokedAt, completedAt: performance.now(), ok });
        // The writer's own session reads its write back on every instance, at once.
        if (ok) await Promise.all(shops.map((_, other) => readOnce(other, `/courses/${item}`)));
        await sleep(Math.random() * 10);
      }
    };
    const readOnce = async (instance: number, path: string): Promise<void> => {
      const invokedAt = performance.now();
      try {
        const answer = await send(agent, shops[instance]!.url, 'GET', path);
        history.push({
          kind: 'read',
          path,
          instance,
          invokedAt,
          completedAt: performance.now(),
          status: answer.status,
          cache: answer.cache,
          observed: answer.status === 200 ? versionsIn(answer.body) : new Map(),
        });
      } catch {
        // A read that got no answer observed nothing.
      }
    };
    const reader = async (): Promise<void> => {
      while (performance.now() < until) await readOnce(Math.floor(Math.random() * INSTANCES), pick(readPaths));
    };
    let restarted = false;
    const fault = async (): Promise<void> => {
      if (variant.restartRedisAtMs === undefined) return;
      await sleep(variant.restartRedisAtMs);
      await redis.restart();
      restarted = true;
    };
    await Promise.all([...HOT_COURSES.map(writer), ...Array.from({ length: READERS }, reader), fault()]);
    agent.destroy();
    return { history, restarted };
  }

  function verify(history: Op[], label: string): void {
    const result = checkReadYourWrites(history);
    const acked = history.filter((op) => op.kind === 'write' && op.ok).length;
    // One line per variant: the figures the check is judged on.
    console.log(
      `      ${label}: ${result.writes} writes (${acked} acknowledged), ${result.reads} reads ${JSON.stringify(result.byCache)}, ` +
        `${result.violations.length} stale reads after an acknowledged write`,
    );
    expect(result.phantom, 'reads of versions never written').to.have.length(0);
    expect(acked, 'acknowledged writes').to.be.greaterThan(30);
    expect(result.reads, 'reads').to.be.greaterThan(300);
    expect(result.byCache.HIT ?? 0, 'reads served from the cache').to.be.greaterThan(50);
    expect(result.violations, `stale reads:\n${describeViolations(result.violations)}`).to.have.length(0);
  }

  it('no read after an acknowledged write sees older data, in-process tier off', async function () {
    const { history } = await run({});
    verify(history, 'l1 off');
  });

  it('no read after an acknowledged write sees older data, in-process tier on (consistency: acknowledged)', async function () {
    // The default ('delivered') leaves a window of one message's delivery, measured in l1-window.test.ts.
    const { history } = await run({ l1: { max: 1000, ttl: '5s', consistency: 'acknowledged' } });
    verify(history, 'l1 on (acknowledged)');
  });

  it('no read after an acknowledged write sees older data across a Redis restart', async function () {
    const { history, restarted } = await run({ restartRedisAtMs: RUN_MS / 2 });
    expect(restarted, 'Redis was restarted during the run').to.equal(true);
    verify(history, 'Redis restart');
  });
});
