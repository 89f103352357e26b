/**
 * The Redis key names the package writes, written down once for the tests:
 * `<prefix>:{<namespace>}:g` holds a namespace's generation, and
 * `<prefix>:{<namespace>}:e:<key>` an entry, `...:l:<key>` a fill lock,
 * `...:r:<key>` a refresh lock. The `{namespace}` hash tag keeps a
 * namespace in one Cluster slot. Outside namespaces: `<prefix>:all`, the
 * global record (all-generation token and clear clock), and
 * `<prefix>:t:{<tag>}`, a tag's record (its own slot). This is a statement of src/keys.ts, not a
 * call into it, so a change of layout shows in the tests. Only plain names
 * (letters, digits, '_', '.', '-') are taken: the package keeps those as
 * they are, and the encoding of others has its own unit tests.
 */
import { escapeGlob } from './shared-redis';

const PLAIN = /^[A-Za-z0-9_.-]+$/;

/** What a key kind's letter is after the hash tag; 't' a tag record, 'all' the global record. */
export type KeyPart = 'g' | 'e' | 'l' | 'r' | 't' | 'all';

/** A key of the layout, taken apart. */
export interface ParsedKey {
  namespace: string;
  part: KeyPart;
  /** The entry or lock key, or the tag of a tag record ('' for a generation key and the global record). */
  key: string;
  /** The generation key of the same namespace (whatever its encoding). */
  generationKey: string;
}

/** The key names of one cache prefix. */
export interface KeyLayout {
  /** The namespace's generation key. */
  generation(namespace: string): string;
  /** The entry key of `key` in `namespace`. */
  entry(namespace: string, key: string): string;
  /** The fill-lock key of `key` in `namespace`. */
  lock(namespace: string, key: string): string;
  /** The refresh-lock key of `key` in `namespace`. */
  refresh(namespace: string, key: string): string;
  /** The global record. */
  all(): string;
  /** The record of a tag. */
  tag(tag: string): string;
  /** A SCAN MATCH pattern for the entry keys, of one namespace or all. */
  entryPattern(namespace?: string): string;
  /** A SCAN MATCH pattern for every key under the prefix. */
  allPattern(): string;
  /** Takes a key of this prefix apart (namespace and key as encoded), or undefined if it is not one of the layout. */
  parse(redisKey: string): ParsedKey | undefined;
}

function plain(what: string, value: string): string {
  if (!PLAIN.test(value)) throw new TypeError(`key-layout: ${what} ${JSON.stringify(value)} is not plain (the package would encode it)`);
  return value;
}

/** The key layout under `prefix` (the cache's `prefix` option). */
export function keyLayout(prefix: string): KeyLayout {
  const base = (namespace: string): string => `${prefix}:{${plain('namespace', namespace)}}:`;
  const shape = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}:(\\{[^{}]+\\}):(?:(g)|([elr]):([^{}]+))$`);
  const tagShape = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}:t:\\{([^{}]+)\\}$`);
  return {
    generation: (namespace) => `${base(namespace)}g`,
    entry: (namespace, key) => `${base(namespace)}e:${plain('key', key)}`,
    lock: (namespace, key) => `${base(namespace)}l:${plain('key', key)}`,
    refresh: (namespace, key) => `${base(namespace)}r:${plain('key', key)}`,
    all: () => `${prefix}:all`,
    tag: (tag) => `${prefix}:t:{${plain('tag', tag)}}`,
    entryPattern: (namespace) =>
      `${escapeGlob(prefix)}:${namespace === undefined ? '*' : escapeGlob(`{${plain('namespace', namespace)}}`)}:e:*`,
    allPattern: () => `${escapeGlob(prefix)}:*`,
    parse(redisKey) {
      if (redisKey === `${prefix}:all`) return { namespace: '', part: 'all', key: '', generationKey: '' };
      const tagged = tagShape.exec(redisKey);
      if (tagged !== null) return { namespace: '', part: 't', key: tagged[1]!, generationKey: '' };
      const match = shape.exec(redisKey);
      if (match === null) return undefined;
      const [, tag = '', generation, part, key = ''] = match;
      return { namespace: tag.slice(1, -1), part: (generation ?? part) as KeyPart, key, generationKey: `${prefix}:${tag}:g` };
    },
  };
}
