/**
 * Runs the store contract against the memory store, the shared Redis
 * (random prefix per test, cleaned up after), and a redis-server this file
 * starts, where MONITOR counts the store's round trips.
 */
import type Redis from 'ioredis';
import { runStoreContract, type StoreUnderTest } from '../helpers/store-contract';
import { MemoryStore } from '../../src/stores/memory-store';
import { connectShared } from '../helpers/shared-redis';
import { startRedis, type RedisProcess } from '../helpers/redis-server';
import { commandCounter, redisSubject } from '../helpers/redis-store-subject';

const runner = { describe, it, beforeEach, afterEach };

runStoreContract('memory', async () => {
  const store = new MemoryStore({ maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 });
  return {
    store,
    cleanup: () => store.close(),
    evict: async (kind, name) => store.evictRecord(kind, name),
  };
}, runner);

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
  let counter: Awaited<ReturnType<typeof commandCounter>>;
  before(async function () {
    server = await startRedis();
    client = server.client();
    admin = server.client();
    counter = await commandCounter(admin, client);
  });
  after(async function () {
    counter?.stop();
    await server?.stop();
  });
  runStoreContract('redis (own server)', async (): Promise<StoreUnderTest> => redisSubject(client, counter.count), runner, { keys: true, countCommands: true });
});
