/**
 * The example shop's mutations on real PostgreSQL and Redis: each one makes
 * the next read of every route whose data it changed fresh (MISS, new data)
 * and leaves every other namespace cached (HIT), as the invalidation map says.
 * A failed mutation clears nothing.
 */
import { expect } from 'chai';
import request from 'supertest';
import { get } from '../../helpers/pg-shop';
import { useTestShop } from '../../helpers/hooks';

describe('example app: mutations and invalidation (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  const shop = useTestShop();

  /** Reads each path until it is cached (a HIT), so a later MISS can only come from a clear. */
  async function prime(paths: string[]): Promise<void> {
    for (const path of paths) {
      let status: unknown;
      // A miss is stored in the background, so allow the store a moment on a busy machine.
      for (let attempt = 0; attempt < 4 && status !== 'HIT'; attempt += 1) {
        status = (await get(shop, path).expect(200)).headers['x-cache'];
      }
      expect(status, `${path} primed`).to.equal('HIT');
    }
  }

  async function expectCache(paths: string[], expected: 'MISS' | 'HIT'): Promise<void> {
    for (const path of paths) {
      const res = await get(shop, path).expect(200);
      expect(res.headers['x-cache'], path).to.equal(expected);
    }
  }

  async function userIds(sql: string, params: unknown[]): Promise<number[]> {
    const { rows } = await shop.db.query<{ user_id: number }>(sql, params);
    return rows.map((row) => row.user_id);
  }

  /** A user holding nothing of `table` for `column` = `itemId`. */
  async function outsider(table: string, column: string, itemId: number): Promise<number> {
    const { rows } = await shop.db.query<{ id: number }>(
      `SELECT id FROM users u WHERE NOT EXISTS (SELECT 1 FROM ${table} h WHERE h.user_id = u.id AND h.${column} = $1)
        ORDER BY id LIMIT 1`,
      [itemId],
    );
    return rows[0]!.id;
  }

  const otherCatalogs = {
    courses: ['/products', '/products/count', '/events/upcoming', '/events/7'],
    products: ['/courses', '/courses/count', '/events/upcoming', '/events/7'],
    events: ['/courses', '/courses/count', '/products', '/products/7'],
  } as const;

  const newRow = {
    courses: {
      title: 'Caching with Redis',
      slug: 'caching-with-redis',
      price: 49.5,
      duration_hours: 6,
      level: 'intermediate',
      is_published: true,
      curriculum: [{ module: 1, title: 'Cache-aside', lessons: 4 }],
    },
    products: { title: 'Redis Cheat Sheet', slug: 'redis-cheat-sheet-new', price: 9.99, type: 'pdf', is_published: true },
    events: {
      title: 'Cache Night',
      slug: 'cache-night',
      price: 0,
      event_date: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      venue: 'Online',
      capacity: 100,
      is_published: true,
    },
  } as const;

  const holdings = {
    courses: { table: 'enrollments', column: 'course_id', list: 'enrollments' },
    products: { table: 'purchases', column: 'product_id', list: 'purchases' },
    events: { table: 'bookings', column: 'event_id', list: 'bookings' },
  } as const;

  for (const name of ['courses', 'products', 'events'] as const) {
    describe(`${name}`, () => {
      const { table, column, list } = holdings[name];

      it(`POST /${name} refreshes the ${name} lists and counts, nothing else`, async () => {
        const catalog = [`/${name}`, `/${name}/published`, `/${name}/count`];
        await prime([...catalog, ...otherCatalogs[name], '/users/1/enrollments']);
        const created = await request(shop.app).post(`/${name}`).send(newRow[name]).expect(201);
        expect(created.headers.location).to.equal(`/${name}/${created.body.id}`);
        expect(created.body).to.include({ slug: newRow[name].slug, is_published: true });

        const all = await get(shop, `/${name}`).expect(200);
        expect(all.headers['x-cache']).to.equal('MISS');
        expect(all.body.map((row: { id: number }) => row.id)).to.include(created.body.id);
        const published = await get(shop, `/${name}/published`).expect(200);
        expect(published.headers['x-cache']).to.equal('MISS');
        expect(published.body.map((row: { id: number }) => row.id)).to.include(created.body.id);
        await expectCache([`/${name}/count`], 'MISS');
        await expectCache([...otherCatalogs[name], '/users/1/enrollments'], 'HIT');
      });

      it(`PUT /${name}/:id of a field the user lists show refreshes the ${name} and the ${list} of its holders`, async () => {
        const itemId = 11;
        const holders = await userIds(`SELECT user_id FROM ${table} WHERE ${column} = $1 ORDER BY user_id`, [itemId]);
        expect(holders.length).to.be.greaterThan(1);
        const stranger = await outsider(table, column, itemId);
        const holderLists = holders.slice(0, 3).map((id) => `/users/${id}/${list}`);
        await prime([`/${name}/${itemId}`, `/${name}`, ...holderLists, `/users/${stranger}/${list}`, ...otherCatalogs[name]]);

        const title = `Renamed ${name} ${itemId}`;
        const updated = await request(shop.app).put(`/${name}/${itemId}`).send({ title }).expect(200);
        expect(updated.body).to.include({ id: itemId, title });
        expect(updated.body).to.not.have.property('users_touched');

        const detail = await get(shop, `/${name}/${itemId}`).expect(200);
        expect(detail.headers['x-cache']).to.equal('MISS');
        expect(detail.body.title).to.equal(title);
        await expectCache([`/${name}`], 'MISS');
        for (const path of holderLists) {
          const res = await get(shop, path).expect(200);
          expect(res.headers['x-cache'], path).to.equal('MISS');
          const singular = name.slice(0, -1);
          const entry = res.body.find((row: Record<string, { id: number }>) => row[singular]!.id === itemId);
          expect(entry[singular].title, path).to.equal(title);
        }
        await expectCache([`/users/${stranger}/${list}`, ...otherCatalogs[name]], 'HIT');
      });

      it(`PUT /${name}/:id of a field the user lists do not show leaves the ${list} cached`, async () => {
        const itemId = 12;
        const holders = await userIds(`SELECT user_id FROM ${table} WHERE ${column} = $1 ORDER BY user_id LIMIT 2`, [itemId]);
        const holderLists = holders.map((id) => `/users/${id}/${list}`);
        await prime([`/${name}/${itemId}`, ...holderLists]);
        await request(shop.app).put(`/${name}/${itemId}`).send({ price: 123.45, description: 'Now dearer.' }).expect(200);
        const detail = await get(shop, `/${name}/${itemId}`).expect(200);
        expect(detail.headers['x-cache']).to.equal('MISS');
        expect(detail.body.price).to.equal(123.45);
        await expectCache(holderLists, 'HIT');
      });

      it(`DELETE /${name}/:id soft-deletes: gone from the ${name} and from its holders' ${list}`, async () => {
        const itemId = 13;
        const holders = await userIds(`SELECT user_id FROM ${table} WHERE ${column} = $1 ORDER BY user_id LIMIT 3`, [itemId]);
        const stranger = await outsider(table, column, itemId);
        const holderLists = holders.map((id) => `/users/${id}/${list}`);
        await prime([
          `/${name}/${itemId}`,
          `/${name}`,
          `/${name}/count`,
          ...holderLists,
          `/users/${stranger}/${list}`,
          ...otherCatalogs[name],
        ]);

        const deleted = await request(shop.app).delete(`/${name}/${itemId}`).expect(200);
        expect(deleted.body.id).to.equal(itemId);
        expect(Date.parse(deleted.body.deleted_at)).to.be.closeTo(Date.now(), 60_000);

        await get(shop, `/${name}/${itemId}`).expect(404);
        const all = await get(shop, `/${name}`).expect(200);
        expect(all.headers['x-cache']).to.equal('MISS');
        expect(all.body.map((row: { id: number }) => row.id)).to.not.include(itemId);
        await expectCache([`/${name}/count`], 'MISS');
        const singular = name.slice(0, -1);
        for (const path of holderLists) {
          const res = await get(shop, path).expect(200);
          expect(res.headers['x-cache'], path).to.equal('MISS');
          expect(res.body.map((row: Record<string, { id: number }>) => row[singular]!.id)).to.not.include(itemId);
        }
        await expectCache([`/users/${stranger}/${list}`, ...otherCatalogs[name]], 'HIT');
        // The row is still there, only marked.
        const { rows } = await shop.db.query(`SELECT 1 FROM ${name} WHERE id = $1 AND deleted_at IS NOT NULL`, [itemId]);
        expect(rows).to.have.length(1);
        await request(shop.app).delete(`/${name}/${itemId}`).expect(404);
      });
    });
  }

  describe('per-user mutations', () => {
    const userId = 77;
    const neighbour = 78;
    const unaffected = [
      '/courses',
      '/courses/count',
      '/products',
      '/events/upcoming',
      `/users/${neighbour}/enrollments`,
      `/users/${neighbour}/purchases`,
      `/users/${neighbour}/bookings`,
    ];

    async function available(catalog: string, table: string, column: string, extra = ''): Promise<number> {
      const { rows } = await shop.db.query<{ id: number }>(
        `SELECT i.id FROM ${catalog} i WHERE i.is_published AND i.deleted_at IS NULL ${extra}
            AND NOT EXISTS (SELECT 1 FROM ${table} h WHERE h.user_id = $1 AND h.${column} = i.id)
          ORDER BY i.id LIMIT 1`,
        [userId],
      );
      return rows[0]!.id;
    }

    it('POST /users/:id/enrollments refreshes that user only', async () => {
      const courseId = await available('courses', 'enrollments', 'course_id');
      await prime([`/users/${userId}/enrollments`, ...unaffected]);
      const res = await request(shop.app).post(`/users/${userId}/enrollments`).send({ course_id: courseId }).expect(201);
      expect(res.body).to.include({ user_id: userId, course_id: courseId, progress: 0 });
      const list = await get(shop, `/users/${userId}/enrollments`).expect(200);
      expect(list.headers['x-cache']).to.equal('MISS');
      expect(list.body.map((row: { course: { id: number } }) => row.course.id)).to.include(courseId);
      await expectCache(unaffected, 'HIT');
      // Enrolling twice is a conflict and clears nothing.
      const conflict = await request(shop.app).post(`/users/${userId}/enrollments`).send({ course_id: courseId }).expect(409);
      expect(conflict.body).to.deep.include({ field: 'course_id' });
      await expectCache([`/users/${userId}/enrollments`], 'HIT');
    });

    it('POST /users/:id/purchases refreshes that user only, at the catalog price', async () => {
      const productId = await available('products', 'purchases', 'product_id');
      await prime([`/users/${userId}/purchases`, ...unaffected]);
      const res = await request(shop.app).post(`/users/${userId}/purchases`).send({ product_id: productId }).expect(201);
      const product = await get(shop, `/products/${productId}`).expect(200);
      expect(res.body).to.include({ user_id: userId, product_id: productId, price_paid: product.body.price });
      const list = await get(shop, `/users/${userId}/purchases`).expect(200);
      expect(list.headers['x-cache']).to.equal('MISS');
      expect(list.body.map((row: { product: { id: number } }) => row.product.id)).to.include(productId);
      await expectCache(unaffected, 'HIT');
    });

    it('POST /users/:id/bookings refreshes that user only; past events are refused', async () => {
      const eventId = await available('events', 'bookings', 'event_id', 'AND i.event_date > now()');
      await prime([`/users/${userId}/bookings`, ...unaffected]);
      const res = await request(shop.app).post(`/users/${userId}/bookings`).send({ event_id: eventId }).expect(201);
      expect(res.body).to.include({ user_id: userId, event_id: eventId });
      const list = await get(shop, `/users/${userId}/bookings`).expect(200);
      expect(list.headers['x-cache']).to.equal('MISS');
      expect(list.body.map((row: { event: { id: number } }) => row.event.id)).to.include(eventId);
      await expectCache(unaffected, 'HIT');

      const past = await available('events', 'bookings', 'event_id', 'AND i.event_date < now()');
      const refused = await request(shop.app).post(`/users/${userId}/bookings`).send({ event_id: past }).expect(409);
      expect(refused.body).to.deep.equal({ error: 'event has already taken place', field: 'event_id' });
      await expectCache([`/users/${userId}/bookings`], 'HIT');
    });

    it('refuses unknown users and items with 404 and clears nothing', async () => {
      await prime([`/users/${userId}/enrollments`]);
      const noUser = await request(shop.app).post('/users/999999/enrollments').send({ course_id: 1 }).expect(404);
      expect(noUser.body).to.deep.equal({ error: 'user not found' });
      const noCourse = await request(shop.app).post(`/users/${userId}/enrollments`).send({ course_id: 999999 }).expect(404);
      expect(noCourse.body).to.deep.equal({ error: 'course not found', field: 'course_id' });
      await expectCache([`/users/${userId}/enrollments`], 'HIT');
    });
  });

  it('a failed mutation (400, 404, 409) clears nothing', async () => {
    await prime(['/courses', '/courses/count', '/courses/5']);
    await request(shop.app).put('/courses/5').send({ level: 'expert' }).expect(400);
    await request(shop.app).put('/courses/999999').send({ title: 'Nobody' }).expect(404);
    await request(shop.app)
      .post('/courses')
      .send({ ...newRow.courses, slug: 'modern-postgresql-1' })
      .expect(409);
    await request(shop.app).delete('/courses/abc').expect(400);
    await expectCache(['/courses', '/courses/count', '/courses/5'], 'HIT');
  });
});
