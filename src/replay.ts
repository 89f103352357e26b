/**
 * The hit path: a stored response goes back to the client as status,
 * headers and body straight from the entry's buffer, with Age and the cache
 * header added; a matching conditional request gets 304 with no body.
 * Headers go out as stored, repeated ones included (two Link lines stay two),
 * the origin's Date unchanged and its Age plus the time in cache; a Vary set
 * by middleware in front of the cache is merged with the stored one.
 */
import type { Request, Response } from 'express';
import fresh from 'fresh';
import { acceptsGzip, inflate } from './compression';
import { isGzipped, responseBody, responseHeaders, responseStatus, storedAt } from './entry-codec';

/** Headers a 304 repeats from the 200 it stands for (RFC 9110 15.4.5). */
const NOT_MODIFIED_HEADERS = new Set(['etag', 'cache-control', 'content-location', 'expires', 'vary', 'last-modified', 'date']);

function notModified(req: Request, headers: string[]): boolean {
  let etag: string | undefined;
  let lastModified: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name === 'etag') etag = headers[i + 1];
    else if (name === 'last-modified') lastModified = headers[i + 1];
  }
  if (etag === undefined && lastModified === undefined) return false;
  return fresh(req.headers, { etag, 'last-modified': lastModified });
}

// Entries served again and again from process memory (the in-process tier, the memory store) are the same
// Buffer each time: their headers are decoded once. Node does not modify the array it is given.
const decodedHeaders = new WeakMap<Buffer, string[]>();

function headersOf(payload: Buffer, inMemory: boolean): string[] {
  // A buffer fresh from Redis is never seen again: decode it without remembering it.
  if (!inMemory) return responseHeaders(payload);
  let headers = decodedHeaders.get(payload);
  if (headers === undefined) {
    headers = responseHeaders(payload);
    decodedHeaders.set(payload, headers);
  }
  return headers;
}

/** The union of two Vary values, first one's order first, names compared case-insensitively. */
export function mergeVary(front: string, stored: string): string {
  const out = front.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (out.includes('*')) return '*';
  const seen = new Set(out.map((s) => s.toLowerCase()));
  for (const raw of stored.split(',')) {
    const name = raw.trim();
    if (name === '' || seen.has(name.toLowerCase())) continue;
    if (name === '*') return '*';
    seen.add(name.toLowerCase());
    out.push(name);
  }
  return out.join(', ');
}

/**
 * Puts stored headers on the response with their multiplicity and order (Node's writeHead would keep only the
 * last of a repeated name once any header is set), and returns the stored Age in seconds (0 when absent).
 */
function applyHeaders(res: Response, headers: string[]): number {
  let originAge = 0;
  let frontVary: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 4 && name.toLowerCase() === 'vary') {
      if (frontVary === undefined) {
        const current = res.getHeader('vary');
        frontVary = current === undefined ? '' : Array.isArray(current) ? current.join(', ') : String(current);
      }
      continue;
    }
    res.removeHeader(name);
  }
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const length = name.length;
    if (length === 3 && name.toLowerCase() === 'age') {
      // RFC 9111 5.1: an invalid Age is ignored.
      const age = Number.parseInt(headers[i + 1]!, 10);
      if (age > originAge) originAge = age;
    } else if (length === 4 && frontVary !== undefined && name.toLowerCase() === 'vary') {
      frontVary = frontVary === '' ? headers[i + 1]! : mergeVary(frontVary, headers[i + 1]!);
    } else {
      res.appendHeader(name, headers[i + 1]!);
    }
  }
  if (frontVary !== undefined && frontVary !== '') res.setHeader('Vary', frontVary);
  return originAge;
}

/**
 * Sends a stored response entry. `cacheStatus` is what the cache header says (HIT or STALE);
 * `inMemory` says the same buffer is served again (the in-process tier, the memory store).
 */
export function replay(req: Request, res: Response, payload: Buffer, cacheStatus: string, header: string | false, inMemory = false): void {
  const status = responseStatus(payload);
  let headers = headersOf(payload, inMemory);
  let body = responseBody(payload);
  if (isGzipped(payload) && !acceptsGzip(req)) ({ headers, body } = inflate(headers, body));
  const h = req.headers;
  const notModifiedAnswer = (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) && status === 200 && notModified(req, headers);
  let sent = headers;
  if (notModifiedAnswer) {
    sent = [];
    for (let i = 0; i < headers.length; i += 2) if (NOT_MODIFIED_HEADERS.has(headers[i]!.toLowerCase())) sent.push(headers[i]!, headers[i + 1]!);
  }
  const originAge = applyHeaders(res, sent);
  // RFC 9111 4.2.3: the age the origin (or a cache before us) gave, plus the time the entry has been here.
  res.setHeader('Age', String(originAge + Math.max(0, Math.floor((Date.now() - storedAt(payload)) / 1000))));
  if (header) res.setHeader(header, cacheStatus);
  if (notModifiedAnswer) {
    res.writeHead(304);
    res.end();
    return;
  }
  res.writeHead(status);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}
