/**
 * Unit tests of storable.ts: which captured responses may be stored and
 * shared, each rule on its own with the reason it reports.
 */
import { expect } from 'chai';
import type { Request } from 'express';
import { parseRouteOptions } from '../../src/options';
import type { CapturedResponse } from '../../src/response-capture';
import { whyNotStored } from '../../src/storable';

function captured(overrides: Partial<CapturedResponse> = {}): CapturedResponse {
  return {
    complete: true,
    status: 200,
    headers: ['Content-Type', 'application/json'],
    setCookie: false,
    cacheControl: undefined,
    vary: undefined,
    body: [Buffer.from('{"ok":true}')],
    bodyLength: 11,
    tooLarge: false,
    ...overrides,
  };
}

function req(headers: Record<string, string> = {}, method = 'GET'): Request {
  return { method, headers } as unknown as Request;
}

const settings = parseRouteOptions({ namespace: 'n' });

describe('storable', function () {
  it('stores a complete 200 with nothing against it', function () {
    expect(whyNotStored(req(), captured(), settings)).to.equal(undefined);
  });

  it('refuses incomplete, HEAD, unlisted statuses, cookies and bodies over the bound', function () {
    expect(whyNotStored(req(), captured({ complete: false }), settings)).to.equal('incomplete');
    expect(whyNotStored(req({}, 'HEAD'), captured(), settings)).to.equal('head');
    expect(whyNotStored(req(), captured({ status: 404 }), settings)).to.equal('404');
    expect(whyNotStored(req(), captured({ status: 404 }), parseRouteOptions({ namespace: 'n', statuses: [200, 404] }))).to.equal(undefined);
    expect(whyNotStored(req(), captured({ setCookie: true }), settings)).to.equal('set-cookie');
    expect(whyNotStored(req(), captured({ tooLarge: true }), settings)).to.equal('too-large');
  });

  it('refuses Cache-Control no-store, private and no-cache, not a look-alike', function () {
    for (const cc of ['no-store', 'private', 'public, no-cache', 'private="set-cookie"', 'max-age=0,no-store']) {
      expect(whyNotStored(req(), captured({ cacheControl: cc }), settings), cc).to.equal('cache-control');
    }
    expect(whyNotStored(req(), captured({ cacheControl: 'public, max-age=60, x-no-storey' }), settings)).to.equal(undefined);
  });

  it('refuses a Vary on a header the key does not hold; Accept-Encoding only matters for an encoded body', function () {
    expect(whyNotStored(req(), captured({ vary: '*' }), settings)).to.equal('vary');
    expect(whyNotStored(req(), captured({ vary: 'origin' }), settings)).to.equal('vary:origin');
    expect(whyNotStored(req(), captured({ vary: 'origin' }), parseRouteOptions({ namespace: 'n', vary: ['Origin'] }))).to.equal(undefined);
    expect(whyNotStored(req(), captured({ vary: 'accept-encoding' }), settings)).to.equal(undefined);
    const encoded = captured({ vary: 'accept-encoding', headers: ['Content-Encoding', 'gzip'] });
    expect(whyNotStored(req(), encoded, settings)).to.equal('vary:accept-encoding');
  });

  it('refuses a response reflecting a risky request header it is not keyed by, in any of its escaped forms', function () {
    const origin = 'https://evil.example/<x>';
    expect(whyNotStored(req({ origin }), captured({ body: [Buffer.from(JSON.stringify({ o: origin }))] }), settings)).to.equal(
      'reflects:origin',
    );
    expect(whyNotStored(req({ origin }), captured({ body: [Buffer.from('https://evil.example/&lt;x&gt;')] }), settings)).to.equal(
      'reflects:origin',
    );
    expect(whyNotStored(req({ origin }), captured({ headers: ['Link', `<${encodeURIComponent(origin)}>`] }), settings)).to.equal(
      'reflects:origin',
    );
    expect(whyNotStored(req({ origin: 'short' }), captured({ body: [Buffer.from('short')] }), settings), 'too short to tell').to.equal(
      undefined,
    );
  });
});
