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

/** Writes an entry the way a fill does: prepare (generation), then write under it. */
async function put(store: Store, namespace: string, key: string, payload: Buffer, ttlMs = 10_000): Promise<boolean> {
  const { generation } = await store.prepareFill(namespace, key, undefined, 1000);
  return store.write(namespace, key, generation, payload, ttlMs);
}

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

    it('prepares a fill by creating the generation, then reads the written payload back byte for byte', async function () {
      const n = ns('write');
      const payload = randomBytes(4096);
      const prepared = await store.prepareFill(n, 'k', undefined, 1000);
      expect(prepared.locked).to.equal(false);
      expect((await store.lookup(n, 'k', false)).generation!.equals(prepared.generation)).to.equal(true);
      expect(await store.write(n, 'k', prepared.generation, payload, 10_000)).to.equal(true);
      const found = await store.lookup(n, 'k', false);
      expect(found.generation).to.be.instanceOf(Buffer);
      expect(found.payload!.equals(payload)).to.equal(true);
    });

    it('two first fills of a new namespace agree on one generation and both land', async function () {
      const n = ns('second');
      const [a, b] = await Promise.all([store.prepareFill(n, 'a', undefined, 1000), store.prepareFill(n, 'b', undefined, 1000)]);
      expect(a.generation.equals(b.generation)).to.equal(true);
      expect(await store.write(n, 'a', a.generation, bytes('A'), 10_000)).to.equal(true);
      expect(await store.write(n, 'b', b.generation, bytes('B'), 10_000)).to.equal(true);
      expect((await store.lookup(n, 'a', false)).payload!.toString()).to.equal('A');
      expect((await store.lookup(n, 'b', false)).payload!.toString()).to.equal('B');
    });

    it('refuses a write whose generation is no longer current (a fill that began before a clear)', async function () {
      const n = ns('race');
      const { generation } = await store.prepareFill(n, 'k', undefined, 1000);
      await store.clear([n]);
      expect(await store.write(n, 'k', generation, bytes('old'), 10_000)).to.equal(false);
      expect((await store.lookup(n, 'k', false)).payload).to.equal(null);
    });

    it('refuses a write whose generation was lost meanwhile (eviction)', async function () {
      const n = ns('race-lost');
      const { generation } = await store.prepareFill(n, 'k', undefined, 1000);
      expect(await store.write(n, 'k', Buffer.from('0123456789abcdef'), bytes('forged'), 10_000)).to.equal(false);
      expect(await store.write(n, 'k', generation, bytes('real'), 10_000)).to.equal(true);
    });

    it('prepareFill takes the fill lock once when given a token', async function () {
      const n = ns('prep-lock');
      expect((await store.prepareFill(n, 'k', 'one', 5000)).locked).to.equal(true);
      expect((await store.prepareFill(n, 'k', 'two', 5000)).locked).to.equal(false);
      expect((await store.lookup(n, 'k', true)).locked).to.equal(true);
      await store.releaseLock(n, 'k', 'fill', 'one');
      expect((await store.prepareFill(n, 'k', 'three', 5000)).locked).to.equal(true);
    });

    it('a clear makes every entry of the namespace unreachable and gives a new generation', async function () {
      const n = ns('clear');
      await put(store, n, 'a', bytes('A'), 10_000);
      const before = (await store.lookup(n, 'a', false)).generation!;
      await store.clear([n]);
      const found = await store.lookup(n, 'a', false);
      expect(found.payload).to.equal(null);
      expect(found.generation!.equals(before)).to.equal(false);
    });

    it('a clear leaves other namespaces alone, even ones that look like patterns of it', async function () {
      const base = ns('user');
      await put(store, `${base}:1`, 'k', bytes('one'), 10_000);
      await put(store, `${base}:*`, 'k', bytes('star'), 10_000);
      await store.clear([`${base}:*`]);
      expect((await store.lookup(`${base}:1`, 'k', false)).payload!.toString()).to.equal('one');
      expect((await store.lookup(`${base}:*`, 'k', false)).payload).to.equal(null);
    });

    it("keeps ('a', 'b:c') and ('a:b', 'c') apart", async function () {
      const base = ns('sep');
      await put(store, `${base}a`, 'b:c', bytes('first'), 10_000);
      await put(store, `${base}a:b`, 'c', bytes('second'), 10_000);
      expect((await store.lookup(`${base}a`, 'b:c', false)).payload!.toString()).to.equal('first');
      expect((await store.lookup(`${base}a:b`, 'c', false)).payload!.toString()).to.equal('second');
    });

    it('treats namespaces and keys with {, }, *, ?, [ and unicode as data', async function () {
      const base = ns('odd');
      const names = ['{x}', '*', '?', '[a-z]', 'ü/é', '}{'];
      for (const [i, n] of names.entries()) await put(store, `${base}${n}`, `k${n}`, bytes(String(i)), 10_000);
      for (const [i, n] of names.entries()) expect((await store.lookup(`${base}${n}`, `k${n}`, false)).payload!.toString()).to.equal(String(i));
    });

    it('hashes very long keys and still keeps them apart', async function () {
      const n = ns('long');
      const a = 'x'.repeat(5000);
      const b = `${'x'.repeat(4999)}y`;
      await put(store, n, a, bytes('A'), 10_000);
      await put(store, n, b, bytes('B'));
      expect((await store.lookup(n, a, false)).payload!.toString()).to.equal('A');
      expect((await store.lookup(n, b, false)).payload!.toString()).to.equal('B');
    });

    it('expires entries after their ttl', async function () {
      const n = ns('ttl');
      await put(store, n, 'k', bytes('short'), 150);
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

    it('prepareFill returns an entry that landed since the lookup, and takes no lock then', async function () {
      const n = ns('landed');
      await put(store, n, 'k', bytes('landed'));
      const prepared = await store.prepareFill(n, 'k', 'token', 5000);
      expect(prepared.payload!.toString()).to.equal('landed');
      expect(prepared.locked).to.equal(false);
      expect((await store.lookup(n, 'k', true)).locked).to.equal(false);
    });

    it('holdLock takes a free lock (a refresh that outlived its lock still backs off)', async function () {
      const n = ns('hold-free');
      await store.holdLock(n, 'k', 'refresh', 'late', 5000);
      expect(await store.acquireLock(n, 'k', 'refresh', 'other', 5000)).to.equal(false);
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
