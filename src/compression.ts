/**
 * Compression once: a large compressible body is gzipped when it is stored,
 * off the request path, and then sent as it is to every client that accepts
 * gzip (most), with `Vary: Accept-Encoding`. Only a client that does not is
 * given a body inflated on the spot. So the CPU of compressing is paid once
 * per fill instead of once per hit, and Redis holds the smaller body.
 */
import compressible from 'compressible';
import type { Request } from 'express';
import { gzip, gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import type { CapturedResponse } from './response-capture';

const gzipAsync = promisify(gzip);

/** Settings of compression. */
export interface CompressionSettings {
  /** Bodies at least this long (bytes) are stored gzipped. */
  thresholdBytes: number;
}

function header(captured: CapturedResponse, name: string): string | undefined {
  for (let i = 0; i < captured.headers.length; i += 2) if (captured.headers[i]!.toLowerCase() === name) return captured.headers[i + 1];
  return undefined;
}

/** Whether a captured answer is worth storing gzipped. */
export function shouldCompress(captured: CapturedResponse, body: Buffer, settings: CompressionSettings): boolean {
  if (body.length < settings.thresholdBytes) return false;
  if (header(captured, 'content-encoding') !== undefined) return false;
  if (captured.cacheControl?.includes('no-transform')) return false;
  const type = header(captured, 'content-type');
  return type !== undefined && compressible(type) === true;
}

/** Gzip must save at least this fraction of the body, or the plain body is stored (random bytes do not shrink). */
const MIN_SAVING = 0.1;

/**
 * The gzipped body and the headers of the gzipped representation
 * (Content-Encoding, Vary, Content-Length), or undefined when gzip does not pay.
 */
export async function compressForStorage(headers: string[], body: Buffer): Promise<{ headers: string[]; body: Buffer } | undefined> {
  const gz = await gzipAsync(body);
  if (gz.length > body.length * (1 - MIN_SAVING)) return undefined;
  const out: string[] = [];
  let vary: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name === 'content-length') continue;
    if (name === 'vary') {
      vary = headers[i + 1];
      continue;
    }
    out.push(headers[i]!, headers[i + 1]!);
  }
  const varies = vary && vary.trim() !== '' ? (/\baccept-encoding\b/i.test(vary) ? vary : `${vary}, Accept-Encoding`) : 'Accept-Encoding';
  out.push('Vary', varies, 'Content-Encoding', 'gzip', 'Content-Length', String(gz.length));
  return { headers: out, body: gz };
}

/** Whether the client takes gzip: a quick look for plain headers, negotiation (Express's) when there are q-values. */
export function acceptsGzip(req: Request): boolean {
  const value = req.headers['accept-encoding'];
  if (typeof value !== 'string' || value === '') return false;
  if (!value.includes(';')) return value.includes('gzip') || value.includes('*');
  return req.acceptsEncodings('gzip', 'identity') === 'gzip';
}

/** The identity representation of a gzipped entry: headers without Content-Encoding/Length, the body inflated. */
export function inflate(headers: string[], body: Buffer): { headers: string[]; body: Buffer } {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name !== 'content-encoding' && name !== 'content-length') out.push(headers[i]!, headers[i + 1]!);
  }
  const plain = gunzipSync(body);
  out.push('Content-Length', String(plain.length));
  return { headers: out, body: plain };
}
