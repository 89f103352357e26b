/**
 * The shop's one door to PostgreSQL: a tiny `Db` interface over either a `pg`
 * pool (a real server) or PGlite (PostgreSQL compiled to WebAssembly, in
 * process). Routes, migrations and seed send the same SQL through it both ways,
 * and every statement is counted so tests can see how many reach the database.
 */
import { Pool } from 'pg';

/** A failed statement; `code` is the PostgreSQL SQLSTATE when the server answered. */
export class DatabaseError extends Error {
  /** SQLSTATE such as `23505`, or a Node error code such as `ECONNREFUSED`. */
  readonly code: string | undefined;
  /** Name of the violated constraint, when there is one. */
  readonly constraint: string | undefined;

  constructor(cause: unknown) {
    const source = (cause ?? {}) as { message?: unknown; code?: unknown; constraint?: unknown };
    super(typeof source.message === 'string' ? source.message : String(cause), { cause });
    this.name = 'DatabaseError';
    this.code = typeof source.code === 'string' ? source.code : undefined;
    this.constraint = typeof source.constraint === 'string' ? source.constraint : undefined;
  }
}

/** What the shop needs from a database. */
export interface Db {
  /** Which engine answers: a PostgreSQL server, or PGlite in this process. */
  readonly kind: 'postgres' | 'pglite';
  /** One parameterised statement. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** A script of several statements without parameters, run as one implicit transaction. */
  exec(script: string): Promise<void>;
  /** Statements sent so far (`query` and `exec` calls), successful or not. */
  readonly queryCount: number;
  /** Releases the pool or shuts PGlite down. */
  close(): Promise<void>;
}

/** A `Db` over a `pg` pool connected to `databaseUrl`. */
export function createPostgresDb(databaseUrl: string, options: { max?: number } = {}): Db {
  const pool = new Pool({ connectionString: databaseUrl, max: options.max ?? 10, connectionTimeoutMillis: 5000 });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  let queryCount = 0;
  return {
    kind: 'postgres',
    get queryCount() {
      return queryCount;
    },
    async query<T>(text: string, params: unknown[] = []) {
      queryCount += 1;
      try {
        const result = await pool.query(text, params);
        return { rows: result.rows as T[] };
      } catch (error) {
        throw new DatabaseError(error);
      }
    },
    async exec(script: string) {
      queryCount += 1;
      try {
        // Without parameters pg uses the simple protocol, which accepts several statements.
        await pool.query(script);
      } catch (error) {
        throw new DatabaseError(error);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

/** A `Db` over a fresh PGlite instance, in memory unless `dataDir` is given, started from `loadDataDir` (a dumped data directory) when given. */
export async function createPgliteDb(dataDir?: string, loadDataDir?: Blob): Promise<Db> {
  // Loaded only when asked for, so a server on real PostgreSQL never pays for the WebAssembly.
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = new PGlite({ ...(dataDir === undefined ? {} : { dataDir }), ...(loadDataDir === undefined ? {} : { loadDataDir }) });
  await pglite.waitReady;
  let queryCount = 0;
  return {
    kind: 'pglite',
    get queryCount() {
      return queryCount;
    },
    async query<T>(text: string, params: unknown[] = []) {
      queryCount += 1;
      try {
        const result = await pglite.query<T>(text, params);
        return { rows: result.rows };
      } catch (error) {
        throw new DatabaseError(error);
      }
    },
    async exec(script: string) {
      queryCount += 1;
      try {
        await pglite.exec(script);
      } catch (error) {
        throw new DatabaseError(error);
      }
    },
    async close() {
      await pglite.close();
    },
  };
}

/** Real PostgreSQL when `databaseUrl` is set, embedded PGlite otherwise. */
export async function openDb(databaseUrl: string | undefined): Promise<Db> {
  return databaseUrl ? createPostgresDb(databaseUrl) : createPgliteDb();
}

/** `db` with a pause of `delayMs` after every SELECT's answer (test-only fault injection); `db` itself without one. */
export function withReadDelay(db: Db, delayMs: number | undefined): Db {
  if (!delayMs) return db;
  return Object.assign(Object.create(db) as Db, {
    async query<T>(text: string, params?: unknown[]) {
      const result = await db.query<T>(text, params);
      if (/^\s*SELECT\b/i.test(text)) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return result;
    },
  });
}
