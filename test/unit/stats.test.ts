/** Stats counters: totals, per namespace, and the bound on namespaces. */
import { expect } from 'chai';
import { MAX_NAMESPACES, OTHER_NAMESPACES, StatsCounter } from '../../src/stats';

describe('stats counter', function () {
  it('counts totals and per namespace, and snapshots are copies', function () {
    const stats = new StatsCounter();
    stats.count('hits', 'a');
    stats.count('hits', 'a');
    stats.count('misses', 'b');
    stats.count('errors', undefined);
    const snap = stats.snapshot();
    expect(snap).to.include({ hits: 2, misses: 1, errors: 1 });
    expect(snap.namespaces.a).to.deep.equal({ hits: 2, misses: 0, stale: 0, bypasses: 0, errors: 0 });
    snap.namespaces.a!.hits = 99;
    expect(stats.snapshot().namespaces.a!.hits).to.equal(2);
  });

  it('counts namespaces past the bound under (other)', function () {
    const stats = new StatsCounter();
    for (let i = 0; i < MAX_NAMESPACES + 50; i++) stats.count('misses', `user:${i}`);
    const snap = stats.snapshot();
    expect(Object.keys(snap.namespaces)).to.have.length(MAX_NAMESPACES + 1);
    expect(snap.namespaces[OTHER_NAMESPACES]!.misses).to.equal(50);
    expect(snap.misses).to.equal(MAX_NAMESPACES + 50);
  });
});
