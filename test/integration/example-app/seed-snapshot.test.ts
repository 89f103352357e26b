/**
 * The prebuilt seed snapshot (example-app/snapshot/, made by `npm run
 * seed-snapshot`) is what a first start would build: its fingerprint matches
 * the migrations, seed.ts and PGlite version in the tree, and, loaded the
 * way the shop loads it (events moved to today), every table holds exactly
 * the rows of a fresh PGlite migrated and seeded now, also when the snapshot
 * was built on an earlier day, and on a day a month from now.
 */
import { expect } from 'chai';
import { createPgliteDb, type Db } from '../../../example-app/src/db';
import { migrate } from '../../../example-app/src/migrations';
import { seedIfEmpty, seedSizes, utcMidnight } from '../../../example-app/src/seed';
import { moveEventsToToday, readSnapshot, snapshotFingerprint } from '../../../example-app/src/seed-snapshot';

const TABLES = ['courses', 'products', 'events', 'users', 'enrollments', 'purchases', 'bookings'];

/** Per table: row count and an md5 of every row's text in id order; plus migration ids and sequence positions. */
async function contents(db: Db): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const table of TABLES) {
    const { rows } = await db.query(`SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS digest FROM ${table} t`);
    out[table] = rows[0];
    const seq = await db.query(`SELECT last_value::text AS v FROM ${table}_id_seq`);
    out[`${table}_id_seq`] = seq.rows[0];
  }
  out.schema_migrations = (await db.query('SELECT id FROM schema_migrations ORDER BY id')).rows;
  return out;
}

describe('example app: the prebuilt seed snapshot', function () {
  this.timeout(180_000);

  it('is current: its fingerprint matches the migrations, seed.ts and PGlite in this tree', () => {
    const snapshot = readSnapshot();
    expect(snapshot, 'reason' in snapshot ? snapshot.reason : '').to.have.property('load');
    if ('manifest' in snapshot) expect(snapshot.manifest.fingerprint).to.equal(snapshotFingerprint());
  });

  it('loaded as the shop loads it, holds exactly the rows of a fresh migrate and seed', async () => {
    const snapshot = readSnapshot();
    if (!('load' in snapshot)) throw new Error(snapshot.reason);
    const loaded = await createPgliteDb(undefined, snapshot.load());
    const fresh = await createPgliteDb();
    try {
      await moveEventsToToday(loaded, snapshot.manifest.seededDay);
      await migrate(fresh);
      expect(await seedIfEmpty(fresh)).to.equal(true);
      expect(await migrate(loaded), 'the snapshot has every migration').to.deep.equal([]);
      expect(await seedIfEmpty(loaded), 'the snapshot is seeded').to.equal(false);
      const [want, got] = [await contents(fresh), await contents(loaded)];
      expect(got).to.deep.equal(want);
      expect((want.bookings as { n: number }).n).to.equal(10_000);
    } finally {
      await loaded.close();
      await fresh.close();
    }
  });

  it('loaded a month from now, holds the rows of a seed made that day, with its upcoming events still upcoming', async () => {
    const snapshot = readSnapshot();
    if (!('load' in snapshot)) throw new Error(snapshot.reason);
    const monthLater = new Date(Date.now() + 30 * 86_400_000);
    const loaded = await createPgliteDb(undefined, snapshot.load());
    const fresh = await createPgliteDb();
    try {
      await moveEventsToToday(loaded, snapshot.manifest.seededDay, monthLater);
      await migrate(fresh);
      expect(await seedIfEmpty(fresh, { anchorDay: monthLater })).to.equal(true);
      expect(await contents(loaded)).to.deep.equal(await contents(fresh));
      const { rows } = await loaded.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE event_date > $1', [
        utcMidnight(monthLater).toISOString(),
      ]);
      // Events g = 100..200 fall on or after the anchor day (at 18:00): half of them and one more.
      expect(rows[0]?.n, 'the events from the day it is loaded on').to.equal(seedSizes.events / 2 + 1);
    } finally {
      await loaded.close();
      await fresh.close();
    }
  });
});
