/**
 * The store contract: one suite every store runs (memory, Redis, Redis
 * Cluster), so they all mean the same thing by lookup, write, clear and
 * locks. Random namespaces per test keep runs apart.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { Store } from '../../src/stores/store';

/** A store under test and how to clean up after it. */
export interface StoreUnderTest {
  store: Store;
  cleanup(): Promise<void>;
}

const ns = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;
const bytes = (text: string): Buffer => Buffer.from(text);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the contract suite against stores made by makeStore. */
export function runStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${name}`, function () {
    let subject: StoreUnderTest;
    let store: Store;

    before(async function () {
      subject = await makeStore();
      store = subject.store;
    });
    after(async function () {
      await subject?.cleanup();
    });

    it('is ready', async function () {
      expect(store.isReady()).to.equal(true);
      expect(await store.whenReady(1000)).to.equal(true);
    });

    it('misses with no generation before anything is written', async function () {
      const found = await store.lookup(ns('empty'), 'k', false);
      expect(found).to.deep.equal({ generation: null, payload: null, locked: false });
    });

    it('writes under a new generation and reads the payload back byte for byte', async function () {
      const n = ns('write');
      const payload = randomBytes(4096);
      expect(await store.write(n, 'k', null, payload, 10_000)).to.equal(true);
      const found = await store.lookup(n, 'k', false);
      expect(found.generation).to.be.instanceOf(Buffer);
      expect(found.payload!.equals(payload)).to.equal(true);
    });

    it('writes a second entry under the generation it saw', async function () {
      const n = ns('second');
      await store.write(n, 'a', null, bytes('A'), 10_000);
      const { generation } = await store.lookup(n, 'b', false);
      expect(await store.write(n, 'b', generation, bytes('B'), 10_000)).to.equal(true);
      expect((await store.lookup(n, 'a', false)).payload!.toString()).to.equal('A');
      expect((await store.lookup(n, 'b', false)).payload!.toString()).to.equal('B');
    });

    it('refuses a write whose generation is no longer current (a fill that began before a clear)', async function () {
      const n = ns('race');
      await store.write(n, 'seed', null, bytes('seed'), 10_000);
      const { generation } = await store.lookup(n, 'k', false);
      await store.clear([n]);
      expect(await store.write(n, 'k', generation, bytes('old'), 10_000)).to.equal(false);
      expect((await store.lookup(n, 'k', false)).payload).to.equal(null);
    });

    it('refuses a write that saw no generation when a clear created one meanwhile', async function () {
      const n = ns('race-none');
      const { generation } = await store.lookup(n, 'k', false);
      expect(generation).to.equal(null);
      await store.clear([n]);
      expect(await store.write(n, 'k', null, bytes('old'), 10_000)).to.equal(false);
      expect((await store.lookup(n, 'k', false)).payload).to.equal(null);
    });

    it('a clear makes every entry of the namespace unreachable and gives a new generation', async function () {
      const n = ns('clear');
      await store.write(n, 'a', null, bytes('A'), 10_000);
      const before = (await store.lookup(n, 'a', false)).generation!;
      await store.clear([n]);
      const found = await store.lookup(n, 'a', false);
      expect(found.payload).to.equal(null);
      expect(found.generation!.equals(before)).to.equal(false);
    });

    it('a clear leaves other namespaces alone, even ones that look like patterns of it', async function () {
      const base = ns('user');
      await store.write(`${base}:1`, 'k', null, bytes('one'), 10_000);
      await store.write(`${base}:*`, 'k', null, bytes('star'), 10_000);
      await store.clear([`${base}:*`]);
      expect((await store.lookup(`${base}:1`, 'k', false)).payload!.toString()).to.equal('one');
      expect((await store.lookup(`${base}:*`, 'k', false)).payload).to.equal(null);
    });

    it("keeps ('a', 'b:c') and ('a:b', 'c') apart", async function () {
      const base = ns('sep');
      await store.write(`${base}a`, 'b:c', null, bytes('first'), 10_000);
      await store.write(`${base}a:b`, 'c', null, bytes('second'), 10_000);
      expect((await store.lookup(`${base}a`, 'b:c', false)).payload!.toString()).to.equal('first');
      expect((await store.lookup(`${base}a:b`, 'c', false)).payload!.toString()).to.equal('second');
    });

    it('treats namespaces and keys with {, }, *, ?, [ and unicode as data', async function () {
      const base = ns('odd');
      const names = ['{x}', '*', '?', '[a-z]', 'ü/é', '}{'];
      for (const [i, n] of names.entries()) await store.write(`${base}${n}`, `k${n}`, null, bytes(String(i)), 10_000);
      for (const [i, n] of names.entries()) expect((await store.lookup(`${base}${n}`, `k${n}`, false)).payload!.toString()).to.equal(String(i));
    });

    it('hashes very long keys and still keeps them apart', async function () {
      const n = ns('long');
      const a = 'x'.repeat(5000);
      const b = `${'x'.repeat(4999)}y`;
      await store.write(n, a, null, bytes('A'), 10_000);
      const { generation } = await store.lookup(n, b, false);
      await store.write(n, b, generation, bytes('B'), 10_000);
      expect((await store.lookup(n, a, false)).payload!.toString()).to.equal('A');
      expect((await store.lookup(n, b, false)).payload!.toString()).to.equal('B');
    });

    it('expires entries after their ttl', async function () {
      const n = ns('ttl');
      await store.write(n, 'k', null, bytes('short'), 150);
      expect((await store.lookup(n, 'k', false)).payload!.toString()).to.equal('short');
      await sleep(400);
      expect((await store.lookup(n, 'k', false)).payload).to.equal(null);
    });

    it('a lock is taken once, reported by lookup, released only by its token', async function () {
      const n = ns('lock');
      expect(await store.acquireLock(n, 'k', 'fill', 'one', 5000)).to.equal(true);
      expect(await store.acquireLock(n, 'k', 'fill', 'two', 5000)).to.equal(false);
      expect((await store.lookup(n, 'k', true)).locked).to.equal(true);
      expect((await store.lookup(n, 'k', false)).locked).to.equal(false);
      await store.releaseLock(n, 'k', 'fill', 'two');
      expect(await store.acquireLock(n, 'k', 'fill', 'three', 5000)).to.equal(false);
      await store.releaseLock(n, 'k', 'fill', 'one');
      expect((await store.lookup(n, 'k', true)).locked).to.equal(false);
      expect(await store.acquireLock(n, 'k', 'fill', 'four', 5000)).to.equal(true);
    });

    it('fill and refresh locks are separate, and a lock expires on its own', async function () {
      const n = ns('lock-kinds');
      expect(await store.acquireLock(n, 'k', 'fill', 'a', 150)).to.equal(true);
      expect(await store.acquireLock(n, 'k', 'refresh', 'b', 5000)).to.equal(true);
      await sleep(400);
      expect(await store.acquireLock(n, 'k', 'fill', 'c', 5000)).to.equal(true);
    });

    it('holdLock extends only the holder\'s lock', async function () {
      const n = ns('hold');
      expect(await store.acquireLock(n, 'k', 'refresh', 'mine', 150)).to.equal(true);
      await store.holdLock(n, 'k', 'refresh', 'theirs', 5000);
      await store.holdLock(n, 'k', 'refresh', 'mine', 1500);
      await sleep(400);
      expect(await store.acquireLock(n, 'k', 'refresh', 'other', 5000)).to.equal(false);
    });
  });
}
