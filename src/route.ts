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
import type { Engine, Found, Lookup } from './engine';
import type { Recorder } from './decisions';
import { createRefresher, produceAlone, runMiss, runRefresh, type FillContext, type Produced } from './fill-runner';
import { peerOf, type AppClient } from './internal-request';
import { checkTagList, parseRouteOptions, resolveFromRequest, type RouteSettings } from './options';
import { replay } from './replay';
import { entryKey, requestBypassReason } from './request-key';
import { captureResponse, type CapturedResponse } from './response-capture';
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
  const route = new CachedRoute(context, parseRouteOptions(options));
  return function expressCacheAsideRoute(req: Request, res: Response, next: NextFunction): void {
    route.handle(req, res, next);
  };
}

/** The refresh token of the internal refresh request, taken off its headers; undefined for any other request. */
function takeRefreshToken(req: Request, secret: string): string | undefined {
  const marker = req.headers[REFRESH_HEADER];
  if (typeof marker !== 'string' || !marker.startsWith(`${secret}.`)) return undefined;
  delete req.headers[REFRESH_HEADER];
  return marker.slice(secret.length + 1);
}

/** One mounted route: what its requests share is built once, so a request allocates no closures of its own on a hit. */
class CachedRoute {
  private readonly engine: Engine;
  private readonly header: string | false;
  private readonly logger: Engine['settings']['logger'];
  private readonly startRefresh: ReturnType<typeof createRefresher>;
  private readonly label: string | undefined;
  private readonly record: Recorder;

  constructor(
    private readonly context: RouteContext,
    private readonly settings: RouteSettings,
  ) {
    this.engine = context.engine;
    this.header = this.engine.settings.header;
    this.logger = this.engine.settings.logger;
    this.startRefresh = createRefresher(this.engine);
    this.label = settings.metricsLabel;
    this.record = this.engine.decisions.recorder(this.label);
  }

  /** The middleware: bypass, refill, in-process hit, or a lookup whose answer decides. */
  handle(req: Request, res: Response, next: NextFunction): void {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      next();
      return;
    }
    const { engine, settings } = this;
    let namespace: string;
    let key: string;
    const refreshToken = takeRefreshToken(req, engine.secret);
    try {
      namespace = resolveFromRequest('namespace', settings.namespace, req);
      key = entryKey(req, settings, engine.settings.hosts);
    } catch (err) {
      next(err);
      return;
    }
    const unsafe = requestBypassReason(req, settings, engine.settings.hosts);
    if (unsafe !== undefined) {
      this.passThrough(res, next, namespace, unsafe as BypassReason);
      return;
    }
    if (refreshToken !== undefined) {
      this.refill(req, res, next, namespace, key, refreshToken);
      return;
    }
    const hot = engine.peek(namespace, key);
    if (hot !== undefined && isResponse(hot)) {
      this.record.hit(namespace, key);
      replay(req, res, hot, 'HIT', this.header, true);
      return;
    }
    // A GET that misses fills the entry: its lookup takes the fill lock in the same round trip.
    engine
      .lookup(namespace, key, { fill: method === 'GET', label: this.label })
      .then((found) => this.answer(req, res, next, namespace, key, found))
      .catch(next);
  }

  /** Answers from what the lookup found: replay a hit, replay a stale entry and refresh it, pass through, or fill. */
  private answer(req: Request, res: Response, next: NextFunction, namespace: string, key: string, found: Lookup): void {
    switch (found.state) {
      case 'hit':
        if (!isResponse(found.payload)) break;
        this.record.hit(namespace, key);
        replay(req, res, found.payload, 'HIT', this.header, this.engine.store.inProcess);
        return;
      case 'stale':
        if (!isResponse(found.payload)) break;
        this.record.stale(namespace, key);
        replay(req, res, found.payload, 'STALE', this.header, this.engine.store.inProcess);
        this.refresh(req, namespace, key);
        return;
      case 'bypass':
        this.passThrough(res, next, namespace, found.reason);
        return;
      case 'miss':
        break;
    }
    this.miss(req, res, next, namespace, key, found);
  }

  private setHeader(res: Response, value: string): void {
    if (this.header && !res.headersSent) res.setHeader(this.header, value);
  }

  private passThrough(res: Response, next: NextFunction, namespace: string, reason: BypassReason): void {
    this.record.bypass(namespace, reason);
    this.setHeader(res, 'BYPASS');
    next();
  }

  /** The entry's tags once the response is known; undefined (logged) when the tags function throws or returns a bad value. */
  private tagsFor(req: Request, res: Response, namespace: string, key: string): readonly string[] | undefined {
    const tagsOption = this.settings.tags;
    if (typeof tagsOption !== 'function') return tagsOption ?? [];
    try {
      const tags: unknown = tagsOption(req, res);
      checkTagList(tags, 'tags', { allowEmpty: true, perEntry: true, code: 'EOPTION_RESULT' });
      return tags;
    } catch (err) {
      this.logger.error(
        { namespace, key, err: String(err) },
        "express-cache-aside: the route's tags function failed; the answer is served, not stored",
      );
      return undefined;
    }
  }

  /** Runs the handler with the response captured (header MISS); resolves the entry to store, or why not. */
  private async runHandler(
    req: Request,
    res: Response,
    next: NextFunction,
    namespace: string,
    key: string,
    cacheHeader = 'MISS',
  ): Promise<Produced> {
    const inherited = res.getHeaders() as Record<string, unknown>;
    this.setHeader(res, cacheHeader);
    const done = captureResponse(res, this.settings.maxBodyBytes, inherited, this.header);
    next();
    const captured = await done;
    const why = whyNotStored(req, captured, this.settings);
    if (why !== undefined) {
      // storable.ts reports the reasons NotStoredReason lists.
      this.engine.decisions.notStored(namespace, key, why as NotStoredReason);
      return NOT_STORED;
    }
    // Once, now that the response is known (a slug route tags the id it found); never stored without them.
    const tags = this.tagsFor(req, res, namespace, key);
    if (tags === undefined) return NOT_STORED;
    return this.entryOf(captured, tags);
  }

  /** The entry to store for a captured answer: plain for waiters now, gzipped for the store when it compresses. */
  private entryOf(captured: CapturedResponse, tags: readonly string[]): Produced {
    const { engine, settings } = this;
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
  }

  /** The fill context of one request: the runner drives the fill, the route only runs the handler and replays. */
  private fillContext(namespace: string, key: string, seen: Found, produce: FillContext['produce']): FillContext {
    return {
      namespace,
      key,
      seen: { ticket: seen.ticket, seq: seen.seq },
      prepared: seen.state === 'miss' ? seen.prepared : undefined,
      label: this.label,
      kind: 'response',
      accepts: isResponse,
      produce,
    };
  }

  /** Fills an entry whose lookup missed; waiters get the entry only if it was storable, else they run the handler themselves. */
  private miss(req: Request, res: Response, next: NextFunction, namespace: string, key: string, seen: Found): void {
    const { engine, record } = this;
    if (req.method === 'HEAD') {
      // A HEAD answer has no body to store; the handler answers it.
      record.miss(namespace, key);
      this.setHeader(res, 'MISS');
      next();
      return;
    }
    const ctx = this.fillContext(namespace, key, seen, (bypass) => {
      if (bypass) record.bypass(namespace, bypass);
      else record.miss(namespace, key);
      // A failed fill is logged and shares nothing: followers then run the handler themselves.
      return this.runHandler(req, res, next, namespace, key, bypass ? 'BYPASS' : 'MISS').catch((err: unknown) => {
        this.logger.error({ namespace, key, err }, 'express-cache-aside: fill failed');
        return NOT_STORED;
      });
    });
    runMiss(engine, ctx)
      .then((outcome) => {
        switch (outcome.state) {
          case 'shared':
            record.hit(namespace, key);
            replay(req, res, outcome.payload, 'HIT', this.header);
            return;
          case 'alone':
            void produceAlone(engine, ctx);
            return;

          case 'produced':
            return;
        }
      })
      .catch(next);
  }

  /** Refreshes a stale entry in the background: one refresh per entry across processes, through the app itself. */
  private refresh(req: Request, namespace: string, key: string): void {
    const { engine, context, logger } = this;
    let app = req.app as (Request['app'] & { parent?: Request['app'] }) | undefined;
    if (!app) return;
    while (app.parent) app = app.parent;
    const top = app;
    const peer = peerOf(req);
    this.startRefresh(namespace, key, async (token) => {
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
  }

  /** The internal refresh request: runs the handler even though an entry exists, stores a good answer, backs off after a bad one. */
  private refill(req: Request, res: Response, next: NextFunction, namespace: string, key: string, token: string): void {
    const ctx = this.fillContext(namespace, key, NOTHING_SEEN, () => this.runHandler(req, res, next, namespace, key));
    runRefresh(this.engine, ctx, token)
      .then((outcome) => {
        if (outcome === 'store-down') this.passThrough(res, next, namespace, 'store');
      })
      .catch(next);
  }
}
