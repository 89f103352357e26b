/**
 * Memory bounds on the hit path (issue 14 item 18): 200 hits of a 1 MB
 * entry from Redis, with no in-process tier, leave no more than a few MB
 * retained after a full GC. The deadline queue used to keep every settled
 * store call, and with it its payload, until more than 1,024 had passed.
 */
import { expect } from 'chai';
import { binaryParser, useFactory, waitForEntries } from '../helpers/app-factory';
import { fullGc } from '../helpers/gc';

const MB = 1024 * 1024;

function retained(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

describe('memory bounds of the hit path (redis store)', function () {
  const f = useFactory('memory-bounds');

  it('200 hits of a 1 MB body leave under 40 MB retained after GC, with no in-process tier', async function () {
    this.timeout(60_000);
    const h = await f.setup('redis', { timeoutMs: 5000 });
    const body = Buffer.alloc(MB, 7);
    h.app.get('/big', h.cache.route({ namespace: 'big', maxBodyBytes: 2 * MB, ttl: '5m' }), (_req, res) => {
      res.type('application/octet-stream').send(body);
    });
    await h.http().get('/big').buffer(true).parse(binaryParser).expect(200);
    await waitForEntries(h);
    const warm = await h.http().get('/big').buffer(true).parse(binaryParser).expect(200);
    expect(warm.headers['x-cache']).to.equal('HIT');
    await fullGc();
    const before = retained();
    for (let i = 0; i < 200; i += 1) {
      const res = await h.http().get('/big').buffer(true).parse(binaryParser);
      if (res.headers['x-cache'] !== 'HIT' || (res.body as Buffer).length !== MB)
        throw new Error(`hit ${i}: ${String(res.headers['x-cache'])}`);
    }
    await fullGc();
    const grown = retained() - before;
    expect(grown / MB, `retained growth in MB after 200 hits of 1 MB`).to.be.below(40);
  });
});
