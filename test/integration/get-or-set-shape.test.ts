/**
 * getOrSet returns the same shape to every caller: the caller whose fetch
 * filled the entry gets what a hit gets (the deserialized copy), so a class
 * instance is a plain object for all of them, and mutating it never changes
 * what later calls get. Around the cache (store failing) too.
 */
import { expect } from 'chai';
import { createCache } from 'express-cache-aside';
import Redis from 'ioredis';
import { captureLogger, useFactory } from '../helpers/app-factory';
import { storeKinds } from '../helpers/app-factory';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

describe('getOrSet returns one shape to every caller', function () {
  this.timeout(20_000);
  const f = useFactory('gos-shape');

  for (const kind of storeKinds) {
    it(`the filler, concurrent waiters and later hits all get a plain copy (${kind})`, async function () {
      const h = await f.cache(kind);
      const fetch = async (): Promise<{ at: Point; when: Date }> => ({ at: new Point(3, 4), when: new Date(1000) });
      const [filler, waiter] = await Promise.all([h.cache.getOrSet('shape', 'p', fetch), h.cache.getOrSet('shape', 'p', fetch)]);
      const hit = await h.cache.getOrSet('shape', 'p', fetch);
      for (const [name, value] of [
        ['filler', filler],
        ['waiter', waiter],
        ['hit', hit],
      ] as const) {
        expect(value.at, name).to.not.be.instanceOf(Point);
        expect(Object.getPrototypeOf(value.at), name).to.equal(Object.prototype);
        expect(value.at, name).to.deep.equal({ x: 3, y: 4 });
        expect(value.when, name).to.be.instanceOf(Date);
      }
      (filler.at as { x: number }).x = 99;
      expect((await h.cache.getOrSet('shape', 'p', fetch)).at.x, 'a later hit after the filler mutated its copy').to.equal(3);
    });
  }

  it('around the cache (the store is unreachable) the value has the same shape', async function () {
    const redis = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    const cache = f.adopt(createCache({ redis, logger: captureLogger().logger }));
    const value = await cache.getOrSet('shape', 'p', () => ({ at: new Point(3, 4) }));
    expect(value.at).to.not.be.instanceOf(Point);
    expect(value.at).to.deep.equal({ x: 3, y: 4 });
    redis.disconnect();
  });
});
