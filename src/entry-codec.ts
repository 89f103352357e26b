/**
 * The envelope an entry is stored in: a fixed binary header (times, kind,
 * status) followed by pre-encoded response headers and the body, or by a
 * v8-serialized value. A hit reads a few numbers at fixed offsets and hands
 * slices of the same buffer to the response: no JSON, no copies.
 *
 *   0  u8   version (1)
 *   1  u8   kind (0 response, 1 value, 2 response whose body is gzipped)
 *   2  f64  storedAt (ms since epoch)
 *   10 f64  freshUntil
 *   18 f64  staleUntil
 *   response: 26 u16 status, 28 u32 header block length, 32 header block
 *             (latin1 "name\0value\0name\0value"), then the body
 *   value:    26 v8.serialize(value)
 */
import { deserialize, serialize } from 'node:v8';

const VERSION = 1;
const KIND_RESPONSE = 0;
const KIND_VALUE = 1;
const KIND_RESPONSE_GZIP = 2;
const TIMES_END = 26;
const RESPONSE_HEAD = 32;

/** Times every entry carries. */
export interface EntryTimes {
  storedAt: number;
  freshUntil: number;
  staleUntil: number;
}

/** A response as stored: status, flat [name, value, ...] headers, body. */
export interface StoredResponse {
  status: number;
  headers: string[];
  body: Buffer;
}

function writeTimes(buf: Buffer, kind: number, times: EntryTimes): void {
  buf[0] = VERSION;
  buf[1] = kind;
  buf.writeDoubleBE(times.storedAt, 2);
  buf.writeDoubleBE(times.freshUntil, 10);
  buf.writeDoubleBE(times.staleUntil, 18);
}

/** Encodes a response entry. Header names and values must be latin1 (Node enforces that for headers). */
export function encodeResponse(response: StoredResponse, times: EntryTimes, gzipped = false): Buffer {
  const headerBlock = response.headers.join('\0');
  const headerLength = Buffer.byteLength(headerBlock, 'latin1');
  const buf = Buffer.allocUnsafe(RESPONSE_HEAD + headerLength + response.body.length);
  writeTimes(buf, gzipped ? KIND_RESPONSE_GZIP : KIND_RESPONSE, times);
  buf.writeUInt16BE(response.status, 26);
  buf.writeUInt32BE(headerLength, 28);
  buf.write(headerBlock, RESPONSE_HEAD, 'latin1');
  response.body.copy(buf, RESPONSE_HEAD + headerLength);
  return buf;
}

/** Encodes a data entry with v8's serializer (Date, Buffer, Map, Set, BigInt round-trip). */
export function encodeValue(value: unknown, times: EntryTimes): Buffer {
  const serialized = serialize(value);
  const buf = Buffer.allocUnsafe(TIMES_END + serialized.length);
  writeTimes(buf, KIND_VALUE, times);
  serialized.copy(buf, TIMES_END);
  return buf;
}

/** True when the buffer is an envelope this version can read. */
export function isEnvelope(buf: Buffer): boolean {
  return (
    buf.length >= TIMES_END && buf[0] === VERSION && (buf[1] === KIND_RESPONSE || buf[1] === KIND_VALUE || buf[1] === KIND_RESPONSE_GZIP)
  );
}

/** True for a response entry. */
export function isResponse(buf: Buffer): boolean {
  return (buf[1] === KIND_RESPONSE || buf[1] === KIND_RESPONSE_GZIP) && buf.length >= RESPONSE_HEAD;
}

/** True for a response entry stored gzipped (its headers are those of the gzipped representation). */
export function isGzipped(buf: Buffer): boolean {
  return buf[1] === KIND_RESPONSE_GZIP;
}

/** When the entry was stored. */
export function storedAt(buf: Buffer): number {
  return buf.readDoubleBE(2);
}

/** Until when the entry is fresh. */
export function freshUntil(buf: Buffer): number {
  return buf.readDoubleBE(10);
}

/** Until when a stale copy may be served. */
export function staleUntil(buf: Buffer): number {
  return buf.readDoubleBE(18);
}

/** Status of a response entry. */
export function responseStatus(buf: Buffer): number {
  return buf.readUInt16BE(26);
}

/** Flat [name, value, ...] headers of a response entry. */
export function responseHeaders(buf: Buffer): string[] {
  const length = buf.readUInt32BE(28);
  return length === 0 ? [] : buf.toString('latin1', RESPONSE_HEAD, RESPONSE_HEAD + length).split('\0');
}

/** The body of a response entry: a view on the same memory. */
export function responseBody(buf: Buffer): Buffer {
  return buf.subarray(RESPONSE_HEAD + buf.readUInt32BE(28));
}

/** The value of a data entry. */
export function decodeValue<T>(buf: Buffer): T {
  return deserialize(buf.subarray(TIMES_END)) as T;
}

/** Fresh, stale or expired, by the times in the envelope. */
export function entryState(payload: Buffer, now: number): 'hit' | 'stale' | 'miss' {
  if (now < freshUntil(payload)) return 'hit';
  if (now < staleUntil(payload)) return 'stale';
  return 'miss';
}
