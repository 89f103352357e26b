/** The envelope codec: what goes in comes out, at fixed offsets. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  decodeValue,
  encodeResponse,
  encodeValue,
  freshUntil,
  isEnvelope,
  isResponse,
  responseBody,
  responseHeaders,
  responseStatus,
  staleUntil,
  storedAt,
} from '../../src/entry-codec';

const times = { storedAt: 1_700_000_000_123, freshUntil: 1_700_000_060_123, staleUntil: 1_700_000_090_123 };

describe('entry codec', function () {
  it('round-trips a response: status, headers in order, binary body, times', function () {
    const body = randomBytes(65536);
    const headers = ['Content-Type', 'application/octet-stream', 'Link', '<a>', 'Link', '<b>', 'X-Latin', 'caf\u00e9'];
    const buf = encodeResponse({ status: 203, headers, body }, times);
    expect(isEnvelope(buf)).to.equal(true);
    expect(isResponse(buf)).to.equal(true);
    expect(responseStatus(buf)).to.equal(203);
    expect(responseHeaders(buf)).to.deep.equal(headers);
    expect(responseBody(buf).equals(body)).to.equal(true);
    expect([storedAt(buf), freshUntil(buf), staleUntil(buf)]).to.deep.equal([times.storedAt, times.freshUntil, times.staleUntil]);
  });

  it('gives the body as a view on the entry, not a copy', function () {
    const buf = encodeResponse({ status: 200, headers: [], body: Buffer.from('abc') }, times);
    expect(responseBody(buf).buffer).to.equal(buf.buffer);
    expect(responseHeaders(buf)).to.deep.equal([]);
  });

  it('round-trips values v8 can clone: Date, Buffer, Map, Set, BigInt, undefined, nesting', function () {
    const value = {
      d: new Date(5),
      b: Buffer.from([1, 2, 3]),
      m: new Map<unknown, unknown>([['k', new Set([1n, 2n])]]),
      u: undefined,
      n: [null, 1.5, 'x'],
    };
    const buf = encodeValue(value, times);
    expect(isResponse(buf)).to.equal(false);
    const back = decodeValue<typeof value>(buf);
    expect(back).to.deep.equal(value);
    expect(Buffer.isBuffer(back.b)).to.equal(true);
    expect(back.d).to.be.instanceOf(Date);
  });

  it('rejects what is not an envelope', function () {
    expect(isEnvelope(Buffer.from('not an envelope at all, really'))).to.equal(false);
    expect(isEnvelope(Buffer.alloc(3))).to.equal(false);
  });
});
