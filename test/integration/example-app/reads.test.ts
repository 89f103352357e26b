/**
 * The example shop's read routes on real PostgreSQL and Redis: each returns
 * the data the database holds (lists with list columns only and no
 * soft-deleted rows, details in full, per-user lists joined with their items),
 * and each is served MISS then HIT (or HIT at once when warmed at startup).
 */
import { expect } from 'chai';
import { seedSizes } from '../../../example-app/src/seed';
import { get } from '../../helpers/pg-shop';
import { useTestShop } from '../../helpers/hooks';

describe('example app: read routes (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  const shop = useTestShop();

  async function count(sql: string, params: unknown[] = []): Promise<number> {
    const { rows } = await shop.db.query<{ n: number }>(sql, params);
    return rows[0]!.n;
  }

  /** GETs path twice: the first answer says `first`, the second HIT with the same body. */
  async function readTwice(path: string, first: 'MISS' | 'HIT' = 'MISS'): Promise<unknown> {
    const one = await get(shop, path).expect(200).expect('Content-Type', /json/);
    expect(one.headers['x-cache'], `${path} first`).to.equal(first);
    const two = await get(shop, path).expect(200);
    expect(two.headers['x-cache'], `${path} second`).to.equal('HIT');
    expect(two.body, `${path} replay`).to.deep.equal(one.body);
    return one.body;
  }

  const listColumns = {
    courses: ['id', 'title', 'slug', 'price', 'image_url', 'level', 'duration_hours', 'is_published'],
    products: ['id', 'title', 'slug', 'price', 'image_url', 'type', 'is_published'],
    events: ['id', 'title', 'slug', 'price', 'image_url', 'event_date', 'venue', 'is_published'],
  } as const;

  for (const name of ['courses', 'products', 'events'] as const) {
    describe(`/${name}`, () => {
      it('lists every row not soft-deleted, with list columns only, in id order', async () => {
        const body = (await readTwice(`/${name}`)) as Array<Record<string, unknown>>;
        expect(body).to.have.length(await count(`SELECT count(*)::int AS n FROM ${name} WHERE deleted_at IS NULL`));
        expect(body.length).to.be.greaterThan(seedSizes[name] * 0.9);
        for (const row of body) expect(Object.keys(row)).to.have.members([...listColumns[name]]);
        const ids = body.map((row) => row.id as number);
        expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
        const deleted = await shop.db.query<{ id: number }>(`SELECT id FROM ${name} WHERE deleted_at IS NOT NULL`);
        expect(deleted.rows.length).to.be.greaterThan(0);
        expect(ids).to.not.include.members(deleted.rows.map((row) => row.id));
      });

      // Published courses and products are warmed at startup (events warm their upcoming list instead).
      const publishedWarmed = name !== 'events';
      it(`lists published rows${publishedWarmed ? ' (warmed: the first read is a HIT)' : ''}`, async () => {
        const body = (await readTwice(`/${name}/published`, publishedWarmed ? 'HIT' : 'MISS')) as Array<Record<string, unknown>>;
        expect(body).to.have.length(await count(`SELECT count(*)::int AS n FROM ${name} WHERE deleted_at IS NULL AND is_published`));
        expect(body.every((row) => row.is_published === true)).to.equal(true);
      });

      it('counts rows and published rows (warmed)', async () => {
        const body = await readTwice(`/${name}/count`, 'HIT');
        expect(body).to.deep.equal({
          total: await count(`SELECT count(*)::int AS n FROM ${name} WHERE deleted_at IS NULL`),
          published: await count(`SELECT count(*)::int AS n FROM ${name} WHERE deleted_at IS NULL AND is_published`),
        });
      });

      it('serves one row by id in full, and the same row by slug', async () => {
        const byId = (await readTwice(`/${name}/3`)) as Record<string, unknown>;
        expect(byId).to.include({ id: 3 });
        expect(byId).to.have.property('description').that.is.a('string').and.not.empty;
        expect(byId).to.have.property('created_at');
        expect(byId).to.not.have.property('deleted_at');
        if (name === 'courses') expect(byId.curriculum).to.be.an('array').that.is.not.empty;
        if (name === 'events') expect(byId).to.have.property('capacity').that.is.a('number');
        const bySlug = await readTwice(`/${name}/slug/${String(byId.slug)}`);
        expect(bySlug).to.deep.equal(byId);
      });

      it('answers 404 for a soft-deleted row, by id and by slug', async () => {
        const { rows } = await shop.db.query<{ id: number; slug: string }>(
          `SELECT id, slug FROM ${name} WHERE deleted_at IS NOT NULL ORDER BY id LIMIT 1`,
        );
        const gone = rows[0]!;
        await get(shop, `/${name}/${gone.id}`).expect(404);
        await get(shop, `/${name}/slug/${gone.slug}`).expect(404);
      });
    });
  }

  it('/products/type/:type lists the published products of that type', async () => {
    for (const type of ['pdf', 'video', 'audio', 'ebook', 'bundle']) {
      const body = (await readTwice(`/products/type/${type}`)) as Array<Record<string, unknown>>;
      expect(body).to.have.length(
        await count('SELECT count(*)::int AS n FROM products WHERE type = $1 AND is_published AND deleted_at IS NULL', [type]),
      );
      expect(body.length).to.be.greaterThan(0);
      expect(body.every((row) => row.type === type && row.is_published === true)).to.equal(true);
    }
  });

  it('/events/upcoming lists published events after now, soonest first (warmed)', async () => {
    const body = (await readTwice('/events/upcoming', 'HIT')) as Array<{ event_date: string; is_published: boolean }>;
    expect(body).to.have.length(
      await count('SELECT count(*)::int AS n FROM events WHERE is_published AND deleted_at IS NULL AND event_date > now()'),
    );
    expect(body.length).to.be.greaterThan(50);
    const dates = body.map((row) => Date.parse(row.event_date));
    expect(dates.every((date) => date > Date.now() - 60_000)).to.equal(true);
    expect(dates).to.deep.equal([...dates].sort((a, b) => a - b));
    expect(body.every((row) => row.is_published)).to.equal(true);
  });

  describe('/users/:id/...', () => {
    const userId = 42;

    it('enrollments: each joined with its course, courses soft-deleted left out', async () => {
      const body = (await readTwice(`/users/${userId}/enrollments`)) as Array<{
        progress: number;
        course: { id: number; title: string; slug: string; image_url: string };
      }>;
      const { rows } = await shop.db.query<{ id: number; title: string }>(
        `SELECT c.id, c.title FROM enrollments e JOIN courses c ON c.id = e.course_id
          WHERE e.user_id = $1 AND c.deleted_at IS NULL`,
        [userId],
      );
      expect(rows.length).to.be.within(1, seedSizes.enrollments / seedSizes.users);
      expect(body.map((row) => row.course.id)).to.have.members(rows.map((row) => row.id));
      for (const row of body) {
        expect(Object.keys(row.course)).to.have.members(['id', 'title', 'slug', 'image_url']);
        expect(row.course.title).to.equal(rows.find((r) => r.id === row.course.id)?.title);
        expect(row.progress).to.be.within(0, 100);
      }
    });

    it('purchases: each joined with its product', async () => {
      const body = (await readTwice(`/users/${userId}/purchases`)) as Array<{
        price_paid: number;
        product: { id: number; type: string };
      }>;
      const { rows } = await shop.db.query<{ id: number }>(
        `SELECT p.id FROM purchases h JOIN products p ON p.id = h.product_id
          WHERE h.user_id = $1 AND p.deleted_at IS NULL`,
        [userId],
      );
      expect(rows.length).to.be.greaterThan(0);
      expect(body.map((row) => row.product.id)).to.have.members(rows.map((row) => row.id));
      for (const row of body) {
        expect(row.price_paid).to.be.a('number');
        expect(Object.keys(row.product)).to.have.members(['id', 'title', 'slug', 'type']);
      }
    });

    it('bookings: each joined with its event', async () => {
      const body = (await readTwice(`/users/${userId}/bookings`)) as Array<{ event: { id: number; venue: string } }>;
      const { rows } = await shop.db.query<{ id: number }>(
        `SELECT e.id FROM bookings b JOIN events e ON e.id = b.event_id
          WHERE b.user_id = $1 AND e.deleted_at IS NULL`,
        [userId],
      );
      expect(rows.length).to.be.greaterThan(0);
      expect(body.map((row) => row.event.id)).to.have.members(rows.map((row) => row.id));
      for (const row of body) {
        expect(Object.keys(row.event)).to.have.members(['id', 'title', 'slug', 'event_date', 'venue']);
      }
    });

    it('a user who holds nothing gets an empty list; an unknown user a 404', async () => {
      const created = await shop.db.query<{ id: number }>(
        "INSERT INTO users (email, name) VALUES ('empty@example.test', 'Empty Handed') RETURNING id",
      );
      const body = await readTwice(`/users/${created.rows[0]!.id}/enrollments`);
      expect(body).to.deep.equal([]);
      const unknown = await get(shop, '/users/999999/enrollments').expect(404);
      expect(unknown.body).to.deep.equal({ error: 'user not found' });
    });
  });
});
