/**
 * A throwaway PostgreSQL database per test file on the real server: created
 * under a random name (`eca_test_<hex>`), dropped with FORCE afterwards. The
 * server is DATABASE_URL when set, else postgres@127.0.0.1:5432/test; an
 * unreachable server fails the test loudly, never skips it.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** URL of the server's maintenance database, used to create and drop test databases. */
export const adminDatabaseUrl: string = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A database made for one test run. */
export interface TestDatabase {
  name: string;
  /** Connection URL of the new database. */
  url: string;
  /** Drops it, closing any connection still open to it. */
  drop(): Promise<void>;
}

async function withAdmin<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminDatabaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL at ${adminDatabaseUrl} is unreachable (${(error as Error).message}). ` +
        'The example-app tests need it and fail rather than skip: start PostgreSQL or set DATABASE_URL.',
    );
  }
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** The URL of database `name` on the admin URL's server. */
export function databaseUrl(name: string): string {
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates a fresh, empty database and says how to reach and drop it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `eca_test_${randomBytes(6).toString('hex')}`;
  // The name is ours (hex), so it can be spliced into DDL, which takes no parameters.
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  let dropped = false;
  return {
    name,
    url: databaseUrl(name),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
