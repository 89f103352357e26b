/**
 * A fill's prepare step that times out on the client still runs in Redis and
 * may take the fill lock there. The request is served around the cache
 * (`X-Cache: BYPASS`, a store timeout), and the lock is released in the
 * background, so the next request does not wait lockWaitMs for a fill that
 * never comes. The delay is injected at the store's edge: the real command
 * runs in Redis, only its answer comes late.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { RedisStore } from '../../src/stores/redis-store';
import { captureLogger, scanKeys, sleep, useFactory, waitFor } from '../helpers/app-factory';
import { escapeGlob } from '../helpers/shared-redis';

describe('fill lock when the prepare step times out', function () {
  this.timeout(20_000);
  const f = useFactory('lock-timeout');

  it('answers BYPASS, releases the lock it may have taken, and the next request fills without waiting', async function () {
    const h = await f.setup('redis', { timeoutMs: 150, lockWaitMs: 3000, lockTtlMs: 10_000, logger: captureLogger().logger });
    let calls = 0;
    h.app.get('/slow-prepare', h.cache.route({ namespace: 'lt', key: 'one' }), (_req, res) => {
      calls += 1;
      res.json({ calls });
    });
    const original = RedisStore.prototype.lookupEntry;
    const stub = sinon.stub(RedisStore.prototype, 'lookupEntry').callsFake(async function (this: RedisStore, ...args) {
      const answer = await original.apply(this, args);
      // The lookup that gets the fill ready ran (and took the lock); the answer reaches the client after its timeout.
      if (args[2]?.fill?.lockToken !== undefined) await sleep(400);
      return answer;
    });

    const first = await h.http().get('/slow-prepare').expect(200);
    expect(first.headers['x-cache'], 'a store timeout is BYPASS').to.equal('BYPASS');
    expect(stub.callCount).to.equal(1);
    const lockPattern = `${escapeGlob(h.prefix)}:*l:*`;
    const redis = await f.redis();
    await waitFor(
      'the fill lock taken by the timed-out prepare is released',
      async () => (await scanKeys(redis, lockPattern)).length === 0,
      5000,
    );
    stub.restore();

    const started = Date.now();
    const second = await h.http().get('/slow-prepare').expect(200);
    const ms = Date.now() - started;
    expect(second.headers['x-cache']).to.equal('MISS');
    expect(ms, 'no wait for an orphaned lock (lockWaitMs is 3000)').to.be.below(1500);
    expect(calls).to.equal(2);
  });
});
