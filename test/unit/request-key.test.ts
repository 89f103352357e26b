/**
 * Unit tests of request-key.ts: entry keys are injective over (key, host,
 * keyed request headers) whatever NULs a key function returns (property
 * test with fast-check, issue 14 item 17); the primary host carries no mark;
 * the default key sorts plain parameters and keeps bracketed ones in order;
 * the query allowlist reads req.query; the bypass reasons.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Request } from 'express';
import { encodeKey, encodePart } from '../../src/keys';
import { parseRouteOptions } from '../../src/options';
import { defaultKey, entryKey, hostMark, requestBypassReason } from '../../src/request-key';

interface FakeRequest {
  url?: string;
  key?: string;
  host?: string | undefined;
  headers?: Record<string, string>;
  query?: Record<string, unknown>;
  trustProxy?: boolean;
}

function fakeRequest(options: FakeRequest): Request {
  const { url = '/x', headers = {}, query = {}, trustProxy = false } = options;
  // A Host given as undefined is an absent one; no host option at all is localhost.
  const host = 'host' in options ? options.host : 'localhost';
  const all: Record<string, string> = { ...headers };
  if (host !== undefined) all.host = host;
  return {
    originalUrl: url,
    url,
    headers: all,
    query,
    app: { get: (name: string) => (name === 'trust proxy' ? trustProxy : undefined) },
  } as unknown as Request;
}

/** The entry key for a key-function value, a Host, request headers and the route's vary names. */
function keyOf(
  key: string,
  host: string | undefined,
  varied: Record<string, string>,
  vary: string[] = ['x-a', 'x-b'],
  hosts?: string[],
): string {
  const settings = parseRouteOptions({ namespace: 'n', key: () => key, ...(vary.length > 0 ? { vary } : {}) });
  return entryKey(fakeRequest({ host, headers: varied }), settings, hosts);
}

/** Strings rich in what a key is built from: NUL, the part letters, '=' and the separators. */
const tricky = fc.string({ unit: fc.constantFrom('\0', 'v', 'h', 'a', '=', ':', ',', ' ', 'é'), maxLength: 12 });
const keyText = fc.string({ unit: fc.constantFrom('\0', 'v', 'h', 'a', '=', ':', ',', ' ', 'é'), minLength: 1, maxLength: 12 });
const varied = fc.record({ 'x-a': tricky, 'x-b': tricky }, { requiredKeys: [] });
const hostArb = fc.option(fc.constantFrom('localhost', 'shop.example', 'shop.example:8080', 'evil.example', 'a\0hb', 'h\0\0v'), {
  nil: undefined,
});
const varyArb = fc.constantFrom<string[]>([], ['x-a'], ['x-a', 'x-b']);

interface Identity {
  key: string;
  host: string | undefined;
  varied: Record<string, string>;
  vary: string[];
}
const identity = fc.record({ key: keyText, host: hostArb, varied, vary: varyArb });

/** What a handler can tell apart: the key, the Host (loopback names are one), the values of the varied headers. */
function sameIdentity(a: Identity, b: Identity): boolean {
  const loop = (h: string | undefined): string => (h === 'localhost' ? '' : `:${h ?? ''}`);
  const seen = (i: Identity): string => JSON.stringify(i.vary.map((name) => i.varied[name] ?? null));
  return a.key === b.key && loop(a.host) === loop(b.host) && a.vary.length === b.vary.length && seen(a) === seen(b);
}

const at = (i: Identity): string => keyOf(i.key, i.host, i.varied, i.vary);

describe('request-key', function () {
  it('maps distinct (key, host, varied headers) to distinct entry keys and Redis keys (fast-check, near misses)', function () {
    // The second identity is the first with one part changed, or built from the first one's entry key: near misses, not random pairs.
    const pair = identity.chain((a) =>
      fc.tuple(
        fc.constant<Identity>(a),
        fc.oneof<fc.Arbitrary<Identity>[]>(
          identity,
          keyText.map((key) => ({ ...a, key })),
          hostArb.map((host) => ({ ...a, host })),
          varied.map((v) => ({ ...a, varied: v })),
          varyArb.map((vary) => ({ ...a, vary })),
          fc.constant<Identity>({ key: at(a), host: 'localhost', varied: {}, vary: [] }),
          fc.constant<Identity>({ ...a, key: at(a) }),
        ),
      ),
    );
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const ka = at(a);
        const kb = at(b);
        if (sameIdentity(a, b)) return ka === kb;
        return ka !== kb && encodeKey(ka) !== encodeKey(kb);
      }),
      { numRuns: 5000 },
    );
  });

  it("a key function returning another request's whole entry key (NULs included) gets another entry", function () {
    // The concrete collision of before: key 'a' with a varied header, and a key function spelling out its NUL, 'v' and digest.
    const withVary = keyOf('a', 'localhost', { 'x-a': '1' }, ['x-a']);
    expect(keyOf(withVary, 'localhost', {}, [])).to.not.equal(withVary);
    const withHost = keyOf('a', 'evil.example', {}, []);
    expect(keyOf(withHost, 'localhost', {}, [])).to.not.equal(withHost);
  });

  it('tells an absent varied header from an empty one', function () {
    expect(keyOf('k', 'localhost', {}, ['x-a'])).to.not.equal(keyOf('k', 'localhost', { 'x-a': '' }, ['x-a']));
  });

  it('leaves the primary host unmarked: loopback names without `hosts`, the first of `hosts` with them', function () {
    for (const h of ['localhost', 'localhost:3000', '127.0.0.1:41234', '[::1]:80'])
      expect(hostMark(fakeRequest({ host: h }), undefined)).to.equal(undefined);
    expect(hostMark(fakeRequest({ host: 'Shop.Example' }), undefined)).to.equal('shop.example');
    expect(hostMark(fakeRequest({ host: 'shop.example' }), ['shop.example', 'www.shop.example'])).to.equal(undefined);
    expect(hostMark(fakeRequest({ host: 'www.shop.example' }), ['shop.example', 'www.shop.example'])).to.equal('www.shop.example');
    expect(hostMark(fakeRequest({ host: 'localhost' }), ['shop.example'])).to.equal('localhost');
    const settings = parseRouteOptions({ namespace: 'n', key: 'list:all' });
    expect(entryKey(fakeRequest({ host: 'localhost:3000' }), settings), 'plain keys stay plain').to.equal('list:all');
    expect(entryKey(fakeRequest({ host: 'evil.example' }), settings)).to.equal('list:all\0hevil.example');
  });

  it('sorts plain query parameters and keeps bracketed or dotted ones in the order sent', function () {
    const at = (url: string): string => defaultKey(fakeRequest({ url }), undefined);
    expect(at('/p?b=2&a=1')).to.equal(at('/p?a=1&b=2'));
    expect(at('/p?a=2&a[b]=1')).to.not.equal(at('/p?a[b]=1&a=2'));
    expect(at('/p?a=1&[a]=2')).to.not.equal(at('/p?[a]=2&a=1'));
    expect(at('/p?a%5Bb%5D=1&a=2')).to.not.equal(at('/p?a=2&a%5Bb%5D=1'));
    expect(at('/p')).to.equal('/p');
    expect(at('/p?')).to.equal('/p');
  });

  it('keys the allow-listed fields of req.query: strings in URL form, anything else as JSON, never one for the other', function () {
    const at = (query: Record<string, unknown>): string => defaultKey(fakeRequest({ url: '/items?x', query }), ['page']);
    expect(at({ page: '2', utm: 'x' })).to.equal('/items?page=2');
    expect(at({})).to.equal('/items');
    expect(at({ page: ['2'] })).to.not.equal(at({ page: '2' }));
    expect(at({ page: { x: '1' } })).to.not.equal(at({ page: { x: '2' } }));
    expect(at({ page: ['1', '2'] })).to.not.equal(at({ page: ['2', '1'] }));
    expect(at({ page: '[["page","2"]]' })).to.not.equal(at({ page: ['2'] }));
    expect(encodePart(at({ page: ['2'] }))).to.be.a('string');
  });

  it('bypasses requests with Authorization (unless shared or varied) and, with `hosts`, requests for other hosts', function () {
    const settings = parseRouteOptions({ namespace: 'n' });
    expect(requestBypassReason(fakeRequest({ headers: { authorization: 'Bearer x' } }), settings)).to.equal('authorization');
    expect(
      requestBypassReason(fakeRequest({ headers: { authorization: 'Bearer x' } }), parseRouteOptions({ namespace: 'n', shared: true })),
    ).to.equal(undefined);
    expect(requestBypassReason(fakeRequest({ host: 'evil.example' }), settings, ['shop.example'])).to.equal('host');
    expect(requestBypassReason(fakeRequest({ host: 'SHOP.example' }), settings, ['shop.example'])).to.equal(undefined);
    const forwarded = { host: 'internal:3000', headers: { 'x-forwarded-host': 'shop.example, evil.example' } };
    expect(requestBypassReason(fakeRequest({ ...forwarded, trustProxy: true }), settings, ['shop.example'])).to.equal(undefined);
    expect(
      requestBypassReason(fakeRequest(forwarded), settings, ['shop.example']),
      'X-Forwarded-Host counts only behind trust proxy',
    ).to.equal('host');
  });
});
