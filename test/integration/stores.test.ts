/**
 * Runs the store contract against the memory store, the shared Redis
 * (random prefix per test, cleaned up after), and a redis-server this file
 * starts, where a delaying proxy counts the store's round trips and
 * MONITOR lists its commands.
 */
import type Redis from 'ioredis';
import { runStoreContract, type StoreUnderTest } from '../helpers/store-contract';
import { MemoryStore } from '../../src/stores/memory-store';
import { connectShared } from '../helpers/shared-redis';
import { startRedis, type RedisProcess } from '../helpers/redis-server';
import { commandCounter, redisSubject } from '../helpers/redis-store-subject';
import { startSlowProxy, type SlowProxy } from '../helpers/slow-proxy';

/** Every reply through the proxy waits this long: an operation's time over it is its round trips. */
const REPLY_DELAY_MS = 200;

const runner = { describe, it, beforeEach, afterEach };

runStoreContract(
  'memory',
  async () => {
    const store = new MemoryStore({ maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 });
    return {
      store,
      cleanup: () => store.close(),
      evict: async (kind, name) => store.evictRecord(kind, name),
    };
  },
  runner,
);

describe('store contract on the shared Redis', function () {
  let client: Redis;
  before(async function () {
    client = await connectShared();
  });
  after(function () {
    client?.disconnect();
  });
  runStoreContract('redis', async () => redisSubject(client), runner, { keys: true });
});

describe('store contract on a redis-server of its own (round trips counted with MONITOR)', function () {
  this.timeout(30_000);
  let server: RedisProcess;
  let client: Redis;
  let admin: Redis;
  let slowClient: Redis;
  let proxy: SlowProxy;
  let counter: Awaited<ReturnType<typeof commandCounter>>;
  before(async function () {
    server = await startRedis();
    client = server.client();
    admin = server.client();
    counter = await commandCounter(admin, client);
    proxy = await startSlowProxy(server.port, REPLY_DELAY_MS);
    slowClient = server.client({ port: proxy.port });
  });
  after(async function () {
    counter?.stop();
    slowClient?.disconnect();
    await proxy?.stop();
    await server?.stop();
  });
  runStoreContract(
    'redis (own server)',
    async (): Promise<StoreUnderTest> => redisSubject(client, counter.count, { client: slowClient, delayMs: REPLY_DELAY_MS }),
    runner,
    { keys: true, roundTrips: true },
  );
});
