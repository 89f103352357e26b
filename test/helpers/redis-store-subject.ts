/**
 * Builds the store contract's StoreUnderTest for a RedisStore on a given
 * client (plain Redis or Cluster): a new prefix per test, eviction by DEL
 * of the record's key, every key with its PTTL by SCAN on each master, and
 * the commands the store's own connection sent, by MONITOR (on a server
 * the test started, since the shared one carries others' traffic).
 */
import Redis, { type Cluster } from 'ioredis';
import { allKey, namespaceKeys, tagKey } from '../../src/keys';
import { RedisStore } from '../../src/stores/redis-store';
import { deleteByPrefix, escapeGlob, randomPrefix } from './shared-redis';
import type { StoreUnderTest } from './store-contract';

function masters(client: Redis | Cluster): Redis[] {
  return client instanceof Redis ? [client] : client.nodes('master');
}

/** Every key under prefix with its PTTL, from every master. */
export async function keysWithTtl(client: Redis | Cluster, prefix: string): Promise<Array<{ key: string; pttlMs: number }>> {
  const found: Array<{ key: string; pttlMs: number }> = [];
  for (const node of masters(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${escapeGlob(prefix)}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) found.push({ key, pttlMs: await node.pttl(key) });
    } while (cursor !== '0');
  }
  return found.filter((k) => k.pttlMs !== -2).sort((a, b) => a.key.localeCompare(b.key));
}

/** Starts MONITOR on a server; returns a function that runs fn and lists what `client`'s connection sent meanwhile. */
export async function commandCounter(admin: Redis, client: Redis): Promise<{ count: StoreUnderTest['countCommands']; stop: () => void }> {
  const info = String(await client.client('INFO'));
  const addr = /addr=(\S+)/.exec(info)![1]!;
  const monitor = await admin.monitor();
  let seen: string[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === addr) seen.push(String(args[0]).toLowerCase());
  });
  let marks = 0;
  const count = async <T>(fn: () => Promise<T>): Promise<{ result: T; commands: string[] }> => {
    seen = [];
    const result = await fn();
    // A marker through the same connection: once MONITOR shows it, it has shown everything sent before it.
    const mark = `eca-mark-${marks++}`;
    await client.echo(mark);
    const deadline = Date.now() + 2000;
    while (!seen.includes('echo') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    const commands = seen.slice(0, seen.indexOf('echo'));
    return { result, commands };
  };
  return { count, stop: () => void monitor.disconnect() };
}

/** A StoreUnderTest on client under a fresh prefix; countCommands and a slow client (through a delaying proxy) when given. */
export function redisSubject(
  client: Redis | Cluster,
  countCommands?: StoreUnderTest['countCommands'],
  slow?: { client: Redis; delayMs: number },
): StoreUnderTest {
  const prefix = randomPrefix('store');
  const store = new RedisStore(client, prefix);
  const subject: StoreUnderTest = {
    store,
    cleanup: async () => {
      await store.close();
      await subject.slow?.store.close();
      await deleteByPrefix(client, prefix);
    },
    evict: async (kind, name = '') => {
      const key = kind === 'namespace' ? namespaceKeys(prefix, name).generation : kind === 'tag' ? tagKey(prefix, name) : allKey(prefix);
      if ((await client.del(key)) !== 1) throw new Error(`evict: ${key} was not there`);
    },
    keys: () => keysWithTtl(client, prefix),
  };
  if (countCommands) subject.countCommands = countCommands;
  if (slow) subject.slow = { store: new RedisStore(slow.client, prefix), delayMs: slow.delayMs };
  return subject;
}
