/**
 * Applies the SQL files in `migrations/` in name order, once each, at startup.
 * Safe to run on every start and from several processes at once: applied ids
 * are recorded in `schema_migrations`, each file runs in one transaction under
 * an advisory lock, and the files themselves only create what is missing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './db';

const migrationsDir = join(__dirname, 'migrations');
// Any constant works; it only has to be the same for every process of the shop.
const migrationLockId = 7_355_608;

/** Applies the migrations not yet recorded; returns the ids it applied. */
export async function migrate(db: Db): Promise<string[]> {
  await db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  const { rows } = await db.query<{ id: string }>('SELECT id FROM schema_migrations');
  const applied = new Set(rows.map((row) => row.id));
  const files = readdirSync(migrationsDir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  const newlyApplied: string[] = [];
  for (const file of files) {
    const id = file.replace(/\.sql$/, '');
    if (applied.has(id)) continue;
    const sql = readFileSync(join(migrationsDir, file), 'utf8');
    // One script, so one implicit transaction: the file and its record land together or not at all.
    await db.exec(
      `SELECT pg_advisory_xact_lock(${migrationLockId});\n${sql}\n` +
        `;INSERT INTO schema_migrations (id) VALUES ('${id}') ON CONFLICT (id) DO NOTHING;`,
    );
    newlyApplied.push(id);
  }
  return newlyApplied;
}
