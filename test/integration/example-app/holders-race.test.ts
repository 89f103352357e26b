/**
 * The holders race of `PUT /courses/:id` (issue 14, item 19), reproduced with
 * a second PostgreSQL connection holding the course row's lock: the PUT
 * waits on it, a user enrolls meanwhile and reads their list (old title,
 * correct then), the lock is released, the PUT answers. The user's next read
 * must show the new title: the users whose lists the edit changes are found
 * after the edit is committed, so an enrollment committed while the PUT
 * waited is among them. The soft delete is checked the same way.
 */
import { expect } from 'chai';
import { Client } from 'pg';
import request from 'supertest';
import { waitFor } from '../../helpers/app-factory';
import { get, startTestShop, type TestShop } from '../../helpers/pg-shop';

describe('example app: edits and enrollments racing on one course row (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  let shop: TestShop;
  let locker: Client;

  before(async () => {
    shop = await startTestShop();
    locker = new Client({ connectionString: shop.database.url });
    await locker.connect();
  });

  after(async () => {
    await locker?.end();
    await shop?.teardown();
  });

  /** A published course and a user not enrolled in it. */
  async function courseAndNewHolder(): Promise<{ courseId: number; userId: number; title: string }> {
    const { rows } = await locker.query<{ course_id: number; user_id: number; title: string }>(
      `SELECT c.id AS course_id, c.title, u.id AS user_id
         FROM courses c CROSS JOIN LATERAL (
           SELECT u.id FROM users u
            WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = u.id AND e.course_id = c.id)
            ORDER BY u.id DESC LIMIT 1) u
        WHERE c.is_published AND c.deleted_at IS NULL
        ORDER BY c.id DESC LIMIT 1`,
    );
    const row = rows[0];
    if (row === undefined) throw new Error('the seed has no published course with a user not enrolled in it');
    return { courseId: row.course_id, userId: row.user_id, title: row.title };
  }

  /** Holds the course row's lock in an open transaction (the mode an edit takes, so enrolling is not blocked). */
  async function lockCourse(courseId: number): Promise<void> {
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM courses WHERE id = $1 FOR NO KEY UPDATE', [courseId]);
  }

  /** True once a statement of the shop's database waits on a lock. */
  async function someoneWaitsOnALock(): Promise<boolean> {
    const { rows } = await locker.query<{ waiting: number }>(
      `SELECT count(*)::int AS waiting FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
    );
    return (rows[0]?.waiting ?? 0) > 0;
  }

  /** Enrolls the user while the course row is locked, and reads the list (a MISS, the course with its old title). */
  async function enrollWhileLocked(userId: number, courseId: number, title: string): Promise<void> {
    await request(shop.app).post(`/users/${userId}/enrollments`).send({ course_id: courseId }).expect(201);
    const during = await get(shop, `/users/${userId}/enrollments`).expect(200);
    expect(during.headers['x-cache']).to.equal('MISS');
    const listed = (during.body as Array<{ course: { id: number; title: string } }>).find((row) => row.course.id === courseId);
    expect(listed?.course.title, 'the list while the edit waits').to.equal(title);
  }

  it('PUT: a user who enrolled while the edit waited on the row lock sees the new title next', async function () {
    const { courseId, userId, title } = await courseAndNewHolder();
    await lockCourse(courseId);
    let put: Promise<request.Response>;
    try {
      put = request(shop.app)
        .put(`/courses/${courseId}`)
        .send({ title: `${title} (edited)` })
        .then((res) => res);
      await waitFor('the PUT to wait on the row lock', someoneWaitsOnALock, 5000);
      await enrollWhileLocked(userId, courseId, title);
    } finally {
      await locker.query('COMMIT');
    }
    const answered = await put;
    expect(answered.status).to.equal(200);
    expect(answered.body.title).to.equal(`${title} (edited)`);
    const after = await get(shop, `/users/${userId}/enrollments`).expect(200);
    const listed = (after.body as Array<{ course: { id: number; title: string } }>).find((row) => row.course.id === courseId);
    expect(listed?.course.title, `the list after the edit (X-Cache: ${String(after.headers['x-cache'])})`).to.equal(`${title} (edited)`);
  });

  it('DELETE: a user who enrolled while the soft delete waited on the row lock no longer lists the course', async function () {
    const { courseId, userId, title } = await courseAndNewHolder();
    await lockCourse(courseId);
    let removal: Promise<request.Response>;
    try {
      removal = request(shop.app)
        .delete(`/courses/${courseId}`)
        .then((res) => res);
      await waitFor('the DELETE to wait on the row lock', someoneWaitsOnALock, 5000);
      await enrollWhileLocked(userId, courseId, title);
    } finally {
      await locker.query('COMMIT');
    }
    expect((await removal).status).to.equal(200);
    const after = await get(shop, `/users/${userId}/enrollments`).expect(200);
    const ids = (after.body as Array<{ course: { id: number } }>).map((row) => row.course.id);
    expect(ids, `the list after the delete (X-Cache: ${String(after.headers['x-cache'])})`).to.not.include(courseId);
  });
});
