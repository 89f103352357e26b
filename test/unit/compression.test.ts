/**
 * Compression once, the pure parts: which captured answers are worth storing
 * gzipped, the gzipped representation's headers (Vary merged, not doubled;
 * lengths right), gzip refused when it does not pay, content negotiation of
 * gzip, and inflating back to the identity representation.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import express, { type Request } from 'express';
import { acceptsGzip, compressForStorage, inflate, shouldCompress } from '../../src/compression';
import type { CapturedResponse } from '../../src/response-capture';

const settings = { thresholdBytes: 1024 };
const text = Buffer.from('{"items":['.concat(Array.from({ length: 200 }, (_, i) => `{"id":${i},"title":"Course ${i}"}`).join(','), ']}'));

function captured(headers: string[], cacheControl?: string): CapturedResponse {
  return {
    complete: true,
    status: 200,
    headers,
    setCookie: false,
    cacheControl,
    vary: undefined,
    body: [],
    bodyLength: 0,
    tooLarge: false,
  };
}

/** A real Express request object carrying only the given headers. */
function requestWith(headers: Record<string, string>): Request {
  const req = Object.create(express.request) as Request;
  req.headers = headers;
  return req;
}

/** The value of a header in a flat [name, value, ...] list, by lower-case name. */
function headerOf(headers: string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) return headers[i + 1];
  return undefined;
}

describe('compression', function () {
  describe('shouldCompress', function () {
    const json = ['Content-Type', 'application/json; charset=utf-8'];

    it('takes a compressible body at or over the threshold', function () {
      expect(shouldCompress(captured(json), Buffer.alloc(1024, 'a'), settings)).to.equal(true);
      expect(shouldCompress(captured(['content-type', 'text/html']), Buffer.alloc(5000, 'a'), settings)).to.equal(true);
    });

    it('leaves a body under the threshold as it is', function () {
      expect(shouldCompress(captured(json), Buffer.alloc(1023, 'a'), settings)).to.equal(false);
    });

    it('leaves binary, untyped, already-encoded and no-transform answers as they are', function () {
      const body = Buffer.alloc(4096, 'a');
      expect(shouldCompress(captured(['Content-Type', 'image/png']), body, settings), 'binary').to.equal(false);
      expect(shouldCompress(captured([]), body, settings), 'no Content-Type').to.equal(false);
      expect(shouldCompress(captured([...json, 'Content-Encoding', 'br']), body, settings), 'already encoded').to.equal(false);
      expect(shouldCompress(captured(json, 'public, no-transform'), body, settings), 'no-transform').to.equal(false);
    });
  });

  describe('compressForStorage', function () {
    it('gzips the body and says so: Content-Encoding, Vary: Accept-Encoding, the gzipped length; other headers kept in order', async function () {
      const out = await compressForStorage(
        ['Content-Type', 'application/json', 'Content-Length', String(text.length), 'ETag', '"v1"'],
        text,
      );
      expect(out).to.not.equal(undefined);
      expect(gunzipSync(out!.body).equals(text), 'inflates to the original').to.equal(true);
      expect(out!.headers).to.deep.equal([
        'Content-Type',
        'application/json',
        'ETag',
        '"v1"',
        'Vary',
        'Accept-Encoding',
        'Content-Encoding',
        'gzip',
        'Content-Length',
        String(out!.body.length),
      ]);
    });

    it('adds Accept-Encoding to an existing Vary once, and keeps a Vary that already names it', async function () {
      const added = await compressForStorage(['Vary', 'Accept-Language'], text);
      expect(headerOf(added!.headers, 'vary')).to.equal('Accept-Language, Accept-Encoding');
      const kept = await compressForStorage(['vary', 'accept-encoding, Cookie'], text);
      expect(headerOf(kept!.headers, 'vary')).to.equal('accept-encoding, Cookie');
      expect(
        kept!.headers.filter((h) => h.toLowerCase() === 'vary'),
        'one Vary header',
      ).to.have.length(1);
      const blank = await compressForStorage(['Vary', ' '], text);
      expect(headerOf(blank!.headers, 'vary')).to.equal('Accept-Encoding');
    });

    it('returns undefined when gzip saves less than a tenth (random bytes)', async function () {
      expect(await compressForStorage(['Content-Type', 'text/plain'], randomBytes(8192))).to.equal(undefined);
    });
  });

  describe('acceptsGzip', function () {
    it('reads plain Accept-Encoding lists', function () {
      expect(acceptsGzip(requestWith({ 'accept-encoding': 'gzip, deflate, br' }))).to.equal(true);
      expect(acceptsGzip(requestWith({ 'accept-encoding': '*' }))).to.equal(true);
      expect(acceptsGzip(requestWith({ 'accept-encoding': 'br, deflate' }))).to.equal(false);
      expect(acceptsGzip(requestWith({ 'accept-encoding': '' }))).to.equal(false);
      expect(acceptsGzip(requestWith({}))).to.equal(false);
    });

    it('negotiates q-values: gzip;q=0 and identity preferred mean no', function () {
      expect(acceptsGzip(requestWith({ 'accept-encoding': 'gzip;q=0, identity' }))).to.equal(false);
      expect(acceptsGzip(requestWith({ 'accept-encoding': 'gzip;q=0.5, identity;q=1' }))).to.equal(false);
      expect(acceptsGzip(requestWith({ 'accept-encoding': 'gzip;q=1, identity;q=0.5' }))).to.equal(true);
      expect(acceptsGzip(requestWith({ 'accept-encoding': 'br;q=1, *;q=0.8' }))).to.equal(true);
    });
  });

  describe('inflate', function () {
    it('gives back the identity body with its own Content-Length and no Content-Encoding, keeping Vary', async function () {
      const stored = await compressForStorage(['Content-Type', 'application/json', 'Content-Length', String(text.length)], text);
      const plain = inflate(stored!.headers, stored!.body);
      expect(plain.body.equals(text)).to.equal(true);
      expect(headerOf(plain.headers, 'content-encoding')).to.equal(undefined);
      expect(headerOf(plain.headers, 'content-length')).to.equal(String(text.length));
      expect(headerOf(plain.headers, 'vary')).to.equal('Accept-Encoding');
      expect(plain.headers.filter((h) => h.toLowerCase() === 'content-length')).to.have.length(1);
    });

    it('throws on a body that is not gzip (a corrupt entry is not served)', function () {
      expect(() => inflate(['Content-Encoding', 'gzip'], Buffer.from('not gzip'))).to.throw();
    });
  });
});
