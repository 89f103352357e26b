/**
 * Who an entry is for: the namespace and key of a request, the request
 * headers folded into the key (`vary`, and the forwarding/override headers
 * that would otherwise let one request poison the entry for everyone), and
 * the requests that must not use the shared cache at all (Authorization).
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

/** The default key: path (with the router's mount point) plus the query, parameters sorted by name. */
export function defaultKey(req: Request, query: readonly string[] | undefined): string {
  const url = req.originalUrl ?? req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (q === -1 || q === url.length - 1) return path;
  const params = new URLSearchParams(url.slice(q + 1));
  if (query) {
    const kept = new URLSearchParams();
    for (const name of query) for (const value of params.getAll(name)) kept.append(name, value);
    const s = kept.toString();
    return s ? `${path}?${s}` : path;
  }
  params.sort();
  return `${path}?${params.toString()}`;
}

function headerValue(req: Request, name: string): string {
  const v = req.headers[name];
  return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
}

/** The entry key of a request; throws (a programming error) when a key function returns no string. */
export function entryKey(req: Request, settings: RouteSettings): string {
  const key = settings.key === undefined ? defaultKey(req, settings.query) : resolveFromRequest('key', settings.key, req);
  let parts: string[] | undefined;
  for (const name of settings.vary) (parts ??= []).push(`${name}=${headerValue(req, name)}`);
  for (const name of ALWAYS_KEYED) {
    if (req.headers[name] !== undefined) (parts ??= []).push(`${name}=${headerValue(req, name)}`);
  }
  if (req.app?.get('trust proxy')) {
    for (const name of KEYED_WHEN_TRUSTING_PROXY) {
      if (req.headers[name] !== undefined) (parts ??= []).push(`${name}=${headerValue(req, name)}`);
    }
  }
  if (!parts) return key;
  // NULs in the user's key are doubled, so the single NUL before the digest keeps keys distinct.
  const escaped = key.includes('\0') ? key.replaceAll('\0', '\0\0') : key;
  return `${escaped}\0v${digest(parts)}`;
}

/** Why a request must not use the shared cache, or undefined when it may. */
export function requestBypassReason(req: Request, settings: RouteSettings): string | undefined {
  if (req.headers.authorization !== undefined && !settings.shared && !settings.vary.includes('authorization')) {
    return 'authorization';
  }
  return undefined;
}
