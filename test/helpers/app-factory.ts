/**
 * Test factory for the integration tests: builds caches (on the shared Redis
 * or in memory) and Express apps listening on an ephemeral port, each cache
 * under a random prefix, and undoes all of it after each test (closes caches
 * and servers, deletes the prefix's keys, quits the clients it opened).
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import type { Cluster, default as Redis } from 'ioredis';
import request from 'supertest';
import { createCache, type Cache, type CacheOptions, type Logger } from 'express-cache-aside';
import { keyLayout } from './key-layout';
import { connectShared, deleteByPrefix, randomPrefix } from './shared-redis';

/**
 * The store timeout of factory caches on the shared Redis unless a test sets one: the package's 100 ms
 * default is tested where it matters (own servers, paused); on a shared, loaded 2-core machine a healthy
 * Redis can take longer, and a test that expects a HIT would then see BYPASS.
 */
export const SHARED_REDIS_TIMEOUT_MS = 1000;

/** Where a cache keeps its entries in a test. */
export type StoreKind = 'redis' | 'memory';

/** Both stores, for `for (const storeKind of storeKinds) describe(...)` loops. */
export const storeKinds: readonly StoreKind[] = ['redis', 'memory'];

/** A cache built by the factory, with what a test needs to look behind it. */
export interface CacheHandle {
  cache: Cache;
  kind: StoreKind;
  prefix: string;
  /** The shared-Redis client the cache uses; undefined for the memory store. */
  redis: Redis | undefined;
}

/** A cache plus an Express app (express 5, JSON bodies parsed) already listening. */
export interface AppHandle extends CacheHandle {
  app: Express;
  /** Base URL of the listening app, e.g. http://127.0.0.1:41234 */
  url: string;
  /** A supertest agent bound to the listening app (one server, reused). */
  http: () => request.Agent;
}

/** Supertest parser that keeps the body as raw bytes: use with `.buffer(true).parse(binaryParser)`. */
export function binaryParser(res: request.Response, callback: (err: Error | null, body: Buffer) => void): void {
  // superagent hands the parser the raw Node response stream, whatever its type declarations say.
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer | string) => chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
  stream.on('end', () => callback(null, Buffer.concat(chunks)));
  stream.on('error', (err: Error) => callback(err, Buffer.alloc(0)));
}

/**
 * One request over a raw TCP socket (Connection: close), returning the status
 * line and headers as text and every byte after them: the way to see that a
 * HEAD or 304 response really carries no body, which HTTP clients hide.
 */
export function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; head: string; headers: Record<string, string>; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`no complete response head: ${JSON.stringify(all.toString('latin1'))}`));
        return;
      }
      const head = all.subarray(0, split).toString('latin1');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), head, headers: parsed, body: all.subarray(split + 4) });
    });
    const extra = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n${extra}\r\n`);
  });
}

/** A logger (pino's shape) that records instead of printing, for tests that provoke store failures. */
export function captureLogger(): { logger: Logger; entries: Array<{ level: string; obj: unknown; msg?: string }> } {
  const entries: Array<{ level: string; obj: unknown; msg?: string }> = [];
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      entries.push({ level, obj, msg });
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve/reject exposed, for handlers and fetches a test releases itself. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Makes a Deferred. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `check` until it returns true; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Subscribers of a pub/sub channel, over every node when given a Cluster (each node counts only its own clients). */
export async function subscriberCount(redis: Redis | Cluster, channel: string): Promise<number> {
  const nodes = 'nodes' in redis && typeof redis.nodes === 'function' ? (redis as Cluster).nodes('all') : [redis as Redis];
  const counts = await Promise.all(nodes.map(async (node) => Number(((await node.pubsub('NUMSUB', channel)) as [string, number])[1])));
  return counts.reduce((sum, n) => sum + n, 0);
}

/** All keys under a pattern, by SCAN (only ever used on a test's own random prefix). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/**
 * Redis keys of the cache's entries (layout `P:{namespace}:e:key`, see
 * key-layout.ts), optionally of one namespace. Namespaces given here must be
 * plain (letters, digits, '-', '_'), whose encoding is the name itself.
 */
export async function entryKeys(handle: CacheHandle, namespace?: string): Promise<string[]> {
  if (!handle.redis) throw new Error('entryKeys needs a Redis-backed cache');
  return scanKeys(handle.redis, keyLayout(handle.prefix).entryPattern(namespace));
}

/**
 * How many of the cache's entries are live: stored under their namespace's
 * current generation (the package stores an entry as the generation
 * token followed by the envelope). Entries of an earlier generation keep
 * their key until they expire, so counting keys alone would not show that a
 * fill after a clear has landed.
 */
export async function liveEntryCount(handle: CacheHandle, namespace?: string): Promise<number> {
  const redis = handle.redis;
  if (!redis) throw new Error('liveEntryCount needs a Redis-backed cache');
  const keys = await entryKeys(handle, namespace);
  if (keys.length === 0) return 0;
  const layout = keyLayout(handle.prefix);
  const pipeline = redis.pipeline();
  for (const key of keys) {
    pipeline.getBuffer(key);
    pipeline.getBuffer(layout.parse(key)!.generationKey);
  }
  const replies = (await pipeline.exec()) ?? [];
  let live = 0;
  for (let i = 0; i < keys.length; i += 1) {
    const entry = replies[2 * i]?.[1] as Buffer | null | undefined;
    const generation = replies[2 * i + 1]?.[1] as Buffer | null | undefined;
    // An entry's header starts with the namespace token it was written under (the record's first 16 bytes).
    if (entry && generation && generation.length >= 16 && entry.subarray(0, 16).equals(generation.subarray(0, 16))) live += 1;
  }
  return live;
}

/**
 * Waits until at least `count` live entries are stored (for the memory
 * store, whose writes are invisible from outside, a short pause instead):
 * entries are written after the response, so a test that wants a HIT next
 * waits for this.
 */
export async function waitForEntries(handle: CacheHandle, count = 1, namespace?: string): Promise<void> {
  if (handle.kind === 'memory') {
    await sleep(30);
    return;
  }
  await waitFor(`${count} stored entr${count === 1 ? 'y' : 'ies'}`, async () => (await liveEntryCount(handle, namespace)) >= count);
}

/**
 * GETs `path` until the cache header says HIT (each MISS may itself be the
 * fill that lands); for when a test cannot know which earlier write won.
 */
export async function eventuallyHit(h: AppHandle, path: string, timeoutMs = 3000): Promise<request.Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await h.http().get(path);
    if (res.headers['x-cache'] === 'HIT') return res;
    if (Date.now() > deadline)
      throw new Error(`${path} never became a HIT within ${timeoutMs} ms (last: ${String(res.headers['x-cache'])})`);
    await sleep(20);
  }
}

/** Builds caches and apps for one test and cleans everything up after it. */
export class TestFactory {
  private readonly caches: Cache[] = [];
  private readonly servers: http.Server[] = [];
  private readonly prefixes: string[] = [];
  private readonly clients: Redis[] = [];
  private sharedClient: Redis | undefined;

  constructor(private readonly label: string) {}

  /** A client on the shared Redis, opened once per test and quit in cleanup. */
  async redis(): Promise<Redis> {
    if (!this.sharedClient) {
      this.sharedClient = await connectShared();
      this.clients.push(this.sharedClient);
    }
    return this.sharedClient;
  }

  /** A fresh random prefix whose keys are deleted from the shared Redis in cleanup. */
  prefix(label = this.label): string {
    const prefix = randomPrefix(label);
    this.prefixes.push(prefix);
    return prefix;
  }

  /** A cache on the shared Redis or in memory, under a fresh random prefix unless options name one. */
  async cache(kind: StoreKind, options: CacheOptions = {}): Promise<CacheHandle> {
    const prefix = options.prefix ?? this.prefix();
    if (!this.prefixes.includes(prefix)) this.prefixes.push(prefix);
    const redis = kind === 'redis' ? await this.redis() : undefined;
    const cache = this.adopt(
      createCache({ ...(redis ? { timeoutMs: SHARED_REDIS_TIMEOUT_MS } : {}), ...options, prefix, ...(redis ? { redis } : {}) }),
    );
    return { cache, kind, prefix, redis };
  }

  /** A cache plus a listening express 5 app with `express.json()`. */
  async setup(kind: StoreKind, options: CacheOptions = {}): Promise<AppHandle> {
    const handle = await this.cache(kind, options);
    const app = express();
    app.use(express.json());
    const url = await this.listen(app);
    return { ...handle, app, url, http: () => request(url) };
  }

  /**
   * A cache on a client the test owns (a redis-server it started, say), under
   * a random prefix, plus a listening app. The client is quit in cleanup.
   */
  async setupOn(redis: Redis, options: CacheOptions = {}): Promise<AppHandle> {
    this.adoptClient(redis);
    const prefix = options.prefix ?? randomPrefix(this.label);
    const cache = this.adopt(createCache({ ...options, prefix, redis }));
    const app = express();
    app.use(express.json());
    const url = await this.listen(app);
    return { cache, kind: 'redis', prefix, redis, app, url, http: () => request(url) };
  }

  /** Closes this cache in cleanup. */
  adopt(cache: Cache): Cache {
    this.caches.push(cache);
    return cache;
  }

  /** Quits this client in cleanup. */
  adoptClient<T extends Redis>(client: T): T {
    this.clients.push(client);
    return client;
  }

  /** Listens on an ephemeral port on 127.0.0.1; the server is closed in cleanup. */
  async listen(app: http.RequestListener): Promise<string> {
    const server = http.createServer(app);
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Closes caches and servers, deletes the test's keys, quits the clients. */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (work: () => Promise<unknown>): Promise<void> => {
      try {
        await work();
      } catch (err) {
        errors.push(err);
      }
    };
    for (const cache of this.caches.splice(0)) await attempt(() => cache.close());
    for (const server of this.servers.splice(0)) {
      await attempt(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      );
    }
    const prefixes = this.prefixes.splice(0);
    if (prefixes.length > 0) {
      const redis = await this.redis();
      for (const prefix of prefixes) await attempt(() => deleteByPrefix(redis, prefix));
    }
    for (const client of this.clients.splice(0)) {
      if (client.status === 'end') continue;
      // quit waits for a reply a client on a dead or paused server never gets: bound it, then drop the socket.
      await Promise.race([client.quit().catch(() => undefined), sleep(1000)]);
      client.disconnect();
    }
    this.sharedClient = undefined;
    if (errors.length > 0) throw new Error(`test cleanup failed: ${errors.map(String).join('; ')}`);
  }
}

/** A factory for the tests of the enclosing describe; cleanup runs after each test. */
export function useFactory(label: string): TestFactory {
  const factory = new TestFactory(label);
  afterEach(async function () {
    this.timeout(30_000);
    await factory.cleanup();
  });
  return factory;
}
