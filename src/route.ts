/**
 * `cache.route`: the middleware for GET routes. A request goes
 * lookup → hit (replay) | stale (replay, refresh in the background) |
 * miss (one fill per entry: in this process by coalescing, across processes
 * by a short Redis lock) | bypass (the handler answers as if there were no
 * cache). It never fails a request because of the store. A GET's lookup
 * also takes the fill lock on a miss, in the same round trip; the entry's
 * tags are decided once the response is known.
 */
import type { IncomingHttpHeaders, RequestListener } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { compressForStorage, shouldCompress } from './compression';
import { encodeResponse, isResponse } from './entry-codec';
import type { Engine, Found } from './engine';
import { createRefresher, produceAlone, runMiss, runRefresh, type FillContext, type Produced } from './fill-runner';
import { peerOf, type AppClient } from './internal-request';
import { checkTagList, parseRouteOptions, resolveFromRequest } from './options';
import { replay } from './replay';
import { entryKey, requestBypassReason } from './request-key';
import { captureResponse } from './response-capture';
import { whyNotStored } from './storable';
import type { BypassReason, NotStoredReason, RouteOptions } from './types';

/** Marks the internal request that refreshes a stale entry; its value is `<cache secret>.<lock token>`. */
export const REFRESH_HEADER = 'x-express-cache-aside-refresh';

/** What a refresh request saw before its fill: nothing (it gets its ticket when it is ready to write). */
const NOTHING_SEEN: Found = { state: 'miss', ticket: null, seq: 0, locked: false, prepared: undefined };

/** The handler's answer is not stored; a refresh backs off. */
const NOT_STORED: Produced = { state: 'skip', backOff: true };

/** Request headers a background refresh does not repeat. */
const NOT_REPEATED = new Set([
  'connection',
  'content-length',
  'transfer-encoding',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'expect',
  'upgrade',
]);

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
  const startRefresh = createRefresher(engine);
  const label = settings.metricsLabel;
  const record = engine.decisions.recorder(label);

  const setHeader = (res: Response, value: string): void => {
    if (header && !res.headersSent) res.setHeader(header, value);
  };

  const passThrough = (res: Response, next: NextFunction, namespace: string, reason: BypassReason): void => {
    record.bypass(namespace, reason);
    setHeader(res, 'BYPASS');
    next();
  };

  const tagsOption = settings.tags;
  /** The entry's tags once the response is known; undefined (logged) when the tags function throws or returns a bad value. */
  const tagsFor = (req: Request, res: Response, namespace: string, key: string): readonly string[] | undefined => {
    if (typeof tagsOption !== 'function') return tagsOption ?? [];
    try {
      const tags: unknown = tagsOption(req, res);
      checkTagList(tags, 'tags', { allowEmpty: true, perEntry: true, code: 'EOPTION_RESULT' });
      return tags;
    } catch (err) {
      logger.error(
        { namespace, key, err: String(err) },
        "express-cache-aside: the route's tags function failed; the answer is served, not stored",
      );
      return undefined;
    }
  };

  /** Runs the handler with the response captured (header MISS); resolves the entry to store, or why not. */
  const runHandler = async (
    req: Request,
    res: Response,
    next: NextFunction,
    namespace: string,
    key: string,
    cacheHeader = 'MISS',
  ): Promise<Produced> => {
    const inherited = res.getHeaders() as Record<string, unknown>;
    setHeader(res, cacheHeader);
    const done = captureResponse(res, settings.maxBodyBytes, inherited, header);
    next();
    const captured = await done;
    const why = whyNotStored(req, captured, settings);
    if (why !== undefined) {
      // storable.ts reports the reasons NotStoredReason lists.
      engine.decisions.notStored(namespace, key, why as NotStoredReason);
      return NOT_STORED;
    }
    // Once, now that the response is known (a slug route tags the id it found); never stored without them.
    const tags = tagsFor(req, res, namespace, key);
    if (tags === undefined) return NOT_STORED;
    const now = Date.now();
    const ttlMs = settings.ttlMs ?? engine.settings.ttlMs;
    const freshMs = engine.freshMs(ttlMs);
    const body = captured.body.length === 1 ? captured.body[0]! : Buffer.concat(captured.body, captured.bodyLength);
    const times = { storedAt: now, freshUntil: now + freshMs, staleUntil: now + freshMs + settings.staleTtlMs };
    const compress = engine.settings.compression !== undefined && shouldCompress(captured, body, engine.settings.compression);
    captured.headers.push('Content-Length', String(body.length));
    const payload = encodeResponse({ status: captured.status, headers: captured.headers, body }, times);
    // Waiters in this process get the plain entry at once; the store gets it gzipped, compressed off the request path.
    const stored = compress
      ? compressForStorage(captured.headers, body).then((gz) =>
          gz ? encodeResponse({ status: captured.status, headers: gz.headers, body: gz.body }, times, true) : payload,
        )
      : undefined;
    return { state: 'entry', payload, stored, ttlMs: freshMs + settings.staleTtlMs, tags };
  };

  /** The fill context of one request: the runner drives the fill, the route only runs the handler and replays. */
  const fillContext = (namespace: string, key: string, seen: Found, produce: FillContext['produce']): FillContext => ({
    namespace,
    key,
    seen: { ticket: seen.ticket, seq: seen.seq },
    prepared: seen.state === 'miss' ? seen.prepared : undefined,
    label,
    kind: 'response',
    accepts: isResponse,
    produce,
  });

  /** Fills an entry whose lookup missed; waiters get the entry only if it was storable, else they run the handler themselves. */
  const miss = (req: Request, res: Response, next: NextFunction, namespace: string, key: string, seen: Found): void => {
    if (req.method === 'HEAD') {
      // A HEAD answer has no body to store; the handler answers it.
      record.miss(namespace, key);
      setHeader(res, 'MISS');
      next();
      return;
    }
    const ctx = fillContext(namespace, key, seen, (bypass) => {
      if (bypass) record.bypass(namespace, bypass);
      else record.miss(namespace, key);
      // A failed fill is logged and shares nothing: followers then run the handler themselves.
      return runHandler(req, res, next, namespace, key, bypass ? 'BYPASS' : 'MISS').catch((err: unknown) => {
        logger.error({ namespace, key, err }, 'express-cache-aside: fill failed');
        return NOT_STORED;
      });
    });
    runMiss(engine, ctx)
      .then((outcome) => {
        switch (outcome.state) {
          case 'shared':
            record.hit(namespace, key);
            replay(req, res, outcome.payload, 'HIT', header);
            return;
          case 'alone':
            void produceAlone(engine, ctx);
            return;

          case 'produced':
            return;
        }
      })
      .catch(next);
  };

  /** Refreshes a stale entry in the background: one refresh per entry across processes, through the app itself. */
  const refresh = (req: Request, namespace: string, key: string): void => {
    let app = req.app as (Request['app'] & { parent?: Request['app'] }) | undefined;
    if (!app) return;
    while (app.parent) app = app.parent;
    const top = app;
    const peer = peerOf(req);
    startRefresh(namespace, key, async (token) => {
      const headers: IncomingHttpHeaders = {};
      for (const [name, value] of Object.entries(req.headers)) if (!NOT_REPEATED.has(name)) headers[name] = value;
      headers[REFRESH_HEADER] = `${engine.secret}.${token}`;
      try {
        await context
          .appClient(top as unknown as RequestListener)
          .request(req.originalUrl, headers, engine.settings.lockTtlMs, 'GET', peer);
      } catch (err) {
        logger.warn({ namespace, key, err: String(err) }, 'express-cache-aside: background refresh failed');
        engine.hold(namespace, key, 'refresh', token, engine.settings.refreshBackoffMs);
      }
    });
  };

  /** The internal refresh request: runs the handler even though an entry exists, stores a good answer, backs off after a bad one. */
  const refill = (req: Request, res: Response, next: NextFunction, namespace: string, key: string, token: string): void => {
    const ctx = fillContext(namespace, key, NOTHING_SEEN, () => runHandler(req, res, next, namespace, key));
    runRefresh(engine, ctx, token)
      .then((outcome) => {
        if (outcome === 'store-down') passThrough(res, next, namespace, 'store');
      })
      .catch(next);
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
      passThrough(res, next, namespace, unsafe as BypassReason);
      return;
    }
    if (refreshToken !== undefined) {
      refill(req, res, next, namespace, key, refreshToken);
      return;
    }
    const hot = engine.peek(namespace, key);
    if (hot !== undefined && isResponse(hot)) {
      record.hit(namespace, key);
      replay(req, res, hot, 'HIT', header, true);
      return;
    }
    // A GET that misses fills the entry: its lookup takes the fill lock in the same round trip.
    engine
      .lookup(namespace, key, { fill: method === 'GET', label })
      .then((found) => {
        switch (found.state) {
          case 'hit':
            if (!isResponse(found.payload)) break;
            record.hit(namespace, key);
            replay(req, res, found.payload, 'HIT', header, engine.store.inProcess);
            return;
          case 'stale':
            if (!isResponse(found.payload)) break;
            record.stale(namespace, key);
            replay(req, res, found.payload, 'STALE', header, engine.store.inProcess);
            refresh(req, namespace, key);
            return;
          case 'bypass':
            passThrough(res, next, namespace, found.reason);
            return;
          case 'miss':
            break;
        }
        miss(req, res, next, namespace, key, found);
      })
      .catch(next);
  };
}
