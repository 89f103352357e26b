/**
 * The hit path: a stored response goes back to the client as status,
 * headers and body straight from the entry's buffer, with Age and the cache
 * header added; a matching conditional request gets 304 with no body.
 */
import type { Request, Response } from 'express';
import fresh from 'fresh';
import { acceptsGzip, inflate } from './compression';
import { isGzipped, responseBody, responseHeaders, responseStatus, storedAt } from './entry-codec';

/** Headers a 304 repeats from the 200 it stands for (RFC 9110 15.4.5). */
const NOT_MODIFIED_HEADERS = new Set(['etag', 'cache-control', 'content-location', 'expires', 'vary', 'last-modified']);

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

/**
 * Sends a stored response entry. `cacheStatus` is what the cache header says (HIT or STALE);
 * `inMemory` says the same buffer is served again (the in-process tier, the memory store).
 */
export function replay(req: Request, res: Response, payload: Buffer, cacheStatus: string, header: string | false, inMemory = false): void {
  const status = responseStatus(payload);
  let headers = headersOf(payload, inMemory);
  let body = responseBody(payload);
  if (isGzipped(payload) && !acceptsGzip(req)) ({ headers, body } = inflate(headers, body));
  res.setHeader('Age', String(Math.max(0, Math.floor((Date.now() - storedAt(payload)) / 1000))));
  if (header) res.setHeader(header, cacheStatus);
  const h = req.headers;
  if ((h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) && status === 200 && notModified(req, headers)) {
    const kept: string[] = [];
    for (let i = 0; i < headers.length; i += 2) if (NOT_MODIFIED_HEADERS.has(headers[i]!.toLowerCase())) kept.push(headers[i]!, headers[i + 1]!);
    res.writeHead(304, kept);
    res.end();
    return;
  }
  res.writeHead(status, headers);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}
