/**
 * 405 Method Not Allowed for a known path asked with a method nobody mounted
 * on it (PATCH /courses/1, POST /courses/count), with an `Allow` header, instead
 * of a 404 that says the path does not exist. Mounted first in a router, it
 * reads the router's own routes at request time, so it never goes out of date.
 */
import type { RequestHandler, Router } from 'express';

/** What the guard reads of Express 5's router internals (router@2: `stack` of layers, each maybe with a `route`). */
interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean> };
  match(path: string): unknown;
}

/** Methods mounted on the first route pattern that matches `path`, or undefined when no route matches it. */
function allowedMethods(router: Router, path: string): Set<string> | undefined {
  const layers = (router as unknown as { stack: RouteLayer[] }).stack.filter((layer) => layer.route !== undefined);
  let pattern: string | undefined;
  for (const layer of layers) {
    try {
      if (layer.match(path)) {
        pattern = layer.route?.path;
        break;
      }
    } catch {
      // A path that cannot be decoded matches nothing here; the route itself answers it (400).
      return undefined;
    }
  }
  if (pattern === undefined) return undefined;
  const methods = new Set<string>();
  for (const layer of layers) {
    if (layer.route?.path !== pattern) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') methods.add(method.toUpperCase());
  }
  if (methods.has('GET')) methods.add('HEAD');
  return methods;
}

/** Middleware answering 405 with `Allow` when the router knows the path but not the method. OPTIONS passes (Express answers it). */
export function methodGuard(router: Router): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'OPTIONS') return next();
    const allowed = allowedMethods(router, req.path);
    if (allowed === undefined || allowed.size === 0 || allowed.has(req.method)) return next();
    const allow = [...allowed].join(', ');
    const path = req.originalUrl.split('?')[0];
    res
      .status(405)
      .set('Allow', allow)
      .json({ error: `method ${req.method} not allowed on ${path}; allowed: ${allow}` });
  };
}
