/**
 * Captures what a handler sends: status and headers at the moment they are
 * written, and every body byte given to res.write/res.end (so res.send,
 * res.json, piped streams and binary bodies all work). The response itself
 * goes out untouched and undelayed; the capture only watches.
 */
import type { ServerResponse } from 'node:http';

/**
 * Headers never stored: hop-by-hop (RFC 9110 7.6.1, RFC 9111 3.1), or recomputed on replay (Content-Length).
 * Headers named in Connection are hop-by-hop too and are skipped per response. Age and Date are stored:
 * replay adds the time in cache to the origin's Age and sends the origin's Date (RFC 9111 4.2.3, 5.1).
 */
const NOT_STORED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'proxy-connection',
  'upgrade',
  'trailer',
  'te',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-authentication-info',
]);

/** What the handler sent, once the response has ended. */
export interface CapturedResponse {
  /** True when the response finished (not aborted, not destroyed by an error). */
  complete: boolean;
  status: number;
  /** Flat [name, value, ...] of the stored headers. */
  headers: string[];
  /** Lower-cased header values that decide storability, as written (after other middleware's on-headers hooks). */
  setCookie: boolean;
  cacheControl: string | undefined;
  vary: string | undefined;
  body: Buffer[];
  bodyLength: number;
  /** Body over maxBodyBytes: not kept. */
  tooLarge: boolean;
}

type Chunk = string | Buffer | Uint8Array;

function toBuffer(chunk: Chunk, encoding: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  // Copied: a handler may reuse its buffer after write() returns.
  return Buffer.from(chunk);
}

/** Header names listed in a Connection header value (lower-cased): hop-by-hop for this response. */
function connectionNames(value: unknown): Set<string> | undefined {
  if (value === undefined) return undefined;
  const names = new Set<string>();
  for (const item of Array.isArray(value) ? value : [value]) {
    for (const token of String(item).split(',')) if (token.trim() !== '') names.add(token.trim().toLowerCase());
  }
  return names;
}

function lowerValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(', ') : String(value)).toLowerCase();
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Middleware in front of the cache (express-session, cookie-session, anything on on-headers) changes headers
 * in a hook that runs inside writeHead, after the snapshot: what was really written decides storability.
 * Node keeps the headers it sent, so they are read once the response has ended.
 */
function judgeWritten(res: ServerResponse, captured: CapturedResponse): void {
  if (res.getHeader('set-cookie') !== undefined) captured.setCookie = true;
  const cacheControl = lowerValue(res.getHeader('cache-control'));
  if (cacheControl !== undefined && cacheControl !== captured.cacheControl) {
    captured.cacheControl = captured.cacheControl === undefined ? cacheControl : `${captured.cacheControl}, ${cacheControl}`;
  }
}

/** A capture before anything was written. */
function emptyCapture(): CapturedResponse {
  return {
    complete: false,
    status: 0,
    headers: [],
    setCookie: false,
    cacheControl: undefined,
    vary: undefined,
    body: [],
    bodyLength: 0,
    tooLarge: false,
  };
}

/** Records the response's headers as they will be sent: the flags storable.ts judges by, and the headers worth storing. */
function snapshotHeaders(
  res: ServerResponse,
  captured: CapturedResponse,
  maxBodyBytes: number,
  inherited: Record<string, unknown>,
  ownHeaderLower: string | undefined,
): void {
  const hopByHop = connectionNames(res.getHeader('connection'));
  for (const name of (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
    const lower = name.toLowerCase();
    const value = res.getHeader(lower);
    if (value === undefined) continue;
    if (lower === 'set-cookie') captured.setCookie = true;
    else if (lower === 'cache-control') captured.cacheControl = lowerValue(value);
    else if (lower === 'vary') captured.vary = lowerValue(value);
    else if (lower === 'content-length' && Number(value) > maxBodyBytes) captured.tooLarge = true;
    if (NOT_STORED.has(lower) || hopByHop?.has(lower) || lower === ownHeaderLower || sameValue(value, inherited[lower])) continue;
    if (Array.isArray(value)) for (const v of value) captured.headers.push(name, v);
    else captured.headers.push(name, String(value));
  }
}

/** Keeps a written chunk, or drops the whole body once it passes maxBodyBytes (the answer is then served, not stored). */
function addChunk(captured: CapturedResponse, chunk: Chunk | undefined, encoding: unknown, maxBodyBytes: number): void {
  if (chunk === undefined || chunk === null || typeof chunk === 'function' || captured.tooLarge) return;
  const buf = toBuffer(chunk, encoding);
  if (captured.bodyLength + buf.length > maxBodyBytes) {
    captured.tooLarge = true;
    captured.body = [];
    return;
  }
  captured.body.push(buf);
  captured.bodyLength += buf.length;
}

/** Sets the headers given to writeHead (a raw [name, value, ...] list or an object) on the response itself. */
function moveOntoResponse(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) res.removeHeader(String(headers[i]));
    for (let i = 0; i + 1 < headers.length; i += 2) res.appendHeader(String(headers[i]), headers[i + 1] as string);
  } else if (headers && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value as string);
  }
}

/**
 * Installs the capture on a response and resolves when it has ended.
 * `inherited` holds the headers already set when the cache middleware ran:
 * earlier middleware sets them again on every request, hits included, so
 * they are not stored (a CORS or request-id header of one client is never
 * replayed to another) unless the handler changed them.
 */
export function captureResponse(
  res: ServerResponse,
  maxBodyBytes: number,
  inherited: Record<string, unknown>,
  ownHeader: string | false,
): Promise<CapturedResponse> {
  const captured = emptyCapture();
  const ownHeaderLower = ownHeader ? ownHeader.toLowerCase() : undefined;
  let snapshotTaken = false;

  const snapshot = (statusCode: number): void => {
    if (snapshotTaken) return;
    snapshotTaken = true;
    captured.status = statusCode;
    // The Date Node would add is set here, so the client of this miss and every later hit get the same one.
    if (res.sendDate && !res.hasHeader('date')) res.setHeader('Date', new Date().toUTCString());
    snapshotHeaders(res, captured, maxBodyBytes, inherited, ownHeaderLower);
  };
  const add = (chunk: Chunk | undefined, encoding: unknown): void => addChunk(captured, chunk, encoding, maxBodyBytes);

  const originalWriteHead = res.writeHead;
  const originalWrite = res.write;
  const originalEnd = res.end;

  res.writeHead = function writeHead(this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    // Headers passed to writeHead are moved onto the response first, so the snapshot sees them as Node will send them.
    const reason = typeof rest[0] === 'string' ? rest[0] : undefined;
    moveOntoResponse(this, reason === undefined ? rest[0] : rest[1]);
    snapshot(statusCode);
    return (originalWriteHead as (...args: unknown[]) => ServerResponse).apply(
      this,
      reason === undefined ? [statusCode] : [statusCode, reason],
    );
  } as ServerResponse['writeHead'];

  res.write = function write(this: ServerResponse, chunk: Chunk, ...rest: unknown[]) {
    if (!this.headersSent) snapshot(this.statusCode);
    add(chunk, rest[0]);
    return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];

  res.end = function end(this: ServerResponse, chunk?: Chunk | (() => void), ...rest: unknown[]) {
    if (!this.headersSent) snapshot(this.statusCode);
    if (typeof chunk !== 'function') add(chunk, rest[0]);
    return (originalEnd as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];

  return new Promise((resolve) => {
    const settle = (): void => {
      res.removeListener('finish', settle);
      res.removeListener('close', settle);
      captured.complete = res.writableFinished && snapshotTaken;
      if (snapshotTaken) judgeWritten(res, captured);
      resolve(captured);
    };
    res.once('finish', settle);
    res.once('close', settle);
  });
}
