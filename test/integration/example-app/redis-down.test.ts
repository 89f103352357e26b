/**
 * The example shop started with Redis down (REDIS_URL pointing where nobody
 * listens), on real PostgreSQL: the startup warmup reports every target that
 * answered BYPASS as not warmed, in its report and its log lines; GET /health
 * answers 200 at once with `cache: { ok: false, mode: 'bypassing' }` (every
 * route still serves, uncached), and 503 stays for the database alone.
 */
import { expect } from 'chai';
import request from 'supertest';
import { startShop, warmupTargets, type Shop } from '../../../example-app/src/bootstrap';
import { createTestDatabase, type TestDatabase } from '../../helpers/pg-database';
import { memoryLogger, type MemoryLogger } from '../../helpers/pg-shop';
import { freePort } from '../../helpers/ports';
import { randomPrefix } from '../../helpers/shared-redis';

describe('example app: Redis down (PostgreSQL + a Redis URL nobody answers)', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let shop: Shop;
  let log: MemoryLogger;

  before(async () => {
    database = await createTestDatabase();
    log = memoryLogger();
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    shop = await startShop({ databaseUrl: database.url, redisUrl: deadRedis, prefix: randomPrefix('down'), logger: log });
  });

  let dbClosed = false;

  after(async () => {
    if (dbClosed) {
      // The last test closed the pool itself; close what is left.
      await shop.cache.close();
      shop.redis?.disconnect();
    } else {
      await shop?.close();
    }
    await database?.drop();
  });

  it('warmup reports every target that answered BYPASS as failed (nothing was stored), and logs it so', () => {
    expect(shop.warmup.results.map((result) => result.target)).to.deep.equal(warmupTargets);
    for (const result of shop.warmup.results) {
      expect(result).to.include({ ok: false, status: 200, cache: 'BYPASS' });
      expect(result.error).to.equal('answered BYPASS: the store was not used, nothing was stored');
    }
    expect(shop.warmup).to.include({ ok: 0, failed: warmupTargets.length });
    const failedLines = log.lines.filter((line) => line.startsWith('info: express-cache-aside: warmup failed '));
    expect(failedLines).to.have.length(warmupTargets.length);
    expect(log.lines.find((line) => line.startsWith('info: express-cache-aside: warmup done')))
      .to.include('"ok":0')
      .and.include(`"failed":${warmupTargets.length}`);
  });

  it('GET /health answers 200 within 500 ms: database ok, cache { ok: false, mode: bypassing }', async () => {
    for (let i = 0; i < 3; i += 1) {
      const started = performance.now();
      const res = await request(shop.app).get('/health').expect(200);
      const ms = performance.now() - started;
      // The old probe waited 1 s for a PING that could not come; a generous bound for a shared 2-core machine.
      expect(ms, 'answered without waiting on Redis').to.be.below(500);
      expect(res.body.status).to.equal('degraded');
      expect(res.body.database).to.include({ kind: 'postgres', ok: true });
      expect(res.body.cache).to.include({ store: 'redis', ok: false, mode: 'bypassing' });
    }
  });

  it('every read still serves, uncached (BYPASS)', async () => {
    const res = await request(shop.app).get('/courses/1').expect(200);
    expect(res.headers['x-cache']).to.equal('BYPASS');
    expect(res.body.id).to.equal(1);
  });

  it('with the database gone too, /health is 503', async () => {
    await shop.db.close();
    dbClosed = true;
    const res = await request(shop.app).get('/health').expect(503);
    expect(res.body.database.ok).to.equal(false);
    expect(res.body.cache).to.include({ ok: false, mode: 'bypassing' });
  });
});
