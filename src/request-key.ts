/**
 * Who an entry is for: the namespace and key of a request, the request
 * headers folded into the key (`vary`, and the forwarding/override headers
 * that would otherwise let one request poison the entry for everyone), and
 * the requests that must not use the shared cache at all (Authorization, a
 * host outside the cache's `hosts`). The Host is part of every entry's
 * identity, so a request with a foreign Host can never fill another host's entry.
 */
import type { Request } from 'express';
import { digest } from './keys';
import { resolveFromRequest, type RouteSettings } from './options';

/**
 * Headers that change what some apps answer without being part of the URL
 * (request-smuggled host, rewritten URL, overridden method). When present
 * they are folded into the key, so a request carrying them gets an entry of
 * its own and can never poison the entry normal requests read.
 */
const ALWAYS_KEYED = ['x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override'];
/** Forwarding headers: Express reads them only with 'trust proxy', so only then are they keyed. */
const KEYED_WHEN_TRUSTING_PROXY = ['x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-prefix', 'x-forwarded-port', 'forwarded'];

/** Request headers whose values, if they show up in a response, make it unsafe to share. */
export const REFLECTION_CHECKED = [...ALWAYS_KEYED, ...KEYED_WHEN_TRUSTING_PROXY, 'accept-language', 'origin'];

/** Parameter names a bracket/dot parser (qs) reads structurally: their order can change what req.query holds. */
const STRUCTURED_NAME = /[[\].]/;

/** `list` with `item` pushed on, or a new list if there was none yet (most requests need no list at all). */
function appended<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}

/**
 * The allow-listed fields of req.query, as the handler sees them whatever the query parser (qs turns
 * `page[]=1`, `page[x]=1` and `page%5B%5D=1` into `req.query.page`). Plain strings keep the
 * `name=value` form; anything else (arrays, objects) makes the whole part a JSON list, which starts
 * with '[' where the URL form never does (URLSearchParams encodes it).
 */
function allowedQuery(req: Request, query: readonly string[]): string {
  const parsed = req.query as Record<string, unknown> | undefined;
  if (parsed === undefined || parsed === null) return '';
  const kept = new URLSearchParams();
  let pairs: Array<[string, unknown]> | undefined;
  for (const name of query) {
    if (!Object.hasOwn(parsed, name)) continue;
    const value = parsed[name];
    if (value === undefined) continue;
    pairs = appended(pairs, [name, value]);
  }
  if (pairs === undefined) return '';
  if (pairs.every(([, value]) => typeof value === 'string')) {
    for (const [name, value] of pairs) kept.append(name, value as string);
    return kept.toString();
  }
  return JSON.stringify(pairs);
}

/**
 * The default key: path (with the router's mount point) plus the query, parameters sorted by name.
 * With an allowlist (`query`), only those fields of req.query. When a parameter name has brackets or dots,
 * the order is kept as sent: qs reads `a=1&a[b]=2` and `a[b]=2&a=1` differently.
 */
export function defaultKey(req: Request, query: readonly string[] | undefined): string {
  const url = req.originalUrl ?? req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (q === -1 || q === url.length - 1) return path;
  if (query) {
    const s = allowedQuery(req, query);
    return s ? `${path}?${s}` : path;
  }
  const params = new URLSearchParams(url.slice(q + 1));
  let structured = false;
  for (const name of params.keys()) {
    if (STRUCTURED_NAME.test(name)) {
      structured = true;
      break;
    }
  }
  if (!structured) params.sort();
  return `${path}?${params.toString()}`;
}

function headerValue(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : v;
}

/** `name=value` for a present header, the bare name for an absent one (names never hold '='). */
function headerPart(req: Request, name: string): string {
  const value = headerValue(req, name);
  return value === undefined ? name : `${name}=${value}`;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The Host header, lower-cased (an absent one is ''). */
export function requestHost(req: Request): string {
  const host = req.headers.host;
  return host === undefined ? '' : host.toLowerCase();
}

function isLoopback(host: string): boolean {
  const colon = host.lastIndexOf(':');
  const name = colon === -1 || host.endsWith(']') ? host : host.slice(0, colon);
  return LOOPBACK_HOSTS.has(name);
}

/**
 * The host part of an entry's identity, or undefined for the primary host, whose entries carry no mark:
 * the first of the cache's `hosts`, or without them the loopback names (localhost, 127.0.0.1, [::1], any port),
 * which warmup uses by default. Every other Host gets entries of its own, as Varnish hashes Host with the URL.
 */
export function hostMark(req: Request, hosts: readonly string[] | undefined): string | undefined {
  const host = requestHost(req);
  if (hosts === undefined ? isLoopback(host) : host === hosts[0]) return undefined;
  return host;
}

function escapeNul(value: string): string {
  return value.includes('\0') ? value.replaceAll('\0', '\0\0') : value;
}

/**
 * The entry key of a request; throws (a programming error) when a key function returns no string.
 * Layout: key, then `\0h` + host unless it is the primary host, then `\0v` + a digest of the keyed request
 * headers if any. NULs in the key and host are doubled, so a single NUL always starts a part: distinct
 * (key, host, headers) give distinct strings.
 */
export function entryKey(req: Request, settings: RouteSettings, hosts?: readonly string[]): string {
  const key = settings.key === undefined ? defaultKey(req, settings.query) : resolveFromRequest('key', settings.key, req);
  let parts: string[] | undefined;
  for (const name of settings.vary) parts = appended(parts, headerPart(req, name));
  for (const name of ALWAYS_KEYED) {
    if (req.headers[name] !== undefined) parts = appended(parts, headerPart(req, name));
  }
  if (req.app?.get('trust proxy')) {
    for (const name of KEYED_WHEN_TRUSTING_PROXY) {
      if (req.headers[name] !== undefined) parts = appended(parts, headerPart(req, name));
    }
  }
  const host = hostMark(req, hosts);
  if (parts === undefined && host === undefined && !key.includes('\0')) return key;
  let out = escapeNul(key);
  if (host !== undefined) out += `\0h${escapeNul(host)}`;
  if (parts !== undefined) out += `\0v${digest(parts)}`;
  return out;
}

/**
 * Whether a request's host may use the cache: with `hosts`, its Host, or (behind a trusted proxy) the first
 * X-Forwarded-Host, the host Express then reports, must be one of them.
 */
function hostAllowed(req: Request, hosts: readonly string[]): boolean {
  if (hosts.includes(requestHost(req))) return true;
  const forwarded = req.headers['x-forwarded-host'];
  if (typeof forwarded !== 'string' || !req.app?.get('trust proxy')) return false;
  const comma = forwarded.indexOf(',');
  return hosts.includes((comma === -1 ? forwarded : forwarded.slice(0, comma)).trim().toLowerCase());
}

/** Why a request must not use the shared cache, or undefined when it may. */
export function requestBypassReason(req: Request, settings: RouteSettings, hosts?: readonly string[]): string | undefined {
  if (hosts !== undefined && !hostAllowed(req, hosts)) return 'host';
  if (req.headers.authorization !== undefined && !settings.shared && !settings.vary.includes('authorization')) {
    return 'authorization';
  }
  return undefined;
}
