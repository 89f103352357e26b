/**
 * Redis key names. Namespaces and keys are data, never patterns: each is
 * percent-encoded so that no input can reach another namespace, collide
 * across the ':' separator, or break out of the Cluster hash tag `{...}` that
 * keeps a namespace's keys in one slot.
 */
import { createHash } from 'node:crypto';

/** Encoded keys longer than this are replaced by a hash, so a huge URL cannot make a huge Redis key. */
export const MAX_ENCODED_KEY_LENGTH = 200;

/** Percent-encoding that leaves no ':', '{', '}', '*', '?', '[' or ']' in the result, and is injective. */
const PLAIN = /^[A-Za-z0-9_.-]*$/;

export function encodePart(value: string): string {
  // Ids and slugs need no encoding: the common case skips it.
  if (PLAIN.test(value)) return value;
  if (!value.isWellFormed()) {
    // encodeURIComponent throws on lone surrogates; hash the UTF-16 units so distinct strings stay distinct.
    // '$' never starts an encoded part.
    return `$${createHash('sha256').update(Buffer.from(value, 'utf16le')).digest('base64url')}`;
  }
  return encodeURIComponent(value).replace(/[*!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** '#' never appears in an encoded part, so a hashed key cannot collide with a plain one. */
export function encodeKey(key: string): string {
  const encoded = encodePart(key);
  if (encoded.length <= MAX_ENCODED_KEY_LENGTH) return encoded;
  return `#${createHash('sha256').update(encoded).digest('base64url')}`;
}

/** The Redis keys of one namespace. */
export interface NamespaceKeys {
  /** Holds the namespace's current generation token. */
  generation: string;
  /** Prefix of entry keys: add the encoded entry key. */
  entryPrefix: string;
  /** Prefix of fill-lock keys. */
  lockPrefix: string;
  /** Prefix of refresh-lock keys. */
  refreshPrefix: string;
}

/** Key names of a namespace under a cache prefix; the hash tag is the encoded namespace. */
export function namespaceKeys(prefix: string, namespace: string): NamespaceKeys {
  const base = `${prefix}:{${encodePart(namespace)}}:`;
  return { generation: `${base}g`, entryPrefix: `${base}e:`, lockPrefix: `${base}l:`, refreshPrefix: `${base}r:` };
}

/** A short stable digest of request header values, for `vary`; each part is length-prefixed, so no value can stand for two. */
export function digest(parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part.length}:`).update(part, 'utf16le');
  return hash.digest('base64url').slice(0, 22);
}

/** An encoded tag: encoded like a key (hashed past the length bound), so it fits the one-byte length in an entry header. */
export function encodeTag(tag: string): string {
  return encodeKey(tag);
}

/** Prefix of tag record keys: add the encoded tag and '}'. Each tag is its own hash tag, so its own slot on a Cluster. */
export function tagKeyPrefix(prefix: string): string {
  return `${prefix}:t:{`;
}

/** The record of one tag (its token and clear clocks). */
export function tagKey(prefix: string, tag: string): string {
  return `${tagKeyPrefix(prefix)}${encodeTag(tag)}}`;
}

/** The global record of a cache prefix: the all-generation token and the clear clock. No '{': never a namespace's or tag's key. */
export function allKey(prefix: string): string {
  return `${prefix}:all`;
}
