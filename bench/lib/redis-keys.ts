// Key housekeeping on the shared Redis: every key the benchmark writes starts
// with the run's own prefix, so it can find them (SCAN MATCH) and remove
// exactly those (UNLINK); nothing here flushes or reconfigures the server.

import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';

/** A prefix no other run or engineer uses: `ecabench-<time>-<random>`. */
export function newRunPrefix(): string {
  return `ecabench-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Escapes glob characters so a prefix matches only itself in SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** All keys starting with `prefix`. */
export async function scanKeys(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Removes every key starting with `prefix`; returns how many there were. */
export async function unlinkPrefix(redis: Redis, prefix: string): Promise<number> {
  const keys = await scanKeys(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) {
    await redis.unlink(...keys.slice(i, i + 500));
  }
  return keys.length;
}

/** MEMORY USAGE (exact: SAMPLES 0) of each key, in bytes; 0 for a key that vanished. */
export async function memoryUsage(redis: Redis, keys: readonly string[]): Promise<Map<string, number>> {
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
  const replies = (await pipeline.exec()) ?? [];
  const usage = new Map<string, number>();
  keys.forEach((key, index) => {
    const reply = replies[index];
    usage.set(key, reply && !reply[0] && typeof reply[1] === 'number' ? reply[1] : 0);
  });
  return usage;
}
