/**
 * Starting the example shop on real PostgreSQL and Redis: it says which
 * database and store it uses before anything else, migrates idempotently,
 * seeds an empty database deterministically, and warms what it says it warms;
 * after warmup, 1,000 catalog reads send only a handful of SQL statements.
 */
import { expect } from 'chai';
import request from 'supertest';
import { startShop, warmupTargets } from '../../../example-app/src/bootstrap';
import { createPostgresDb } from '../../../example-app/src/db';
import { migrate } from '../../../example-app/src/migrations';
import { seedIfEmpty, seedSizes } from '../../../example-app/src/seed';
import { createTestDatabase } from '../../helpers/pg-database';
import { get } from '../../helpers/pg-shop';
import { useTestShop } from '../../helpers/hooks';

describe('example app: startup (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  const shop = useTestShop();

  it('first says which database and cache store it uses, then logs each step as it starts: connect, migrate, seed, warm', () => {
    const [database, store, ...rest] = shop.log.lines;
    expect(database).to.match(/^info: database: PostgreSQL at postgres:\/\/.*\/eca_test_/);
    expect(store).to.match(/^info: cache store: Redis at redis:\/\//);
    expect(rest.slice(0, 6)).to.deep.equal([
      'info: database: connecting to PostgreSQL',
      'info: migrations: applying what is not yet recorded',
      'info: migrations applied: 001-catalog, 002-customers',
      'info: seed: checking for an empty database',
      rest[4],
      `info: warmup: warming ${warmupTargets.length} targets`,
    ]);
    expect(rest[4]).to.match(/^info: seeded an empty database in \d+ ms$/);
    rest.splice(0, 6, 'migrated', 'seeded');
    // The warmup report: one line per target (in the order they finished), then the summary.
    const perTarget = rest.slice(2, 2 + warmupTargets.length);
    expect(perTarget.map((line) => /^info: express-cache-aside: warmup ok (\S+) \{/.exec(line)?.[1])).to.have.members(warmupTargets);
    for (const line of perTarget) expect(JSON.parse(line.slice(line.indexOf('{')))).to.include({ ok: true, status: 200, cache: 'MISS' });
    expect(rest[2 + warmupTargets.length]).to.equal('info: express-cache-aside: warmup done {"ok":6,"failed":0}');
  });

  it('seeds the sizes it promises', async () => {
    const { rows } = await shop.db.query<Record<string, number>>(
      `SELECT ${Object.keys(seedSizes)
        .map((table) => `(SELECT count(*)::int FROM ${table}) AS ${table}`)
        .join(', ')}`,
    );
    expect(rows[0]).to.deep.equal(seedSizes);
    const types = await shop.db.query<{ type: string }>('SELECT DISTINCT type FROM products ORDER BY type');
    expect(types.rows.map((row) => row.type)).to.deep.equal(['audio', 'bundle', 'ebook', 'pdf', 'video']);
    const when = await shop.db.query<{ past: number; upcoming: number }>(
      'SELECT count(*) FILTER (WHERE event_date < now())::int AS past, count(*) FILTER (WHERE event_date > now())::int AS upcoming FROM events',
    );
    expect(when.rows[0]!.past).to.be.greaterThan(50);
    expect(when.rows[0]!.upcoming).to.be.greaterThan(50);
  });

  it('migrations and seed are idempotent, and the seed is the same on another database', async () => {
    expect(await migrate(shop.db)).to.deep.equal([]);
    expect(await seedIfEmpty(shop.db)).to.equal(false);

    const other = await createTestDatabase();
    const db = createPostgresDb(other.url, { max: 2 });
    try {
      await migrate(db);
      expect(await seedIfEmpty(db)).to.equal(true);
      // Event dates follow the day of seeding, so they stay out of the fingerprint.
      const fingerprint = `SELECT md5(string_agg(t, '|' ORDER BY t)) AS sum FROM (
          SELECT row(c.*)::text AS t FROM courses c
          UNION ALL SELECT row(p.*)::text FROM products p
          UNION ALL SELECT row(u.*)::text FROM users u
          UNION ALL SELECT row(e.*)::text FROM enrollments e
          UNION ALL SELECT row(h.*)::text FROM purchases h
          UNION ALL SELECT concat_ws(',', b.id, b.user_id, b.event_id) FROM bookings b
          UNION ALL SELECT concat_ws(',', e.id, e.title, e.slug, e.price, e.capacity, e.venue, e.deleted_at) FROM events e) AS rows`;
      const [mine, theirs] = await Promise.all([shop.db.query(fingerprint), db.query(fingerprint)]);
      expect(theirs.rows[0]).to.deep.equal(mine.rows[0]);
    } finally {
      await db.close();
      await other.drop();
    }
  });

  it('warmup filled exactly the targets it reported', async () => {
    expect(shop.warmup.ok).to.equal(warmupTargets.length);
    expect(shop.warmup.failed).to.equal(0);
    expect(shop.warmup.results.map((result) => result.target)).to.have.members(warmupTargets);
    const before = shop.db.queryCount;
    for (const path of warmupTargets) {
      const res = await get(shop, path).expect(200);
      expect(res.headers['x-cache'], path).to.equal('HIT');
    }
    expect(shop.db.queryCount).to.equal(before);
    // Not a warmup target: the first read goes to the database.
    expect((await get(shop, '/courses').expect(200)).headers['x-cache']).to.equal('MISS');
  });

  it('serves 1,000 catalog reads after warmup with a handful of SQL statements', async () => {
    const paths = [...warmupTargets, '/courses', '/products', '/events', '/courses/1', '/products/2', '/events/3', '/products/type/video'];
    const before = shop.db.queryCount;
    const started = performance.now();
    const batch = 20;
    for (let done = 0; done < 1000; done += batch) {
      await Promise.all(Array.from({ length: batch }, (_, i) => get(shop, paths[(done + i) % paths.length]!).expect(200)));
    }
    const sent = shop.db.queryCount - before;
    console.log(`      1,000 catalog reads after warmup sent ${sent} SQL statements (${Math.round(performance.now() - started)} ms)`);
    // At most one per route not warmed (a few more if concurrent first reads race their fill).
    expect(sent).to.be.at.most(paths.length - warmupTargets.length + 5);
  });

  it('GET /health reports both services, GET /stats the counters', async () => {
    const health = await get(shop, '/health').expect(200);
    expect(health.body.status).to.equal('ok');
    expect(health.body.database).to.include({ kind: 'postgres', ok: true });
    expect(health.body.cache).to.include({ store: 'redis', ok: true });
    expect(health.headers['x-cache']).to.equal(undefined);
    const stats = await get(shop, '/stats').expect(200);
    expect(stats.body.cache.hits).to.be.greaterThan(0);
    expect(stats.body.cache.namespaces.courses.hits).to.be.greaterThan(0);
    expect(stats.body.database).to.include({ kind: 'postgres' });
    expect(stats.body.database.queries).to.equal(shop.db.queryCount);
  });

  it('a second start on the same database migrates nothing and seeds nothing', async () => {
    const log: string[] = [];
    const again = await startShop({
      databaseUrl: shop.database.url,
      redisUrl: undefined,
      prefix: `${shop.prefix}-again`,
      logger: { info: (m) => log.push(m), warn: (m) => log.push(m), error: (m) => log.push(m) },
    });
    try {
      expect(log).to.include('migrations: up to date');
      expect(log).to.include('seed: database already has data');
      expect(log[1]).to.match(/^cache store: in-memory/);
      expect((await request(again.app).get('/courses/count').expect(200)).headers['x-cache']).to.equal('HIT');
    } finally {
      await again.close();
    }
  });
});
