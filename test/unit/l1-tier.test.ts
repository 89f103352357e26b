/**
 * Unit tests of the in-process tier on its own (no Redis: without a
 * publisher it is usable at once): entries are bounded by count and by bytes
 * (issue 14 item 15), an entry larger than the byte bound is not kept, a clear
 * drops a namespace, and a lookup that started before a clear cannot plant
 * an entry after it.
 */
import { expect } from 'chai';
import { L1Tier } from '../../src/l1-tier';
import { parseCacheOptions } from '../../src/options';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const MB = 1024 * 1024;

function tier(max: number, maxBytes: number): L1Tier {
  return new L1Tier({ max, maxBytes, ttlMs: 60_000 }, 'unit', undefined, silent);
}

describe('l1-tier', function () {
  it('holds no more payload bytes than maxBytes, evicting the least recently used', function () {
    const l1 = tier(1000, 5 * MB);
    const now = Date.now();
    for (let i = 0; i < 20; i += 1) l1.set('ns', `k${i}`, Buffer.alloc(MB), l1.seq(), now + 60_000, now);
    const kept = Array.from({ length: 20 }, (_, i) => l1.get('ns', `k${i}`, now)).filter((p) => p !== undefined);
    expect(kept.length).to.be.within(1, 4);
    expect(l1.get('ns', 'k19', now), 'the newest stays').to.not.equal(undefined);
    expect(l1.size.bytes).to.be.at.most(5 * MB);
  });

  it('never keeps an entry larger than maxBytes, and still bounds by count', function () {
    const l1 = tier(3, 2 * MB);
    const now = Date.now();
    l1.set('ns', 'huge', Buffer.alloc(3 * MB), l1.seq(), now + 60_000, now);
    expect(l1.get('ns', 'huge', now)).to.equal(undefined);
    for (let i = 0; i < 5; i += 1) l1.set('ns', `s${i}`, Buffer.alloc(10), l1.seq(), now + 60_000, now);
    expect(l1.size.entries).to.equal(3);
  });

  it('drops a namespace on clear, and a lookup that started before the clear cannot plant its entry', function () {
    const l1 = tier(100, MB);
    const now = Date.now();
    const before = l1.seq();
    l1.set('a', 'k', Buffer.from('x'), l1.seq(), now + 60_000, now);
    l1.set('b', 'k', Buffer.from('y'), l1.seq(), now + 60_000, now);
    l1.drop({ namespaces: ['a'], tags: [], all: false });
    expect(l1.get('a', 'k', now)).to.equal(undefined);
    expect(l1.get('b', 'k', now)?.toString()).to.equal('y');
    l1.set('a', 'k', Buffer.from('old'), before, now + 60_000, now);
    expect(l1.get('a', 'k', now)).to.equal(undefined);
    expect(l1.get('b', 'k', now + 60_001), 'expired').to.equal(undefined);
  });

  it('defaults maxBytes to 32 MiB and validates it', function () {
    expect(parseCacheOptions({ l1: {} }).l1).to.include({ max: 1000, maxBytes: 32 * MB });
    expect(parseCacheOptions({ l1: { maxBytes: 1024 } }).l1?.maxBytes).to.equal(1024);
    expect(() => parseCacheOptions({ l1: { maxBytes: 0 } })).to.throw(TypeError, /l1\.maxBytes/);
  });
});
