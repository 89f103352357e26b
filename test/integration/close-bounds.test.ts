/**
 * close() keeps in-flight work bounded: store calls already in flight still
 * time out after timeoutMs, and close() waits on pending writes at most
 * max(10 × timeoutMs, 1 s). Against a redis-server this file starts and pauses.
 */
import { once } from 'node:events';
import { expect } from 'chai';
import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { captureLogger, useFactory } from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';
import { faultTestClientDefaults } from '../helpers/redis-server';
import { randomPrefix } from '../helpers/shared-redis';

const TIMEOUT_MS = 100;
/** close()'s bound on pending writes: max(10 × timeoutMs, 1 s). */
const WRITE_BOUND_MS = 1000;

describe('close() with the store hanging', function () {
  this.timeout(30_000);
  const f = useFactory('close-bounds');
  const server = useRedisProcess();

  async function cacheOnServer() {
    const client = new Redis({ ...faultTestClientDefaults, port: server.port });
    client.on('error', () => undefined);
    if (client.status !== 'ready') await once(client, 'ready');
    f.adoptClient(client);
    return f.adopt(createCache({ redis: client, prefix: randomPrefix('close'), timeoutMs: TIMEOUT_MS, logger: captureLogger().logger }));
  }

  it('a lookup in flight when close() is called still answers within timeoutMs', async function () {
    const cache = await cacheOnServer();
    server.pause();
    const started = Date.now();
    const value = cache.getOrSet('ns', 'k', () => 'fetched');
    const closing = cache.close();
    expect(await value).to.equal('fetched');
    const ms = Date.now() - started;
    expect(ms, 'the in-flight lookup, after close()').to.be.below(TIMEOUT_MS + 700);
    await closing;
  });

  it('close() waits on a write to a hung store at most its bound', async function () {
    const cache = await cacheOnServer();
    // The write goes out after fetch: pausing the server inside fetch leaves it hanging.
    expect(
      await cache.getOrSet('ns', 'k', () => {
        server.pause();
        return 'v';
      }),
    ).to.equal('v');
    const started = Date.now();
    await cache.close();
    const ms = Date.now() - started;
    expect(ms, 'close() with a write pending').to.be.below(WRITE_BOUND_MS + 1000);
  });
});
