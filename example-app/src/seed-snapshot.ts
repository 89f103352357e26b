/**
 * The prebuilt seed snapshot of the embedded database: a PGlite data directory
 * (migrated and seeded), brotli-compressed in example-app/snapshot/, made by
 * `npm run seed-snapshot`. Loading it skips PGlite's initdb and the seed, which
 * are most of an embedded first start. It is used only while its fingerprint
 * (the migrations, the seed's source and PGlite's version) matches the code;
 * otherwise the shop migrates and seeds as on a server. Its event dates are
 * laid out around a fixed day (SNAPSHOT_ANCHOR_DAY), so its bytes never depend
 * on the day it was built, and they are moved to today after loading.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import type { Db } from './db';
import { utcMidnight } from './seed';

/** Where the snapshot and its manifest live. */
export const snapshotDir = join(__dirname, '..', 'snapshot');
export const snapshotFile = join(snapshotDir, 'seed.tar.br');
export const manifestFile = join(snapshotDir, 'seed.json');

/** What seed.json says about the snapshot beside it. */
export interface SnapshotManifest {
  /** snapshotFingerprint() when it was made. */
  fingerprint: string;
  /** The anchor day of the seeding (UTC midnight, ISO 8601): event dates are relative to it. */
  seededDay: string;
}

/** The day the snapshot's events are laid out around; loading moves them to the day it runs on. */
export const SNAPSHOT_ANCHOR_DAY = new Date('2026-01-01T00:00:00.000Z');

/** A hash of everything the snapshot's content depends on: migration files, seed.ts, PGlite's version. */
export function snapshotFingerprint(): string {
  const hash = createHash('sha256');
  const migrations = join(__dirname, 'migrations');
  for (const file of readdirSync(migrations)
    .filter((name) => name.endsWith('.sql'))
    .sort()) {
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(migrations, file)))
      .update('\0');
  }
  hash.update(readFileSync(join(__dirname, 'seed.ts'))).update('\0');
  // PGlite's exports map hides its package.json; its main file sits in dist/.
  const pgliteManifest = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  const pglite = JSON.parse(readFileSync(pgliteManifest, 'utf8')) as { version: string };
  hash.update(pglite.version);
  return hash.digest('hex');
}

/** The snapshot to load (decompressed by `load`), or why there is none usable (missing, or made for other code). */
export function readSnapshot(): { load: () => Blob; manifest: SnapshotManifest } | { reason: string } {
  if (!existsSync(snapshotFile) || !existsSync(manifestFile)) return { reason: 'no prebuilt seed snapshot' };
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as SnapshotManifest;
  if (manifest.fingerprint !== snapshotFingerprint()) {
    return { reason: 'the prebuilt seed snapshot is out of date (run `npm run seed-snapshot`)' };
  }
  return { load: () => new Blob([brotliDecompressSync(readFileSync(snapshotFile))]), manifest };
}

/**
 * Moves event dates (and the bookings made relative to them) from the snapshot's
 * seeding day to `today`'s (default: the real today, UTC), so the shop's upcoming
 * events are upcoming whenever the snapshot is loaded.
 */
export async function moveEventsToToday(db: Db, seededDay: string, today: Date = new Date()): Promise<void> {
  const shiftMs = utcMidnight(today).getTime() - Date.parse(seededDay);
  if (shiftMs === 0) return;
  const by = `${shiftMs / 1000} seconds`;
  await db.query('UPDATE events SET event_date = event_date + $1::interval', [by]);
  await db.query('UPDATE bookings SET booked_at = booked_at + $1::interval', [by]);
}
