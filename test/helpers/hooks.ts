/**
 * Mocha hooks for what a describe block starts once and stops after its
 * tests: a redis-server of its own (to pause, kill, restart) and the example
 * shop on a throwaway PostgreSQL database. Each returns a stand-in that reads
 * through to the thing once before() has made it, so a test file declares
 * `const server = useRedisProcess();` instead of a variable and three hooks.
 */
import { startTestShop, type TestShop } from './pg-shop';
import type { ShopOptions } from '../../example-app/src/bootstrap';
import { startRedis, type RedisProcess } from './redis-server';

/**
 * An object that forwards every property read to `current()` (class methods
 * bound to it), and fails naming `what` when read before the before() hook ran.
 */
function standIn<T extends object>(what: string, current: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_target, property) {
      const value = current();
      if (value === undefined) throw new Error(`${what} is not started yet: use it inside a test or hook, not at describe time`);
      const member: unknown = Reflect.get(value, property, value);
      // Methods of a class get their `this`; own function-valued properties (an Express app, a closure) are left as they are.
      if (typeof member !== 'function' || Object.hasOwn(value, property)) return member;
      return Function.prototype.bind.call(member, value) as unknown;
    },
    has(_target, property) {
      const value = current();
      return value !== undefined && property in value;
    },
    // So that spreading or listing the stand-in sees the real thing's own properties.
    ownKeys() {
      const value = current();
      return value === undefined ? [] : Reflect.ownKeys(value);
    },
    getOwnPropertyDescriptor(_target, property) {
      const value = current();
      const descriptor = value === undefined ? undefined : Reflect.getOwnPropertyDescriptor(value, property);
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
  });
}

/**
 * Starts a redis-server of the enclosing describe's own on a free port
 * before its tests and stops it after. After each test it is left running
 * and answering for the next (resumed if paused, restarted empty if killed).
 * Extra `args` go to redis-server's command line.
 */
export function useRedisProcess(options: { args?: string[] } = {}): RedisProcess {
  let server: RedisProcess | undefined;
  before(async function () {
    this.timeout(30_000);
    server = await startRedis(options);
  });
  afterEach(async function () {
    if (server?.paused) server.resume();
    if (server !== undefined && !server.alive) await server.restart();
  });
  after(async function () {
    this.timeout(30_000);
    await server?.stop();
    server = undefined;
  });
  return standIn('the redis-server of useRedisProcess()', () => server);
}

/**
 * Starts the example shop (fresh database, migrated and seeded; the shared
 * Redis under a random prefix; `options` such as an admin token) before the
 * enclosing describe's tests and tears it down after them.
 */
export function useTestShop(options: Pick<ShopOptions, 'adminToken' | 'invalidation'> = {}): TestShop {
  let shop: TestShop | undefined;
  before(async function () {
    this.timeout(60_000);
    shop = await startTestShop(options);
  });
  after(async function () {
    this.timeout(60_000);
    await shop?.teardown();
    shop = undefined;
  });
  return standIn('the shop of useTestShop()', () => shop);
}
