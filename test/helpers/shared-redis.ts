/**
 * Access to the shared Redis (REDIS_URL) for integration tests. That server is
 * shared by everyone running tests: isolate data under a random key prefix,
 * clean up by prefix, and never pause, flush or reconfigure it. An unreachable
 * shared Redis fails the test loudly instead of skipping it.
 */
import { randomBytes } from 'node:crypto';
import Redis, { type Cluster, type RedisOptions } from 'ioredis';

/** URL of the shared Redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'. */
export const sharedRedisUrl: string = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const CONNECT_TIMEOUT_MS = 3000;
const sharedClients = new Set<Redis>();

/** A random key prefix for one test file, e.g. 'eca-test-<8 hex>' (no ':' '{' '}' inside). */
export function randomPrefix(label?: string): string {
  const hex = randomBytes(4).toString('hex');
  // Keep only characters that are plain in keys and glob patterns.
  const safeLabel = label === undefined ? '' : label.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return safeLabel === '' ? `eca-test-${hex}` : `eca-test-${safeLabel}-${hex}`;
}

/** Connects an ioredis client to the shared Redis and PINGs it; rejects with a clear message if unreachable within 3 s. Tracked for closeSharedClients(). */
export function connectShared(options: RedisOptions = {}): Promise<Redis> {
  return connectOrFail(sharedRedisUrl, options);
}

/** connectShared() for any URL: connects, PINGs, rejects with a message naming the URL if no PONG within 3 s; tracked for closeSharedClients(). */
export async function connectOrFail(url: string, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, {
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
    ...options,
  });
  // Connection errors surface through the PING below; don't let them go unhandled.
  redis.on('error', () => undefined);
  sharedClients.add(redis);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no PONG within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      }),
    ]);
    return redis;
  } catch (error) {
    sharedClients.delete(redis);
    redis.disconnect();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Redis at ${url} is unreachable (${reason}). ` +
        'Integration tests need it and fail rather than skip: start redis-server on 127.0.0.1:6379 or set REDIS_URL.',
    );
  } finally {
    clearTimeout(timer);
  }
}

/** Quits every client connectShared() made (disconnecting any that do not answer QUIT within 1 s). */
export async function closeSharedClients(): Promise<void> {
  const clients = [...sharedClients];
  sharedClients.clear();
  await Promise.all(
    clients.map(async (redis) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          redis.quit(),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, 1000);
          }),
        ]);
      } catch {
        // already closed
      } finally {
        clearTimeout(timer);
        redis.disconnect();
      }
    }),
  );
}

/** Escapes Redis glob metacharacters so a literal string can be used in a MATCH pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[\\*?[\]^-]/g, (ch) => `\\${ch}`);
}

async function deleteOnNode(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    // One key per UNLINK keeps it valid on cluster nodes (no cross-slot error).
    if (keys.length > 0) {
      const results = await Promise.all(keys.map((key) => redis.unlink(key)));
      deleted += results.reduce((sum, n) => sum + n, 0);
    }
  } while (cursor !== '0');
  return deleted;
}

/** Deletes keys starting with prefix using SCAN MATCH (escaping glob chars) + UNLINK; for test cleanup only. Accepts a Cluster too (scans every master). */
export async function deleteByPrefix(redis: Redis | Cluster, prefix: string): Promise<number> {
  const pattern = `${escapeGlob(prefix)}*`;
  if (redis instanceof Redis) return deleteOnNode(redis, pattern);
  const counts = await Promise.all(redis.nodes('master').map((node) => deleteOnNode(node, pattern)));
  return counts.reduce((sum, n) => sum + n, 0);
}
