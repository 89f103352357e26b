/**
 * Starts the example shop for a test file the way `npm start` does, on the
 * real services: a fresh PostgreSQL database (migrated, seeded) and the shared
 * Redis under a random prefix. Teardown closes the shop, deletes the prefix's
 * keys and drops the database.
 */
import type Redis from 'ioredis';
import request from 'supertest';
import { startShop, type Shop, type ShopOptions } from '../../example-app/src/bootstrap';
import type { Logger } from '../../example-app/src/logger';
import { createTestDatabase, type TestDatabase } from './pg-database';
import { connectShared, deleteByPrefix, randomPrefix, sharedRedisUrl } from './shared-redis';

/** A logger that keeps its lines, so tests can read what the shop said. */
export interface MemoryLogger extends Logger {
  lines: string[];
}

/** A `Logger` recording `level: message` lines. */
export function memoryLogger(): MemoryLogger {
  const lines: string[] = [];
  const record = (level: string) => (message: string, data?: Record<string, unknown>) => {
    lines.push(data === undefined ? `${level}: ${message}` : `${level}: ${message} ${JSON.stringify(data)}`);
  };
  return { lines, info: record('info'), warn: record('warn'), error: record('error') };
}

/** A started shop on the real services, with its test database and log. */
export interface TestShop extends Shop {
  database: TestDatabase;
  prefix: string;
  log: MemoryLogger;
  /** A client of the shared Redis, for looking behind the cache. */
  inspector: Redis;
  /** Closes the shop, deletes its cache keys, drops its database. */
  teardown(): Promise<void>;
}

/** Migrates, seeds and warms a shop on a fresh database and the shared Redis; `options` adds to the defaults (e.g. an admin token). */
export async function startTestShop(options: Pick<ShopOptions, 'adminToken' | 'invalidation'> = {}): Promise<TestShop> {
  const inspector = await connectShared();
  const database = await createTestDatabase();
  const prefix = randomPrefix('shop');
  const log = memoryLogger();
  let shop: Shop;
  try {
    // A generous store timeout: these tests count SQL and check X-Cache, and a loaded 2-core CI machine
    // can take Redis past the default 100 ms (the fail-open behaviour itself is tested elsewhere).
    shop = await startShop({ databaseUrl: database.url, redisUrl: sharedRedisUrl, prefix, logger: log, cacheTimeoutMs: 1000, ...options });
  } catch (error) {
    await database.drop();
    await inspector.quit();
    throw error;
  }
  return {
    ...shop,
    database,
    prefix,
    log,
    inspector,
    async teardown() {
      try {
        await shop.close();
        await deleteByPrefix(inspector, prefix);
      } finally {
        await database.drop();
        await inspector.quit().catch(() => undefined);
      }
    },
  };
}

/** GETs `path` and returns the response; a shorthand for the many reads in these tests. */
export function get(shop: Pick<Shop, 'app'>, path: string): request.Test {
  return request(shop.app).get(path);
}
