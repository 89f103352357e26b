/**
 * The example shop's answers to bad input and failures on real PostgreSQL and
 * Redis: malformed ids and bodies get 400 naming the field, unknown things a
 * 404 that is never cached, a database failure a 503 JSON answer that is never
 * cached either, and no answer ever carries a stack trace or SQL.
 */
import { expect } from 'chai';
import request from 'supertest';
import { createCache } from 'express-cache-aside';
import { createApp } from '../../../example-app/src/app';
import { createPostgresDb } from '../../../example-app/src/db';
import { migrate } from '../../../example-app/src/migrations';
import { seedIfEmpty } from '../../../example-app/src/seed';
import { createTestDatabase } from '../../helpers/pg-database';
import { get, memoryLogger } from '../../helpers/pg-shop';
import { useTestShop } from '../../helpers/hooks';
import { freePort } from '../../helpers/ports';
import { connectShared, deleteByPrefix, randomPrefix } from '../../helpers/shared-redis';

/** No stack frames, no SQL, no driver messages in a client-facing body. */
function expectNoInternals(body: unknown): void {
  const text = JSON.stringify(body);
  expect(text).to.not.match(/\bat .+\.(ts|js):\d+|SyntaxError|SELECT|ECONNREFUSED|does not exist|node_modules/i);
}

describe('example app: bad input and failures (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  const shop = useTestShop();

  describe('malformed path parameters → 400 naming the parameter', () => {
    const cases: Array<[string, string]> = [
      ['/courses/abc', 'id'],
      ['/courses/0', 'id'],
      ['/courses/-1', 'id'],
      ['/courses/1.5', 'id'],
      ['/products/99999999999', 'id'],
      ['/events/12abc', 'id'],
      ['/users/x/enrollments', 'id'],
      ['/users/0/purchases', 'id'],
      ['/products/type/zip', 'type'],
      ['/courses/slug/Not_A_Slug', 'slug'],
      ['/events/slug/a--b', 'slug'],
    ];
    for (const [path, field] of cases) {
      it(`GET ${path}`, async () => {
        const res = await get(shop, path).expect(400).expect('Content-Type', /json/);
        expect(res.body.field).to.equal(field);
        expect(res.body.error)
          .to.be.a('string')
          .and.match(new RegExp(`^${field} `));
        expect(res.headers['x-cache']).to.equal(undefined);
      });
    }
  });

  describe('unknown → 404 JSON, never cached', () => {
    for (const path of ['/courses/999999', '/products/slug/no-such-product', '/events/424242', '/users/999999/bookings']) {
      it(`GET ${path}`, async () => {
        const first = await get(shop, path).expect(404).expect('Content-Type', /json/);
        expect(first.body.error).to.match(/not found$/);
        const second = await get(shop, path).expect(404);
        expect(second.headers['x-cache']).to.not.equal('HIT');
        expect(second.body).to.deep.equal(first.body);
      });
    }

    it('an unknown route', async () => {
      const res = await get(shop, '/nowhere').expect(404);
      expect(res.body).to.deep.equal({ error: 'not found' });
    });
  });

  describe('bad bodies → 400 naming the field, no stack', () => {
    const valid = { title: 'Valid Course', slug: 'valid-course', price: 10, duration_hours: 3, level: 'beginner' };

    it('malformed JSON', async () => {
      const res = await request(shop.app).post('/courses').set('Content-Type', 'application/json').send('{"title": "half').expect(400);
      expect(res.body).to.deep.equal({ error: 'request body is not valid JSON', field: 'body' });
      expectNoInternals(res.body);
    });

    it('no JSON body at all', async () => {
      const res = await request(shop.app).post('/courses').set('Content-Type', 'text/plain').send('title=x').expect(400);
      expect(res.body.field).to.equal('body');
    });

    const failures: Array<[string, Record<string, unknown>, string]> = [
      ['a missing required field', { ...valid, price: undefined }, 'price'],
      ['a negative price', { ...valid, price: -1 }, 'price'],
      ['a price with three decimals', { ...valid, price: 1.234 }, 'price'],
      ['a price given as a string', { ...valid, price: '10' }, 'price'],
      ['an unknown level', { ...valid, level: 'expert' }, 'level'],
      ['an empty title', { ...valid, title: '   ' }, 'title'],
      ['a bad slug', { ...valid, slug: 'Has Spaces' }, 'slug'],
      ['a curriculum that is not an array', { ...valid, curriculum: { module: 1 } }, 'curriculum'],
      ['an unknown field', { ...valid, owner: 'me' }, 'owner'],
      ['a bad image URL', { ...valid, image_url: 'javascript:alert(1)' }, 'image_url'],
    ];
    for (const [what, body, field] of failures) {
      it(`POST /courses with ${what}`, async () => {
        const res = await request(shop.app).post('/courses').send(body).expect(400);
        expect(res.body.field).to.equal(field);
        expectNoInternals(res.body);
      });
    }

    it('PUT with an empty object, and events with a bad date or capacity', async () => {
      expect((await request(shop.app).put('/courses/1').send({}).expect(400)).body.field).to.equal('body');
      expect((await request(shop.app).put('/events/1').send({ event_date: 'next friday' }).expect(400)).body.field).to.equal('event_date');
      expect((await request(shop.app).put('/events/1').send({ capacity: 0 }).expect(400)).body.field).to.equal('capacity');
      expect((await request(shop.app).put('/products/1').send({ type: 'vinyl' }).expect(400)).body.field).to.equal('type');
      expect((await request(shop.app).post('/users/1/bookings').send({ event_id: 'one' }).expect(400)).body.field).to.equal('event_id');
    });

    it('a slug already taken → 409 naming slug', async () => {
      const res = await request(shop.app).put('/courses/2').send({ slug: 'modern-postgresql-1' }).expect(409);
      expect(res.body).to.deep.equal({ error: 'slug already exists', field: 'slug' });
    });
  });

  describe('database failures → 503 JSON, never cached', () => {
    it('a database nobody listens on: every read is a 503 and stays uncached; /health says so', async () => {
      const redis = await connectShared();
      const prefix = randomPrefix('shop-down');
      const db = createPostgresDb(`postgres://postgres@127.0.0.1:${await freePort()}/nothing`);
      const cache = createCache({ redis, prefix });
      const log = memoryLogger();
      const app = createApp({ db, cache, redis, logger: log });
      try {
        for (const path of ['/courses', '/courses/1', '/users/1/enrollments']) {
          for (let attempt = 0; attempt < 2; attempt += 1) {
            const res = await request(app).get(path).expect(503).expect('Content-Type', /json/);
            expect(res.body).to.deep.equal({ error: 'database unavailable, try again shortly' });
            expect(res.headers['x-cache'], `${path} attempt ${attempt}`).to.equal('MISS');
          }
        }
        const created = await request(app)
          .post('/courses')
          .send({ title: 'T', slug: 't', price: 1, duration_hours: 1, level: 'beginner' })
          .expect(503);
        expectNoInternals(created.body);
        const health = await request(app).get('/health').expect(503);
        expect(health.body).to.deep.include({ status: 'degraded' });
        expect(health.body.database).to.include({ kind: 'postgres', ok: false });
        expect(health.body.cache).to.include({ store: 'redis', ok: true });
        expect(log.lines.some((line) => line.startsWith('error: database error'))).to.equal(true);
      } finally {
        await cache.close();
        await db.close();
        await deleteByPrefix(redis, prefix);
        await redis.quit();
      }
    });

    it('a database dropped mid-run: cached reads keep being served, uncached ones get 503 and stay uncached', async () => {
      const redis = await connectShared();
      const prefix = randomPrefix('shop-dropped');
      const database = await createTestDatabase();
      const db = createPostgresDb(database.url, { max: 2 });
      const cache = createCache({ redis, prefix });
      const app = createApp({ db, cache, redis });
      try {
        await migrate(db);
        await seedIfEmpty(db);
        await request(app).get('/courses/1').expect(200);
        expect((await request(app).get('/courses/1').expect(200)).headers['x-cache']).to.equal('HIT');

        await database.drop();

        const cached = await request(app).get('/courses/1').expect(200);
        expect(cached.headers['x-cache']).to.equal('HIT');
        for (let attempt = 0; attempt < 2; attempt += 1) {
          const res = await request(app).get('/courses/2').expect(503);
          expect(res.headers['x-cache']).to.equal('MISS');
          expect(res.body).to.deep.equal({ error: 'database unavailable, try again shortly' });
        }
        expect((await request(app).get('/health').expect(503)).body.database.ok).to.equal(false);
      } finally {
        await cache.close();
        await db.close();
        await database.drop();
        await deleteByPrefix(redis, prefix);
        await redis.quit();
      }
    });
  });
});
