/**
 * Property-based test (fast-check): random paths, query strings, request
 * header values, namespaces and keys (unicode, lone surrogates, pattern and
 * hash-tag characters, keys past the 200-character bound) and clears, driven
 * through the middleware and compared with the same app without a cache.
 * Properties: no 5xx caused by the cache, every answer byte-identical to the
 * uncached app's (so never a body stored under another entry's key, never
 * one from before a clear), no store error; and in Redis every entry sits
 * under the key of the request it was made for.
 */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import express, { type Express, type Request, type RequestHandler } from 'express';
import fc from 'fast-check';
import type { Cache, CacheOptions } from 'express-cache-aside';
import { decodeValue, isGzipped, isResponse, responseBody } from '../../src/entry-codec';
import { encodeKey, encodePart, namespaceKeys } from '../../src/keys';
import { entryHeaderLength } from '../../src/stores/entry-header';
import { scanKeys, useFactory, type AppHandle, type StoreKind } from '../helpers/app-factory';
import { keyLayout } from '../helpers/key-layout';
import { escapeGlob } from '../helpers/shared-redis';

/** Any JS string travels in a header as base64url of its UTF-16 code units (lone surrogates included). */
const toHeader = (s: string): string => Buffer.from(s, 'utf16le').toString('base64url');
const fromHeader = (h: unknown): string => Buffer.from(String(h), 'base64url').toString('utf16le');

const PAD = 'ab'.repeat(700);

/** The "database": a version per namespace, bumped by a clear. */
type Versions = Map<string, number>;
const versionOf = (versions: Versions, ns: string): number => versions.get(ns) ?? 1;

function sortedQuery(req: Request): Array<[string, unknown]> {
  return Object.entries(req.query).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Mounts the routes on an app; with a cache they are cached and the clear route invalidates. */
function mountRoutes(app: Express, versions: Versions, cache?: Cache): void {
  const byFunction: RequestHandler = (req, res) => {
    const ns = fromHeader(req.headers['x-ns']);
    const key = fromHeader(req.headers['x-key']);
    // Accept-Language is reflected, so the route varies on it; X-Original-URL is always keyed.
    res.json({
      ns,
      key,
      version: versionOf(versions, ns),
      lang: req.headers['accept-language'] ?? null,
      original: req.headers['x-original-url'] ?? null,
      pad: PAD,
    });
  };
  const byPath: RequestHandler = (req, res) => {
    res.json({
      path: req.originalUrl.split('?')[0],
      query: sortedQuery(req),
      version: versionOf(versions, 'paths'),
      original: req.headers['x-original-url'] ?? null,
      pad: PAD,
    });
  };
  const clear: RequestHandler = (req, res) => {
    const ns = fromHeader(req.headers['x-ns']);
    versions.set(ns, versionOf(versions, ns) + 1);
    res.json({ cleared: true });
  };
  if (cache) {
    app.get(
      '/fn',
      cache.route({
        namespace: (req) => fromHeader(req.headers['x-ns']),
        key: (req) => fromHeader(req.headers['x-key']),
        vary: ['accept-language'],
      }),
      byFunction,
    );
    app.use('/p', cache.route({ namespace: 'paths' }), byPath);
    app.put('/clear', cache.invalidate({ namespaces: (req) => [fromHeader(req.headers['x-ns'])] }), clear);
  } else {
    app.get('/fn', byFunction);
    app.use('/p', byPath);
    app.put('/clear', clear);
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request sent exactly as given (no client-side re-encoding of the path). */
function send(agent: http.Agent, base: string, method: string, path: string, headers: Record<string, string>): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port: Number(port), path, method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The identity bytes of a body (a gzipped hit sent to a client that accepts gzip is inflated here). */
function identity(res: RawResponse): Buffer {
  return res.headers['content-encoding'] === 'gzip' && res.body.length > 0 ? gunzipSync(res.body) : res.body;
}

// ---- generators -------------------------------------------------------------

const hex = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');
const unreserved = [...'abcXYZ019-._~'];
const special = [...'!$\'()*+,;:@{}[]|^`"<>\\'];
const percent = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((b) => `%${hex(b)}`),
  fc.constantFrom('%', '%z', '%zz', '%C3', '%C3%28', '%E2%82', '%25', '%2F', '%00'),
);
const urlUnit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...unreserved) },
  { weight: 2, arbitrary: fc.constantFrom(...special) },
  { weight: 2, arbitrary: percent },
);
const queryUnit = fc.oneof({ weight: 8, arbitrary: urlUnit }, { weight: 1, arbitrary: fc.constantFrom('/', '?', '+', '=') });

const pathArb = fc
  .array(fc.string({ unit: urlUnit, maxLength: 12 }), { minLength: 0, maxLength: 4 })
  .map((segments) => `/p/${segments.join('/')}`);
const queryArb = fc.option(
  fc
    .array(
      fc.tuple(fc.string({ unit: queryUnit, maxLength: 8 }), fc.option(fc.string({ unit: queryUnit, maxLength: 12 }), { nil: undefined })),
      { maxLength: 5 },
    )
    .map((params) => params.map(([name, value]) => (value === undefined ? name : `${name}=${value}`)).join('&')),
  { nil: undefined },
);
// Long values push the key past the 200-character bound, so hashed keys are exercised too.
const longQueryArb = fc.string({ unit: fc.constantFrom(...unreserved), minLength: 150, maxLength: 400 }).map((v) => `long=${v}`);

/** Strings a namespace or key may be: anything non-empty, with the troublesome characters well represented. */
const nameArb = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
  fc.constantFrom('*', '?', '[a]', '{', '}', '{x}', '}{', ':', 'a:b', 'a%3Ab', '#', '$', '\0', 'ns*', 'user:1', 'user:1*', 'ⓤⓝⓘ', '💥'),
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 3 }),
  fc.string({ unit: 'grapheme', minLength: 190, maxLength: 300 }),
);

const headerValue = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 24,
});
/** Each header present now and then (Authorization, which bypasses the cache, rarely), so hits stay frequent. */
const sometimes = <T>(arb: fc.Arbitrary<T>, absentWeight: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const headersArb: fc.Arbitrary<Record<string, string>> = fc
  .record({
    'accept-language': sometimes(fc.oneof(headerValue, fc.constantFrom('fr', 'en-US,en;q=0.9')), 3),
    origin: sometimes(headerValue, 4),
    'x-forwarded-host': sometimes(headerValue, 4),
    'x-original-url': sometimes(headerValue, 6),
    cookie: sometimes(headerValue, 3),
    authorization: sometimes(headerValue, 10),
    'accept-encoding': sometimes(fc.constantFrom('gzip', 'identity', 'gzip, deflate, br'), 2),
  })
  .map((headers) => Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined)));

type Op =
  | { kind: 'fn'; method: 'GET' | 'HEAD'; ns: number; key: number; headers: Record<string, string> }
  | { kind: 'path'; method: 'GET' | 'HEAD'; path: string; headers: Record<string, string> }
  | { kind: 'clear'; ns: number | 'paths' }
  | { kind: 'data'; ns: number; key: number };

const method = fc.constantFrom<'GET' | 'HEAD'>('GET', 'GET', 'GET', 'HEAD');
const opArb = (pool: number): fc.Arbitrary<Op> => {
  const index = fc.integer({ min: 0, max: pool - 1 });
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('fn' as const), method, ns: index, key: index, headers: headersArb }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('path' as const),
        method,
        path: fc
          .tuple(pathArb, fc.oneof({ weight: 5, arbitrary: queryArb }, { weight: 1, arbitrary: longQueryArb }))
          .map(([p, q]) => (q === undefined ? p : `${p}?${q}`)),
        headers: headersArb,
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('clear' as const), ns: fc.oneof(index, fc.constant('paths' as const)) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('data' as const), ns: index, key: index }) },
  );
};

const POOL = 3;
/** One scenario: a few namespaces and keys, and operations over them (repeats make hits likely). */
const scenarioArb = fc.record({
  namespaces: fc.uniqueArray(nameArb, { minLength: POOL, maxLength: POOL }),
  keys: fc.uniqueArray(nameArb, { minLength: POOL, maxLength: POOL }),
  ops: fc
    .array(opArb(POOL), { minLength: 1, maxLength: 16 })
    .chain((ops) => fc.shuffledSubarray([...ops, ...ops], { minLength: ops.length })),
});

// ---- the property -----------------------------------------------------------

const configs: Array<{ name: string; kind: StoreKind; options: CacheOptions }> = [
  { name: 'Redis store', kind: 'redis', options: {} },
  { name: 'memory store', kind: 'memory', options: {} },
  { name: 'Redis store with compress and the l1 tier', kind: 'redis', options: { compress: true, l1: { max: 50, ttl: '10s' } } },
];

describe('property: random requests through the middleware', function () {
  this.timeout(30_000);
  const f = useFactory('property');

  for (const config of configs) {
    it(`${config.name}: no 5xx, answers byte-identical to the app without a cache, no store error, entries under their own keys`, async function () {
      const h = await f.setup(config.kind, { timeoutMs: 2000, ...config.options });
      const versions: Versions = new Map();
      mountRoutes(h.app, versions, h.cache);
      const reference = express();
      reference.use(express.json());
      mountRoutes(reference, versions);
      const referenceUrl = await f.listen(reference);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      const data = new Map<string, number>();
      let requests = 0;

      try {
        await fc.assert(
          fc.asyncProperty(scenarioArb, async ({ namespaces, keys, ops }) => {
            for (const op of ops) {
              if (op.kind === 'data') {
                const ns = namespaces[op.ns]!;
                const key = keys[op.key]!;
                const expected = { ns, key, version: versionOf(versions, ns) };
                const value = await h.cache.getOrSet(ns, key, () => ({ ...expected }));
                expect(value, 'getOrSet value').to.deep.equal(expected);
                data.set(ns, expected.version);
                continue;
              }
              if (op.kind === 'clear') {
                const ns = op.ns === 'paths' ? 'paths' : namespaces[op.ns]!;
                const res = await send(agent, h.url, 'PUT', '/clear', { 'x-ns': toHeader(ns) });
                expect(res.status, 'clear').to.equal(200);
                continue;
              }
              const path = op.kind === 'fn' ? '/fn' : op.path;
              const headers =
                op.kind === 'fn' ? { ...op.headers, 'x-ns': toHeader(namespaces[op.ns]!), 'x-key': toHeader(keys[op.key]!) } : op.headers;
              const cached = await send(agent, h.url, op.method, path, headers);
              const plain = await send(agent, referenceUrl, op.method, path, headers);
              requests += 1;
              const what = `${op.method} ${path} (X-Cache ${String(cached.headers['x-cache'])})`;
              expect(cached.status, `${what}: status`).to.be.below(500);
              expect(cached.status, `${what}: status as without a cache`).to.equal(plain.status);
              expect(cached.headers['content-type'], `${what}: content-type`).to.equal(plain.headers['content-type']);
              if (op.method === 'HEAD') {
                expect(cached.body.length, `${what}: HEAD has no body`).to.equal(0);
              } else {
                expect(identity(cached).toString('latin1'), `${what}: body`).to.equal(identity(plain).toString('latin1'));
              }
            }
          }),
          { numRuns: 60, endOnFailure: true },
        );
      } finally {
        agent.destroy();
      }
      expect(requests).to.be.above(50);
      const stats = h.cache.stats();
      expect(stats.errors, 'store errors').to.equal(0);
      expect(stats.hits, 'the cache served hits').to.be.above(10);
      if (h.redis) await expectEntriesUnderTheirOwnKeys(h);
    });
  }
});

/** Reads every entry back from Redis: the request it was made for names the key it sits under. */
async function expectEntriesUnderTheirOwnKeys(h: AppHandle): Promise<void> {
  const redis = h.redis!;
  const keys = await scanKeys(redis, `${escapeGlob(h.prefix)}:*`);
  expect(keys.length).to.be.above(0);
  const layout = keyLayout(h.prefix);
  let checked = 0;
  for (const key of keys) {
    const parsed = layout.parse(key);
    expect(parsed, `key layout: one hash tag, data never breaks out of it: ${key}`).to.not.equal(undefined);
    if (parsed!.part === 't' || parsed!.part === 'all') {
      expect(parsed!.key, 'no tag is used by these routes').to.equal('');
      continue;
    }
    if (parsed!.part !== 'e') continue;
    const tag = `{${parsed!.namespace}}`;
    const entryPart = parsed!.key;
    const value = await redis.getBuffer(key);
    if (value === null) continue;
    const headerLength = entryHeaderLength(value);
    expect(headerLength, `${key} starts with the store's entry header`).to.be.above(0);
    const payload = value.subarray(headerLength);
    if (!isResponse(payload)) {
      const { ns, key: dataKey } = decodeValue<{ ns: string; key: string }>(payload);
      expect(key, 'a getOrSet value sits under its own namespace and key').to.equal(
        namespaceKeys(h.prefix, ns).entryPrefix + encodeKey(dataKey),
      );
      checked += 1;
      continue;
    }
    const bodyBytes = isGzipped(payload) ? gunzipSync(responseBody(payload)) : responseBody(payload);
    const body = JSON.parse(bodyBytes.toString('utf8')) as { ns?: string; key?: string; path?: string };
    if (body.ns !== undefined) {
      expect(tag, 'a /fn entry sits in its own namespace').to.equal(`{${encodePart(body.ns)}}`);
      // The route varies on Accept-Language, so the key carries a digest suffix, and NULs in the key are doubled before it.
      const keyPart = encodePart(body.key!.replaceAll('\0', '\0\0'));
      // Hashed keys ('#': past the length bound, '$': not well-formed UTF-16) cannot be read back; the namespace check stands.
      if (!/^[#$]/.test(entryPart) && !keyPart.startsWith('$'))
        expect(entryPart.startsWith(keyPart), `${key} holds the answer for key ${JSON.stringify(body.key)}`).to.equal(true);
    } else {
      expect(tag).to.equal('{paths}');
      if (!/^[#$]/.test(entryPart))
        expect(entryPart.startsWith(encodePart(body.path!)), `${key} holds the answer for ${String(body.path)}`).to.equal(true);
    }
    checked += 1;
  }
  expect(checked, 'entries checked').to.be.above(0);
}
