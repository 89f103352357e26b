/**
 * warmup resolves only after its entries are written, as the README says:
 * also when they are compressed first (compress) and when the body is large
 * (over ~700 KB, where the client has the answer before the cache has
 * encoded it). Checked the instant warmup resolves, with no waiting.
 */
import { expect } from 'chai';
import { entryKeys, useFactory } from '../helpers/app-factory';

const cases: Array<[string, { compress?: boolean }, number]> = [
  ['compress on, a 20 KB body', { compress: true }, 20_000],
  ['compress off, an 800 KB body', {}, 800_000],
  ['compress on, an 800 KB body', { compress: true }, 800_000],
];

describe('warmup resolves after its entries are written', function () {
  this.timeout(20_000);
  const f = useFactory('warmup-written');

  for (const [name, options, size] of cases) {
    it(`${name}: the entries are in Redis when warmup resolves`, async function () {
      const h = await f.setup('redis', { ...options, timeoutMs: 1000 });
      const body = 'x'.repeat(size);
      for (const path of ['/a', '/b', '/c']) {
        h.app.get(path, h.cache.route({ namespace: 'warm', key: path }), (_req, res) => {
          res.type('text/plain').send(body);
        });
      }
      const report = await h.cache.warmup(h.app, ['/a', '/b', '/c']);
      const keys = await entryKeys(h, 'warm');
      expect(report.ok).to.equal(3);
      expect(keys, 'entries written when warmup resolved').to.have.length(3);
    });
  }
});
