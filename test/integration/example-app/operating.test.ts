/**
 * Operating the example shop on real PostgreSQL and Redis: GET /metrics
 * serves the cache's counters in the Prometheus text format, labelled by
 * namespace family (per-user namespaces make one `user` series), agreeing
 * with GET /stats; and the server's pino loggers write the warmup report one
 * line per target plus a summary, the cache's decisions only at
 * LOG_LEVEL=debug, and never a cookie or an Authorization value.
 */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import request from 'supertest';
import { startShop, warmupTargets, type Shop } from '../../../example-app/src/bootstrap';
import { createServerLoggers } from '../../../example-app/src/logger';
import { get } from '../../helpers/pg-shop';
import { useTestShop } from '../../helpers/hooks';
import { deleteByPrefix, sharedRedisUrl } from '../../helpers/shared-redis';
import { parseExposition, type Sample } from '../../helpers/prometheus';

/** Counter values by family for one outcome. */
function byFamily(samples: Sample[], outcome: string): Record<string, number> {
  return Object.fromEntries(
    samples.filter((s) => s.name === `express_cache_aside_${outcome}_total`).map((s) => [s.labels.family, s.value]),
  );
}

/** A pino destination that keeps each JSON line parsed. */
function jsonLines(): { stream: Writable; lines: Array<Record<string, unknown>>; raw: string[] } {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { stream, lines, raw };
}

describe('example app: operating it (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  const shop = useTestShop();

  it('GET /metrics serves the Prometheus text of the cache, by namespace family, agreeing with GET /stats', async () => {
    const warmed = parseExposition((await get(shop, '/metrics').expect(200)).text);
    // The six warmup targets were six misses in three families.
    expect(byFamily(warmed, 'misses')).to.include({ courses: 2, products: 2, events: 2 });

    for (const path of warmupTargets) expect((await get(shop, path).expect(200)).headers['x-cache']).to.equal('HIT');
    for (let id = 1; id <= 30; id += 1) await get(shop, `/users/${id}/enrollments`).expect(200);
    for (let id = 1; id <= 5; id += 1) expect((await get(shop, `/users/${id}/enrollments`).expect(200)).headers['x-cache']).to.equal('HIT');

    const res = await get(shop, '/metrics').expect(200);
    expect(res.headers['content-type']).to.equal(shop.registry.contentType);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.headers['x-cache'], '/metrics is never cached').to.equal(undefined);
    const samples = parseExposition(res.text);
    const hits = byFamily(samples, 'hits');
    const misses = byFamily(samples, 'misses');
    expect(hits).to.include({ courses: 2, products: 2, events: 2, user: 5 });
    expect(misses).to.include({ user: 30 });
    const families = Object.keys(misses);
    expect(
      families.filter((family) => family.startsWith('user')),
      '30 users, one family',
    ).to.deep.equal(['user']);

    const stats = (await get(shop, '/stats').expect(200)).body.cache as Record<string, number>;
    const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
    expect(sum(hits)).to.equal(stats.hits);
    expect(sum(misses)).to.equal(stats.misses);
    expect(samples.some((s) => s.name === 'express_cache_aside_store_duration_seconds_count' && s.labels.operation === 'lookup')).to.equal(
      true,
    );
  });

  describe('the server loggers (pino)', () => {
    const started: Array<{ shop: Shop; prefix: string }> = [];

    afterEach(async () => {
      for (const { shop: other, prefix } of started.splice(0)) {
        await other.close();
        await deleteByPrefix(shop.inspector, prefix);
      }
    });

    /** Starts the shop again on the same database (nothing to migrate or seed) with the server's loggers at `level`. */
    async function startWithPino(level: string): Promise<{ app: Shop['app']; lines: Array<Record<string, unknown>>; raw: string[] }> {
      const { stream, lines, raw } = jsonLines();
      const loggers = createServerLoggers({ level, destination: stream });
      const prefix = `${shop.prefix}-${level}`;
      const other = await startShop({
        databaseUrl: shop.database.url,
        redisUrl: sharedRedisUrl,
        prefix,
        logger: loggers.shop,
        cacheLogger: loggers.cache,
      });
      started.push({ shop: other, prefix });
      return { app: other.app, lines, raw };
    }

    it('at info: the warmup report is one line per target plus a summary, and no decision lines', async () => {
      const { app, lines } = await startWithPino('info');
      const perTarget = lines.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('express-cache-aside: warmup ok '));
      expect(perTarget.map((line) => line.target)).to.have.members(warmupTargets);
      for (const line of perTarget) expect(line).to.include({ level: 30, app: 'shop', component: 'cache', ok: true, status: 200 });
      const summary = lines.filter((line) => line.msg === 'express-cache-aside: warmup done');
      expect(summary).to.have.length(1);
      expect(summary[0]).to.include({ ok: warmupTargets.length, failed: 0 });
      expect(lines.indexOf(summary[0]!), 'the summary comes last').to.be.greaterThan(
        Math.max(...perTarget.map((line) => lines.indexOf(line))),
      );

      const before = lines.length;
      await request(app).get('/courses/published').expect(200);
      await request(app).get('/courses').expect(200);
      expect(
        lines.slice(before).filter((line) => line.level === 20),
        'debug lines',
      ).to.deep.equal([]);
    });

    it('at debug: each cache decision is a line with namespace and key, never a cookie or authorization value', async () => {
      const { app, lines, raw } = await startWithPino('debug');
      const before = lines.length;
      const cookie = 'sid=cookie-value-3e9a7c';
      const authorization = 'Bearer auth-value-51d0b2';
      await request(app).get('/courses/published').set('Cookie', cookie).expect(200);
      await request(app).get('/users/7/enrollments').set('Cookie', cookie).expect(200);
      await request(app).get('/courses/published').set('Authorization', authorization).set('Cookie', cookie).expect(200);
      await request(app).get('/courses/999999').set('Cookie', cookie).expect(404);
      const decisions = lines.slice(before).filter((line) => line.level === 20 && line.component === 'cache');
      expect(decisions.map((line) => line.msg)).to.include.members([
        'express-cache-aside: HIT',
        'express-cache-aside: MISS',
        'express-cache-aside: BYPASS: authorization',
        'express-cache-aside: not stored: 404',
      ]);
      expect(decisions.find((line) => line.msg === 'express-cache-aside: HIT')).to.include({ namespace: 'courses', key: 'list:published' });
      expect(decisions.some((line) => line.namespace === 'user:7')).to.equal(true);
      for (const line of raw) {
        expect(line).to.not.include('cookie-value-3e9a7c');
        expect(line).to.not.include('auth-value-51d0b2');
      }
    });
  });
});
