/**
 * The example shop on tags (issue 12), on real PostgreSQL and Redis: an edit
 * of one course clears exactly the entries that show it (its detail by id and
 * by slug, its line in its holders' lists, the lists and counts the edited
 * fields appear in) and leaves every other entry HIT; a holding clears that
 * user's list and the item's holder count; a soft delete clears what the item
 * appeared in; the bulk import clears the namespace; the admin routes need
 * the token and clear-all clears everything. INVALIDATION=namespaces still
 * selects the map of before, for the benchmark.
 */
import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '../../../example-app/src/app';
import { useTestShop } from '../../helpers/hooks';
import { get } from '../../helpers/pg-shop';

const adminToken = 'test-admin-token-0123456789';

describe('example app: tags clear exactly what an edit touched (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  const shop = useTestShop({ adminToken });

  /** Reads each path until it is cached (a HIT), so a later MISS can only come from a clear. */
  async function prime(paths: string[]): Promise<void> {
    for (const path of paths) {
      let status: unknown;
      // A miss is stored in the background, so allow the store a moment on a busy machine.
      for (let attempt = 0; attempt < 6 && status !== 'HIT'; attempt += 1) {
        status = (await get(shop, path).expect(200)).headers['x-cache'];
        if (status !== 'HIT') await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(status, `${path} primed`).to.equal('HIT');
    }
  }

  async function expectCache(paths: string[], expected: 'MISS' | 'HIT'): Promise<void> {
    for (const path of paths) {
      const res = await get(shop, path).expect(200);
      expect(res.headers['x-cache'], `${path} after the mutation`).to.equal(expected);
    }
  }

  async function holdersOf(table: string, column: string, itemId: number, limit = 3): Promise<number[]> {
    const { rows } = await shop.db.query<{ user_id: number }>(
      `SELECT user_id FROM ${table} WHERE ${column} = $1 ORDER BY user_id LIMIT ${limit}`,
      [itemId],
    );
    return rows.map((row) => row.user_id);
  }

  /** A user holding nothing of `table` for `column` = `itemId`. */
  async function outsider(table: string, column: string, itemId: number): Promise<number> {
    const { rows } = await shop.db.query<{ id: number }>(
      `SELECT id FROM users u WHERE NOT EXISTS (SELECT 1 FROM ${table} h WHERE h.user_id = u.id AND h.${column} = $1)
        ORDER BY id DESC LIMIT 1`,
      [itemId],
    );
    return rows[0]!.id;
  }

  async function slugOf(catalog: string, id: number): Promise<string> {
    const { rows } = await shop.db.query<{ slug: string }>(`SELECT slug FROM ${catalog} WHERE id = $1`, [id]);
    return rows[0]!.slug;
  }

  it("an edit of course N's title clears its detail, slug page, the course lists and its holders' enrollments; other courses and users stay HIT", async () => {
    const courseId = 21;
    const slug = await slugOf('courses', courseId);
    const holders = await holdersOf('enrollments', 'course_id', courseId);
    expect(holders).to.have.length(3);
    const stranger = await outsider('enrollments', 'course_id', courseId);
    const affected = [
      `/courses/${courseId}`,
      `/courses/slug/${slug}`,
      '/courses',
      '/courses/published',
      ...holders.map((id) => `/users/${id}/enrollments`),
    ];
    const untouched = [
      '/courses/22',
      `/courses/slug/${await slugOf('courses', 22)}`,
      '/courses/count',
      `/courses/${courseId}/enrollments/count`,
      `/users/${stranger}/enrollments`,
      `/users/${holders[0]}/purchases`,
      `/users/${holders[0]}/bookings`,
      '/products',
      '/products/7',
      '/events/upcoming',
    ];
    await prime([...affected, ...untouched]);

    const title = 'Tagged and renamed';
    await request(shop.app).put(`/courses/${courseId}`).send({ title }).expect(200);

    const detail = await get(shop, `/courses/${courseId}`).expect(200);
    expect(detail.headers['x-cache']).to.equal('MISS');
    expect(detail.body.title).to.equal(title);
    const bySlug = await get(shop, `/courses/slug/${slug}`).expect(200);
    expect(bySlug.headers['x-cache']).to.equal('MISS');
    expect(bySlug.body.title).to.equal(title);
    for (const path of ['/courses', '/courses/published']) {
      const list = await get(shop, path).expect(200);
      expect(list.headers['x-cache'], path).to.equal('MISS');
      expect(list.body.find((row: { id: number }) => row.id === courseId).title, path).to.equal(title);
    }
    for (const id of holders) {
      const list = await get(shop, `/users/${id}/enrollments`).expect(200);
      expect(list.headers['x-cache'], `user ${id}`).to.equal('MISS');
      expect(list.body.find((row: { course: { id: number } }) => row.course.id === courseId).course.title).to.equal(title);
    }
    await expectCache(untouched, 'HIT');
  });

  it('an edit of a field only the detail shows (description) clears the detail and the slug page, and no list', async () => {
    const courseId = 23;
    const slug = await slugOf('courses', courseId);
    const holders = await holdersOf('enrollments', 'course_id', courseId, 2);
    const untouched = ['/courses', '/courses/published', '/courses/count', ...holders.map((id) => `/users/${id}/enrollments`)];
    await prime([`/courses/${courseId}`, `/courses/slug/${slug}`, ...untouched]);
    await request(shop.app).put(`/courses/${courseId}`).send({ description: 'Only the detail page shows this.' }).expect(200);
    const detail = await get(shop, `/courses/${courseId}`).expect(200);
    expect(detail.headers['x-cache']).to.equal('MISS');
    expect(detail.body.description).to.equal('Only the detail page shows this.');
    await expectCache([`/courses/slug/${slug}`], 'MISS');
    await expectCache(untouched, 'HIT');
  });

  it('a price edit of an unpublished course clears the all-courses list but not the published one', async () => {
    const { rows } = await shop.db.query<{ id: number }>(
      'SELECT id FROM courses WHERE NOT is_published AND deleted_at IS NULL ORDER BY id LIMIT 1',
    );
    const courseId = rows[0]!.id;
    await prime([`/courses/${courseId}`, '/courses', '/courses/published', '/courses/count']);
    await request(shop.app).put(`/courses/${courseId}`).send({ price: 77.5 }).expect(200);
    const all = await get(shop, '/courses').expect(200);
    expect(all.headers['x-cache']).to.equal('MISS');
    expect(all.body.find((row: { id: number }) => row.id === courseId).price).to.equal(77.5);
    await expectCache([`/courses/${courseId}`], 'MISS');
    await expectCache(['/courses/published', '/courses/count'], 'HIT');
  });

  const holdings = [
    { catalog: 'courses', table: 'enrollments', column: 'course_id', extra: '' },
    { catalog: 'products', table: 'purchases', column: 'product_id', extra: '' },
    { catalog: 'events', table: 'bookings', column: 'event_id', extra: 'AND i.event_date > now()' },
  ] as const;

  for (const { catalog, table, column, extra } of holdings) {
    it(`POST /users/:id/${table} clears that user's ${table} and the item's ${table} count, nothing else`, async () => {
      const userId = 91;
      const { rows } = await shop.db.query<{ id: number }>(
        `SELECT i.id FROM ${catalog} i WHERE i.is_published AND i.deleted_at IS NULL ${extra}
            AND NOT EXISTS (SELECT 1 FROM ${table} h WHERE h.user_id = $1 AND h.${column} = i.id)
          ORDER BY i.id LIMIT 2`,
        [userId],
      );
      const [itemId, otherItem] = rows.map((row) => row.id) as [number, number];
      const others = (['enrollments', 'purchases', 'bookings'] as const).filter((list) => list !== table);
      const untouched = [
        ...others.map((list) => `/users/${userId}/${list}`),
        `/users/${userId + 1}/${table}`,
        `/${catalog}/${otherItem}/${table}/count`,
        `/${catalog}/${itemId}`,
        `/${catalog}`,
        `/${catalog}/count`,
        '/courses/count',
      ];
      await prime([`/users/${userId}/${table}`, `/${catalog}/${itemId}/${table}/count`, ...untouched]);
      const before = (await get(shop, `/${catalog}/${itemId}/${table}/count`).expect(200)).body[table] as number;

      await request(shop.app)
        .post(`/users/${userId}/${table}`)
        .send({ [column]: itemId })
        .expect(201);

      const list = await get(shop, `/users/${userId}/${table}`).expect(200);
      expect(list.headers['x-cache']).to.equal('MISS');
      const singular = catalog.slice(0, -1);
      expect(list.body.map((row: Record<string, { id: number }>) => row[singular]!.id)).to.include(itemId);
      const count = await get(shop, `/${catalog}/${itemId}/${table}/count`).expect(200);
      expect(count.headers['x-cache']).to.equal('MISS');
      expect(count.body).to.deep.equal({ id: itemId, [table]: before + 1 });
      await expectCache(untouched, 'HIT');
    });
  }

  it("a soft delete clears what the item appeared in: detail, slug page, lists, count, its holder count and its holders' lists", async () => {
    const productId = 41;
    const slug = await slugOf('products', productId);
    const { rows } = await shop.db.query<{ type: string; is_published: boolean }>('SELECT type, is_published FROM products WHERE id = $1', [
      productId,
    ]);
    expect(rows[0]!.is_published).to.equal(true);
    const typeList = `/products/type/${rows[0]!.type}`;
    const holders = await holdersOf('purchases', 'product_id', productId);
    const stranger = await outsider('purchases', 'product_id', productId);
    const listsAndCounts = [
      '/products',
      '/products/published',
      typeList,
      '/products/count',
      ...holders.map((id) => `/users/${id}/purchases`),
    ];
    const untouched = ['/products/42', `/users/${stranger}/purchases`, `/users/${holders[0]}/enrollments`, '/courses', '/courses/count'];
    await prime([
      `/products/${productId}`,
      `/products/slug/${slug}`,
      `/products/${productId}/purchases/count`,
      ...listsAndCounts,
      ...untouched,
    ]);

    await request(shop.app).delete(`/products/${productId}`).expect(200);

    await get(shop, `/products/${productId}`).expect(404);
    await get(shop, `/products/slug/${slug}`).expect(404);
    await get(shop, `/products/${productId}/purchases/count`).expect(404);
    for (const path of listsAndCounts) {
      const res = await get(shop, path).expect(200);
      expect(res.headers['x-cache'], path).to.equal('MISS');
      if (Array.isArray(res.body)) {
        const ids = res.body.map((row: { id: number; product?: { id: number } }) => row.product?.id ?? row.id);
        expect(ids, path).to.not.include(productId);
      }
    }
    await expectCache(untouched, 'HIT');
  });

  describe('admin routes', () => {
    const csv = (rows: string[]) => ['title,slug,price,duration_hours,level,is_published', ...rows].join('\n');

    it('refuse a request without the token (401) or with a wrong one (403), and clear nothing', async () => {
      await prime(['/courses', '/courses/5']);
      const none = await request(shop.app).post('/admin/cache/clear').expect(401);
      expect(none.body).to.deep.equal({ error: 'admin token required' });
      expect(none.headers['www-authenticate']).to.equal('Bearer');
      await request(shop.app).post('/admin/cache/clear').set('Authorization', `Bearer ${adminToken}x`).expect(403);
      await request(shop.app).post('/admin/cache/clear').set('Authorization', 'Bearer short').expect(403);
      await request(shop.app)
        .post('/admin/courses/import')
        .set('Content-Type', 'text/csv')
        .send(csv(['A,a-new-one,1,1,beginner,true']))
        .expect(401);
      await expectCache(['/courses', '/courses/5'], 'HIT');
      const { rows } = await shop.db.query('SELECT 1 FROM courses WHERE slug = $1', ['a-new-one']);
      expect(rows).to.have.length(0);
    });

    it('are not mounted without ADMIN_TOKEN: 404', async () => {
      const app = createApp({ db: shop.db, cache: shop.cache });
      await request(app).post('/admin/cache/clear').set('Authorization', `Bearer ${adminToken}`).expect(404);
      await request(app).post('/admin/courses/import').set('Authorization', `Bearer ${adminToken}`).expect(404);
    });

    it("POST /admin/courses/import upserts by slug, clears the courses namespace and the updated courses' lines in users' lists", async () => {
      const courseId = 31;
      const slug = await slugOf('courses', courseId);
      const holders = await holdersOf('enrollments', 'course_id', courseId, 2);
      const courseEntries = [
        '/courses',
        '/courses/published',
        '/courses/count',
        '/courses/32',
        `/courses/slug/${await slugOf('courses', 33)}`,
      ];
      const untouched = [
        '/products',
        '/products/count',
        '/events/upcoming',
        `/users/${holders[0]}/purchases`,
        `/courses/${courseId}/enrollments/count`,
      ];
      await prime([...courseEntries, ...holders.map((id) => `/users/${id}/enrollments`), ...untouched]);

      const res = await request(shop.app)
        .post('/admin/courses/import')
        .set('Authorization', `Bearer ${adminToken}`)
        .set('Content-Type', 'text/csv')
        .send(csv([`"Imported, renamed",${slug},59.99,12.5,advanced,true`, 'Fresh import,fresh-import-course,9.5,2,beginner,true']))
        .expect(200);
      expect(res.body).to.deep.equal({ inserted: 1, updated: 1, skipped: 0 });

      await expectCache(courseEntries, 'MISS');
      const detail = await get(shop, `/courses/${courseId}`).expect(200);
      expect(detail.body).to.include({ title: 'Imported, renamed', price: 59.99, level: 'advanced' });
      for (const id of holders) {
        const list = await get(shop, `/users/${id}/enrollments`).expect(200);
        expect(list.headers['x-cache'], `user ${id}`).to.equal('MISS');
        expect(list.body.find((row: { course: { id: number } }) => row.course.id === courseId).course.title).to.equal('Imported, renamed');
      }
      const all = await get(shop, '/courses').expect(200);
      expect(all.body.map((row: { slug: string }) => row.slug)).to.include('fresh-import-course');
      await expectCache(untouched, 'HIT');
    });

    it('POST /admin/courses/import refuses a bad file with 400 naming the line and clears nothing', async () => {
      await prime(['/courses', '/courses/5']);
      const bad = await request(shop.app)
        .post('/admin/courses/import')
        .set('Authorization', `Bearer ${adminToken}`)
        .set('Content-Type', 'text/csv')
        .send(csv(['Good,good-one,1,1,beginner,true', 'Bad,bad-one,1,1,expert,true']))
        .expect(400);
      expect(bad.body).to.deep.include({ field: 'level' });
      expect(bad.body.error).to.match(/^line 3: level must be one of/);
      await expectCache(['/courses', '/courses/5'], 'HIT');
    });

    it('POST /admin/cache/clear clears everything: every namespace answers MISS with fresh data', async () => {
      const everything = [
        '/courses',
        '/courses/5',
        '/products/published',
        '/events/count',
        '/users/12/enrollments',
        '/courses/5/enrollments/count',
      ];
      await prime(everything);
      // Changed behind the shop's back: only a clear of everything makes the cache see it.
      await shop.db.query('UPDATE courses SET title = $1 WHERE id = 5', ['Changed behind the cache']);
      const res = await request(shop.app).post('/admin/cache/clear').set('Authorization', `Bearer ${adminToken}`).expect(200);
      expect(res.body).to.deep.equal({ cleared: 'all' });
      await expectCache(everything, 'MISS');
      const detail = await get(shop, '/courses/5').expect(200);
      expect(detail.body.title).to.equal('Changed behind the cache');
    });
  });

  it('INVALIDATION=namespaces keeps the map of before: an edit clears the whole catalog namespace', async () => {
    const app = createApp({ db: shop.db, cache: shop.cache, invalidation: 'namespaces' });
    await prime(['/courses/51', '/courses/52', '/products/51']);
    await request(app).put('/courses/51').send({ price: 33.5 }).expect(200);
    await expectCache(['/courses/51', '/courses/52'], 'MISS');
    await expectCache(['/products/51'], 'HIT');
  });
});
