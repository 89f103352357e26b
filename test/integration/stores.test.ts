/**
 * Runs the store contract against the memory store and against the shared
 * Redis (random prefix, cleaned up after).
 */
import { runStoreContract } from './store-contract';
import { MemoryStore } from '../../src/stores/memory-store';
import { RedisStore } from '../../src/stores/redis-store';
import { connectShared, deleteByPrefix, randomPrefix } from '../helpers/shared-redis';

runStoreContract('memory', async () => ({
  store: new MemoryStore({ maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 }),
  cleanup: async () => {},
}));

runStoreContract('redis', async () => {
  const redis = await connectShared();
  const prefix = randomPrefix('store');
  return {
    store: new RedisStore(redis, prefix),
    cleanup: async () => {
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
    },
  };
});
