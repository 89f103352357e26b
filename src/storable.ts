/**
 * Whether a captured response may be stored and shared, Varnish's built-in
 * rules adapted to Express: never a response that sets a cookie, is marked
 * private or no-store, varies on a request header the key does not hold,
 * echoes a risky request header, or did not finish.
 */
import type { Request } from 'express';
import type { CapturedResponse } from './response-capture';
import type { RouteSettings } from './options';
import { REFLECTION_CHECKED } from './request-key';

const SHORTEST_REFLECTED_VALUE = 6;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** The forms a reflected value takes in a response: as sent, JSON-escaped, HTML-escaped, URI-encoded. */
function reflectedForms(value: string): string[] {
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)]);
  try {
    forms.add(encodeURIComponent(value));
  } catch {
    // A lone surrogate cannot be URI-encoded, so it cannot appear that way either.
  }
  return [...forms];
}

function reflects(captured: CapturedResponse, value: string): boolean {
  const forms = reflectedForms(value);
  const body = captured.body.length === 1 ? captured.body[0]! : Buffer.concat(captured.body);
  for (const form of forms) {
    for (let i = 1; i < captured.headers.length; i += 2) if (captured.headers[i]!.includes(form)) return true;
    if (body.includes(form)) return true;
  }
  return false;
}

function hasHeader(captured: CapturedResponse, name: string): boolean {
  for (let i = 0; i < captured.headers.length; i += 2) if (captured.headers[i]!.toLowerCase() === name) return true;
  return false;
}

/** Why the response is not stored ('set-cookie', '404', ...), or undefined when it is stored. */
export function whyNotStored(req: Request, captured: CapturedResponse, settings: RouteSettings): string | undefined {
  if (!captured.complete) return 'incomplete';
  if (req.method !== 'GET') return 'head';
  if (!settings.statuses.has(captured.status)) return String(captured.status);
  if (captured.setCookie) return 'set-cookie';
  if (captured.tooLarge) return 'too-large';
  const cc = captured.cacheControl;
  if (cc !== undefined && /(?:^|[\s,])(?:no-store|private|no-cache)(?:$|[\s,=])/.test(cc)) return 'cache-control';
  if (captured.vary !== undefined) {
    for (const raw of captured.vary.split(',')) {
      const name = raw.trim();
      if (name === '') continue;
      if (name === '*') return 'vary';
      // An identity body is the same for every Accept-Encoding; an encoded one is not.
      if (name === 'accept-encoding' && !hasHeader(captured, 'content-encoding')) continue;
      if (!settings.vary.includes(name)) return `vary:${name}`;
    }
  }
  for (const name of REFLECTION_CHECKED) {
    const value = req.headers[name];
    if (typeof value !== 'string' || value.length < SHORTEST_REFLECTED_VALUE || settings.vary.includes(name)) continue;
    if (reflects(captured, value)) return `reflects:${name}`;
  }
  return undefined;
}
