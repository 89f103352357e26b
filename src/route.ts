/**
 * `cache.route`: the middleware for GET routes. A request goes
 * lookup → hit (replay) | stale (replay, refresh in the background) |
 * miss (one fill per entry: in this process by coalescing, across processes
 * by a short Redis lock) | bypass (the handler answers as if there were no
 * cache). It never fails a request because of the store.
 */
import type { IncomingHttpHeaders, RequestListener } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { compressForStorage, shouldCompress } from './compression';
import { encodeResponse, isResponse } from './entry-codec';
import type { Engine, FillTarget, Lookup } from './engine';
import { peerOf, type AppClient } from './internal-request';
import { parseRouteOptions, resolveFromRequest, type RouteSettings } from './options';
import { replay } from './replay';
import { entryKey, requestBypassReason } from './request-key';
import { captureResponse } from './response-capture';
import { whyNotStored } from './storable';
import type { RouteOptions } from './types';

/** Marks the internal request that refreshes a stale entry; its value is `<cache secret>.<lock token>`. */
export const REFRESH_HEADER = 'x-express-cache-aside-refresh';

/** Request headers a background refresh does not repeat. */
const NOT_REPEATED = new Set(['connection', 'content-length', 'transfer-encoding', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range', 'expect', 'upgrade']);

/** A response being stored. */
interface Filled {
  payload: Buffer;
  written: Promise<boolean>;
}

/** What a route needs from its cache besides the engine. */
export interface RouteContext {
  engine: Engine;
  /** The private client for an app, for background refreshes. */
  appClient(app: RequestListener): AppClient;
}

/** Builds the route middleware; options are validated here, at mount time. */
export function createRoute(context: RouteContext, options: RouteOptions): RequestHandler {
  const settings = parseRouteOptions(options);
  const { engine } = context;
  const header = engine.settings.header;
  const logger = engine.settings.logger;
  const refreshing = new Set<string>();

  const setHeader = (res: Response, value: string): void => {
    if (header && !res.headersSent) res.setHeader(header, value);
  };

  const passThrough = (res: Response, next: NextFunction, namespace: string, reason: string): void => {
    engine.record('bypasses', namespace, undefined, reason, settings.metricsLabel);
    setHeader(res, 'BYPASS');
    next();
  };

  /** Runs the handler with the response captured; resolves the storable payload (written under `fill` if given), or null. */
  const runHandler = async (req: Request, res: Response, next: NextFunction, namespace: string, key: string, fill: FillTarget | undefined): Promise<Filled | null> => {
    const inherited = res.getHeaders() as Record<string, unknown>;
    setHeader(res, 'MISS');
    const done = captureResponse(res, settings.maxBodyBytes, inherited, header);
    next();
    const captured = await done;
    const why = whyNotStored(req, captured, settings);
    if (why !== undefined) {
      engine.notStored(namespace, key, why);
      return null;
    }
    const now = Date.now();
    const ttlMs = settings.ttlMs ?? engine.settings.ttlMs;
    const freshMs = engine.freshMs(ttlMs);
    const body = captured.body.length === 1 ? captured.body[0]! : Buffer.concat(captured.body, captured.bodyLength);
    const times = { storedAt: now, freshUntil: now + freshMs, staleUntil: now + freshMs + settings.staleTtlMs };
    const compress = engine.settings.compression !== undefined && shouldCompress(captured, body, engine.settings.compression);
    captured.headers.push('Content-Length', String(body.length));
    const payload = encodeResponse({ status: captured.status, headers: captured.headers, body }, times);
    if (!fill) return { payload, written: Promise.resolve(false) };
    const ttl = freshMs + settings.staleTtlMs;
    // Waiters in this process get the plain entry at once; the store gets it gzipped, compressed off the request path.
    const written = compress
      ? compressForStorage(captured.headers, body).then(
        (gz) => engine.write(namespace, key, fill, gz ? encodeResponse({ status: captured.status, headers: gz.headers, body: gz.body }, times, true) : payload, ttl, settings.metricsLabel),
        () => engine.write(namespace, key, fill, payload, ttl, settings.metricsLabel),
      )
      : engine.write(namespace, key, fill, payload, ttl, settings.metricsLabel);
    return { payload, written };
  };

  /** The leader of a fill in this process: takes the cross-process lock, or waits for the process that holds it. */
  const lead = async (req: Request, res: Response, next: NextFunction, namespace: string, key: string, seen: Lookup): Promise<Buffer | null> => {
    const fill = await engine.prepareFill(namespace, key, true, seen.seq, settings.metricsLabel);
    if (fill?.landed && isResponse(fill.landed)) {
      engine.record('hits', namespace, key, undefined, settings.metricsLabel);
      replay(req, res, fill.landed, 'HIT', header);
      return fill.landed;
    }
    if (fill && fill.token === null) {
      const payload = await engine.waitForFill(namespace, key, settings.metricsLabel);
      if (payload !== null && isResponse(payload)) {
        engine.record('hits', namespace, key, undefined, settings.metricsLabel);
        replay(req, res, payload, 'HIT', header);
        return payload;
      }
    }
    engine.record('misses', namespace, key, undefined, settings.metricsLabel);
    let filled: Filled | null = null;
    try {
      filled = await runHandler(req, res, next, namespace, key, fill);
      return filled?.payload ?? null;
    } finally {
      // A stored answer's write releases the lock once the entry is in (so a waiter that sees the lock gone finds it);
      // an answer that is not stored releases it now, so waiters stop waiting.
      const token = fill?.token;
      if (token && !filled) engine.unlock(namespace, key, 'fill', token);
    }
  };

  /** Fills an entry whose lookup missed: once per entry in this process; waiters get the entry only if it was storable. */
  const miss = (req: Request, res: Response, next: NextFunction, namespace: string, key: string, seen: Lookup): void => {
    if (req.method === 'HEAD') {
      // A HEAD answer has no body to store; the handler answers it.
      engine.record('misses', namespace, key, undefined, settings.metricsLabel);
      setHeader(res, 'MISS');
      next();
      return;
    }
    const { leader, result } = engine.coalesce('response', namespace, key, () => lead(req, res, next, namespace, key, seen));
    if (leader) {
      result.catch((err: unknown) => logger.error({ namespace, key, err }, 'express-cache-aside: fill failed'));
      return;
    }
    // The leader's answer was not storable (a cookie, an error, ...) or it failed: never shared; this request runs the handler itself.
    const alone = (): void => {
      engine.record('misses', namespace, key, undefined, settings.metricsLabel);
      void runHandler(req, res, next, namespace, key, seen.generation ? { generation: seen.generation, seq: seen.seq, token: null } : undefined);
    };
    result.then(
      (payload) => {
        if (payload === null) return alone();
        engine.record('hits', namespace, key, undefined, settings.metricsLabel);
        replay(req, res, payload, 'HIT', header);
      },
      alone,
    ).catch(next);
  };

  /** Refreshes a stale entry in the background: one refresh per entry across processes, through the app itself. */
  const refresh = (req: Request, namespace: string, key: string): void => {
    const id = `${namespace}\0${key}`;
    if (refreshing.has(id)) return;
    let app = req.app as (Request['app'] & { parent?: Request['app'] }) | undefined;
    if (!app) return;
    while (app.parent) app = app.parent;
    refreshing.add(id);
    const top = app;
    const peer = peerOf(req);
    void (async () => {
      const token = await engine.lock(namespace, key, 'refresh');
      if (!token) return;
      const headers: IncomingHttpHeaders = {};
      for (const [name, value] of Object.entries(req.headers)) if (!NOT_REPEATED.has(name)) headers[name] = value;
      headers[REFRESH_HEADER] = `${engine.secret}.${token}`;
      try {
        await context.appClient(top as unknown as RequestListener).request(req.originalUrl, headers, engine.settings.lockTtlMs, 'GET', peer);
      } catch (err) {
        logger.warn({ namespace, key, err: String(err) }, 'express-cache-aside: background refresh failed');
        engine.hold(namespace, key, 'refresh', token, engine.settings.refreshBackoffMs);
      }
    })().finally(() => refreshing.delete(id));
  };

  /** The internal refresh request: runs the handler even though an entry exists, stores a good answer, backs off after a bad one. */
  const refill = (req: Request, res: Response, next: NextFunction, namespace: string, key: string, token: string): void => {
    engine.prepareFill(namespace, key, false, 0, settings.metricsLabel).then(async (fill) => {
      if (fill === undefined) {
        passThrough(res, next, namespace, 'store');
        return;
      }
      engine.stats.refreshes++;
      const filled = await runHandler(req, res, next, namespace, key, fill);
      if (filled) void filled.written.finally(() => engine.unlock(namespace, key, 'refresh', token));
      else engine.hold(namespace, key, 'refresh', token, engine.settings.refreshBackoffMs);
    }).catch(next);
  };

  return function expressCacheAsideRoute(req: Request, res: Response, next: NextFunction): void {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      next();
      return;
    }
    let namespace: string;
    let key: string;
    let refreshToken: string | undefined;
    const marker = req.headers[REFRESH_HEADER];
    if (typeof marker === 'string' && marker.startsWith(`${engine.secret}.`)) {
      delete req.headers[REFRESH_HEADER];
      refreshToken = marker.slice(engine.secret.length + 1);
    }
    try {
      namespace = resolveFromRequest('namespace', settings.namespace, req);
      key = entryKey(req, settings, engine.settings.hosts);
    } catch (err) {
      next(err);
      return;
    }
    const unsafe = requestBypassReason(req, settings, engine.settings.hosts);
    if (unsafe !== undefined) {
      passThrough(res, next, namespace, unsafe);
      return;
    }
    if (refreshToken !== undefined) {
      refill(req, res, next, namespace, key, refreshToken);
      return;
    }
    const hot = engine.peek(namespace, key);
    if (hot !== undefined && isResponse(hot)) {
      engine.record('hits', namespace, key, undefined, settings.metricsLabel);
      replay(req, res, hot, 'HIT', header, true);
      return;
    }
    engine.lookup(namespace, key, false, settings.metricsLabel).then((found) => {
      switch (found.state) {
        case 'hit':
          if (!isResponse(found.payload!)) break;
          engine.record('hits', namespace, key, undefined, settings.metricsLabel);
          replay(req, res, found.payload!, 'HIT', header, engine.store.inProcess);
          return;
        case 'stale':
          if (!isResponse(found.payload!)) break;
          engine.record('stale', namespace, key, undefined, settings.metricsLabel);
          replay(req, res, found.payload!, 'STALE', header, engine.store.inProcess);
          refresh(req, namespace, key);
          return;
        case 'bypass':
          passThrough(res, next, namespace, found.reason ?? 'store');
          return;
        case 'miss':
          break;
      }
      miss(req, res, next, namespace, key, found);
    }).catch(next);
  };
}

export type { RouteSettings };
