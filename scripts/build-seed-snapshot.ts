/**
 * `npm run seed-snapshot`: makes example-app/snapshot/seed.tar.br and seed.json,
 * the embedded shop's prebuilt database: a fresh PGlite, migrated and seeded
 * as a first start would (its events around SNAPSHOT_ANCHOR_DAY), compacted, its WAL switched to a clean
 * segment (recycled segments hold old bytes that compress badly), dumped and
 * brotli-compressed. Run it after changing a migration or the seed; until then
 * the shop sees the fingerprint differ and seeds at startup instead.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import type { Db } from '../example-app/src/db';
import { migrate } from '../example-app/src/migrations';
import { seedIfEmpty } from '../example-app/src/seed';
import {
  manifestFile,
  snapshotDir,
  snapshotFile,
  SNAPSHOT_ANCHOR_DAY,
  snapshotFingerprint,
  type SnapshotManifest,
} from '../example-app/src/seed-snapshot';

async function main(): Promise<void> {
  const pglite = new PGlite();
  await pglite.waitReady;
  const db: Db = {
    kind: 'pglite',
    queryCount: 0,
    query: async <T>(text: string, params: unknown[] = []) => ({ rows: (await pglite.query<T>(text, params)).rows }),
    exec: async (script: string) => {
      await pglite.exec(script);
    },
    close: () => pglite.close(),
  };
  await migrate(db);
  // Seeded around a fixed day, not the day of the build: the snapshot's bytes are the same whenever it is made.
  if (!(await seedIfEmpty(db, { anchorDay: SNAPSHOT_ANCHOR_DAY }))) throw new Error('a fresh PGlite was not empty');
  await pglite.query('VACUUM FULL');
  await pglite.query('SET wal_recycle = off');
  for (let i = 0; i < 2; i += 1) {
    await pglite.query('CHECKPOINT');
    await pglite.query('SELECT pg_switch_wal()');
  }
  await pglite.query('CHECKPOINT');
  const tar = Buffer.from(await (await pglite.dumpDataDir('none')).arrayBuffer());
  await pglite.close();
  const compressed = brotliCompressSync(tar, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: tar.length },
  });
  mkdirSync(snapshotDir, { recursive: true });
  writeFileSync(snapshotFile, compressed);
  const manifest: SnapshotManifest = { fingerprint: snapshotFingerprint(), seededDay: SNAPSHOT_ANCHOR_DAY.toISOString() };
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`wrote ${snapshotFile} (${compressed.length} bytes, ${tar.length} uncompressed) and ${manifestFile}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
