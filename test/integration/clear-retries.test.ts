/**
 * Clears that fail and are retried: a late success of an older (retried)
 * clear never settles a newer clear of the same namespace; and while the
 * store hangs, failed clears neither pile up retries nor grow the heap
 * without bound (one retry in flight, a bounded pending set, log lines that
 * list a bounded number of namespaces).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { once } from 'node:events';
import { expect } from 'chai';
import Redis from 'ioredis';
import sinon from 'sinon';
import { createCache } from 'express-cache-aside';
import { MAX_PENDING_CLEARS } from '../../src/clears';
import { RedisStore } from '../../src/stores/redis-store';
import { deferred, eventuallyHit, sleep, useFactory, waitFor } from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';
import { faultTestClientDefaults } from '../helpers/redis-server';
import { randomPrefix } from '../helpers/shared-redis';

/** A logger that keeps every warn and error line with its object. */
function keepingLogger(): {
  lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }>;
  logger: { debug(): void; info(): void; warn(o: unknown, m?: string): void; error(o: unknown, m?: string): void };
} {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const keep =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
    };
  return { lines, logger: { debug() {}, info() {}, warn: keep('warn'), error: keep('error') } };
}

describe('retried clears', function () {
  this.timeout(60_000);
  const f = useFactory('clear-retries');

  it("a retried clear's late success never settles a newer clear of the namespace (another instance sees the newest write)", async function () {
    const prefix = f.prefix();
    const options = { prefix, timeoutMs: 200, logger: keepingLogger().logger };
    const a = await f.setup('redis', options);
    const b = await f.setup('redis', options);
    let data = 'v1';
    b.app.get('/item', b.cache.route({ namespace: 'items', key: 'one' }), (_req, res) => {
      res.json({ data });
    });
    await eventuallyHit(b, '/item');

    const original = RedisStore.prototype.clearNamespaces;
    const retryReply = deferred();
    const retryRan = deferred();
    let calls = 0;
    // Store edge: 1st clear refused, 2nd (the retry) runs in Redis at once but its reply comes late, 3rd refused, then normal.
    sinon.stub(RedisStore.prototype, 'clearNamespaces').callsFake(async function (this: RedisStore, namespaces) {
      calls += 1;
      if (calls === 1 || calls === 3) throw new Error('injected: store refused the clear');
      if (calls === 2) {
        await original.call(this, namespaces);
        retryRan.resolve();
        await retryReply.promise;
        return;
      }
      return original.call(this, namespaces);
    });

    data = 'v2';
    await a.cache.invalidateNamespaces(['items']);
    await retryRan.promise;
    // B refills from v2 under the generation the retry wrote.
    const refilled = await eventuallyHit(b, '/item');
    expect(refilled.body).to.deep.equal({ data: 'v2' });

    data = 'v3';
    await a.cache.invalidateNamespaces(['items']);
    expect(calls, 'the newer clear was refused').to.equal(3);
    // Now the older retry's success lands.
    retryReply.resolve();

    await waitFor('B serves the newest write', async () => (await b.http().get('/item')).body.data === 'v3', 5000);
    expect(calls, 'the newer clear was sent again').to.be.at.least(4);
  });

  describe('against a paused redis-server', function () {
    const server = useRedisProcess();

    it('20,000 failed clears of distinct namespaces: one retry at a time, a bounded pending set and heap, bounded log lines', async function () {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const heap = (): number => {
        gc();
        gc();
        return process.memoryUsage().heapUsed;
      };

      const client = new Redis({ ...faultTestClientDefaults, port: server.port });
      client.on('error', () => undefined);
      if (client.status !== 'ready') await once(client, 'ready');
      f.adoptClient(client);
      const log = keepingLogger();
      const cache = f.adopt(createCache({ redis: client, prefix: randomPrefix('clear-bound'), timeoutMs: 50, logger: log.logger }));

      const before = heap();
      server.pause();
      const total = 20_000;
      // Retries carry many namespaces; each clear of the test carries one.
      let retriesInFlight = 0;
      let maxRetriesInFlight = 0;
      const original = RedisStore.prototype.clearNamespaces;
      const sizes: number[] = [];
      sinon.stub(RedisStore.prototype, 'clearNamespaces').callsFake(function (this: RedisStore, namespaces) {
        sizes.push(namespaces.length);
        if (namespaces.length === 1) return original.call(this, namespaces);
        retriesInFlight += 1;
        maxRetriesInFlight = Math.max(maxRetriesInFlight, retriesInFlight);
        return original.call(this, namespaces).finally(() => {
          retriesInFlight -= 1;
        });
      });
      for (let start = 0; start < total; start += 1000) {
        await Promise.all(Array.from({ length: 1000 }, (_, i) => cache.invalidateNamespaces([`user:${start + i}`])));
      }
      // Let retries run into the paused server for a while (a pile-up would grow here).
      await sleep(4000);
      const grown = heap() - before;
      const retries = sizes.filter((n) => n > 1);

      expect(retries.length, 'retries while paused').to.be.at.least(1);
      expect(maxRetriesInFlight, 'retries in flight at once').to.equal(1);
      expect(Math.max(...retries), 'a retry carries at most the bounded pending set').to.be.at.most(MAX_PENDING_CLEARS);
      const overflow = log.lines.filter((l) => /wait for a clear/.test(l.msg));
      expect(overflow, 'the bound is reported once').to.have.length(1);
      expect(overflow[0]!.obj.pending).to.equal(MAX_PENDING_CLEARS);
      for (const line of log.lines) {
        const listed = line.obj.namespaces;
        if (Array.isArray(listed)) expect(listed.length, line.msg).to.be.at.most(20);
      }
      expect(grown, `heap growth ${(grown / 1e6).toFixed(1)} MB`).to.be.below(40e6);

      server.resume();
      await waitFor('the retried clear lands after resume', () => log.lines.some((l) => /retried clear succeeded/.test(l.msg)), 15_000);
      const succeeded = log.lines.find((l) => /retried clear succeeded/.test(l.msg))!;
      expect(succeeded.obj.count).to.equal(MAX_PENDING_CLEARS);
      // Past the bound every read was served uncached; once the set drained, caching is back.
      let fetches = 0;
      await waitFor(
        'getOrSet is cached again',
        async () => {
          await cache.getOrSet('user:1', 'k', () => ++fetches);
          const before2 = fetches;
          await cache.getOrSet('user:1', 'k', () => ++fetches);
          return fetches === before2;
        },
        10_000,
      );
    });
  });
});
