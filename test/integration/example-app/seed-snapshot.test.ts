/**
 * The prebuilt seed snapshot (example-app/snapshot/, made by `npm run
 * seed-snapshot`) is what a first start would build: its fingerprint matches
 * the migrations, seed.ts and PGlite version in the tree, and, loaded the
 * way the shop loads it (events moved to today), every table holds exactly
 * the rows of a fresh PGlite migrated and seeded now, also when the snapshot
 * was seeded on an earlier day.
 */
import { expect } from 'chai';
import { createPgliteDb, type Db } from '../../../example-app/src/db';
import { migrate } from '../../../example-app/src/migrations';
import { seedIfEmpty } from '../../../example-app/src/seed';
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

      // A snapshot seeded three days before today: its events and bookings are three days early, and moving them fixes it.
      await loaded.exec(`UPDATE events SET event_date = event_date - interval '3 days';
                         UPDATE bookings SET booked_at = booked_at - interval '3 days';`);
      expect(await contents(loaded)).to.not.deep.equal(want);
      const threeDaysEarlier = new Date(Date.parse(snapshot.manifest.seededDay) - 3 * 86_400_000).toISOString();
      await moveEventsToToday(loaded, threeDaysEarlier);
      expect(await contents(loaded)).to.deep.equal(want);
    } finally {
      await loaded.close();
      await fresh.close();
    }
  });
});
