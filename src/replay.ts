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

/**
 * A response entry as a hit replays it, worked out once per entry buffer: an entry served again and again
 * from process memory (the in-process tier, the memory store) is the same Buffer each time, so a hit there
 * decodes nothing, allocates nothing the entry could hold, and hands writeHead one ready array.
 */
interface Rendered {
  status: number;
  /** The stored headers, flat, as stored (for a 304 and the inflated fallback). */
  headers: string[];
  body: Buffer;
  gzipped: boolean;
  storedAt: number;
  /** Whether an ETag or Last-Modified is stored: only then can a conditional request get a 304. */
  validators: boolean;
  /** The largest valid stored Age, in seconds (RFC 9111 5.1: an invalid one is ignored). */
  originAge: number;
  /** The stored Vary lines folded into one value; undefined when none is stored. */
  vary: string | undefined;
  /**
   * The stored headers other than Age and Vary, one name each with its value or, for a repeated name, all its
   * values in order (setHeader writes an array as one line per value): one setHeader per name replaces what
   * middleware in front set under that name, as removeHeader + appendHeader did, without deleting keys per hit.
   */
  names: string[];
  values: Array<string | string[]>;
  /** The Age last rendered and its text, so a new string is made once a second, not once a hit. */
  age: number;
  ageText: string;
}

const renderedEntries = new WeakMap<Buffer, Rendered>();

function render(payload: Buffer): Rendered {
  const headers = responseHeaders(payload);
  const names: string[] = [];
  const values: Array<string | string[]> = [];
  const slot = new Map<string, number>();
  let originAge = 0;
  let vary: string | undefined;
  let validators = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'age') {
      const age = Number.parseInt(value, 10);
      if (age > originAge) originAge = age;
    } else if (lower === 'vary') {
      vary = vary === undefined || vary === '' ? value : mergeVary(vary, value);
    } else {
      if (lower === 'etag' || lower === 'last-modified') validators = true;
      const at = slot.get(lower);
      if (at === undefined) {
        slot.set(lower, names.length);
        names.push(name);
        values.push(value);
      } else {
        const previous = values[at]!;
        values[at] = Array.isArray(previous) ? [...previous, value] : [previous, value];
      }
    }
  }
  return {
    status: responseStatus(payload),
    headers,
    body: responseBody(payload),
    gzipped: isGzipped(payload),
    storedAt: storedAt(payload),
    validators,
    originAge,
    vary,
    names,
    values,
    age: -1,
    ageText: '',
  };
}

function renderedOf(payload: Buffer, inMemory: boolean): Rendered {
  // A buffer fresh from Redis is never seen again: render it without remembering it.
  if (!inMemory) return render(payload);
  let rendered = renderedEntries.get(payload);
  if (rendered === undefined) {
    rendered = render(payload);
    renderedEntries.set(payload, rendered);
  }
  return rendered;
}

/** The union of two Vary values, first one's order first, names compared case-insensitively. */
export function mergeVary(front: string, stored: string): string {
  const out = front
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
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
  const entry = renderedOf(payload, inMemory);
  const h = req.headers;
  const conditional =
    entry.validators && entry.status === 200 && (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined);
  if (conditional || (entry.gzipped && !acceptsGzip(req))) {
    replayAdapted(req, res, entry, cacheStatus, header);
    return;
  }
  const names = entry.names;
  const values = entry.values;
  for (let i = 0; i < names.length; i++) {
    const value = values[i]!;
    // Node keeps the array it is given and appendHeader would push onto it: the entry's own stays untouched.
    res.setHeader(names[i]!, typeof value === 'string' ? value : value.slice());
  }
  if (entry.vary !== undefined) setVary(res, entry.vary);
  // RFC 9111 4.2.3: the age the origin (or a cache before us) gave, plus the time the entry has been here.
  const age = entry.originAge + Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000));
  if (age !== entry.age) {
    entry.age = age;
    entry.ageText = String(age);
  }
  res.setHeader('Age', entry.ageText);
  if (header) res.setHeader(header, cacheStatus);
  res.writeHead(entry.status);
  if (req.method === 'HEAD') res.end();
  else res.end(entry.body);
}

/** Merges the stored Vary with one set in front of the cache. */
function setVary(res: Response, stored: string): void {
  const current = res.getHeader('vary');
  const front = current === undefined ? '' : Array.isArray(current) ? current.join(', ') : String(current);
  const merged = front === '' ? stored : mergeVary(front, stored);
  if (merged !== '') res.setHeader('Vary', merged);
}

/** A hit that is not the stored response as is: a 304 for a matching conditional request, or the gzip inflated. */
function replayAdapted(req: Request, res: Response, entry: Rendered, cacheStatus: string, header: string | false): void {
  let headers = entry.headers;
  let body = entry.body;
  if (entry.gzipped && !acceptsGzip(req)) ({ headers, body } = inflate(headers, body));
  const notModifiedAnswer = entry.status === 200 && notModified(req, headers);
  let sent = headers;
  if (notModifiedAnswer) {
    sent = [];
    for (let i = 0; i < headers.length; i += 2)
      if (NOT_MODIFIED_HEADERS.has(headers[i]!.toLowerCase())) sent.push(headers[i]!, headers[i + 1]!);
  }
  const originAge = applyHeaders(res, sent);
  res.setHeader('Age', String(originAge + Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000))));
  if (header) res.setHeader(header, cacheStatus);
  if (notModifiedAnswer) {
    res.writeHead(304);
    res.end();
    return;
  }
  res.writeHead(entry.status);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}
