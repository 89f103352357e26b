/**
 * Entry point of `npm start`: reads DATABASE_URL, REDIS_URL, PORT, LOG_LEVEL,
 * CACHE_PREFIX, CACHE_L1 (the in-process tier's options as JSON), INVALIDATION
 * (tags, the default, or namespaces), ADMIN_TOKEN (enables the /admin routes) and
 * SHOP_READ_DELAY_MS (a test-only pause after each read), starts the shop (embedded PGlite and in-memory cache when the
 * URLs are absent) logging pino JSON lines to stdout, and listens until
 * SIGINT or SIGTERM, then stops gracefully (requests in flight finish, then
 * the cache and the database close) and exits 0. GET /metrics serves the
 * cache's metrics and the process's default ones.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startShop } from './bootstrap';
import { defaultPort, invalidationFromEnv, l1FromEnv, readDelayFromEnv } from './config';
import { createServerLoggers } from './logger';

/** Longest a graceful stop waits for requests in flight before cutting their connections. */
const shutdownGraceMs = 10_000;

async function main(): Promise<void> {
  const loggers = createServerLoggers();
  const logger = loggers.shop;
  const port = Number(process.env.PORT || defaultPort);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const shop = await startShop({
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    prefix: process.env.CACHE_PREFIX || undefined,
    l1: l1FromEnv(process.env.CACHE_L1),
    readDelayMs: readDelayFromEnv(process.env.SHOP_READ_DELAY_MS),
    invalidation: invalidationFromEnv(process.env.INVALIDATION),
    adminToken: process.env.ADMIN_TOKEN || undefined,
    logger,
    cacheLogger: loggers.cache,
    registry,
  });
  const server = shop.app.listen(port, () => logger.info(`listening on http://localhost:${port}`));
  server.on('error', (error) => {
    logger.error('cannot listen', { port, message: error.message });
    void shop.close().finally(() => process.exit(1));
  });

  // Graceful stop: refuse new connections, let requests in flight finish (bounded by shutdownGraceMs), then close
  // the cache and the database, and exit 0. Idle keep-alive connections are closed at once so they cannot hold it open.
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: stopping, no new connections; finishing requests in flight`);
    const force = setTimeout(() => {
      logger.warn(`requests still in flight after ${shutdownGraceMs} ms: closing their connections`);
      server.closeAllConnections();
    }, shutdownGraceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      logger.info('server closed; closing the cache and the database');
      shop.close().then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error('failed to close cleanly', { message: (error as Error).message });
          process.exit(1);
        },
      );
    });
    server.closeIdleConnections();
  };
  // While stopping, a keep-alive connection is closed as soon as its response is done, so it cannot hold the stop.
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (stopping && !res.headersSent) res.setHeader('Connection', 'close');
    res.on('close', () => {
      if (stopping) setImmediate(() => server.closeIdleConnections());
    });
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  // The loggers may be what failed (a bad LOG_LEVEL), so this one line goes to stderr directly.
  console.error(`[shop] failed to start: ${(error as Error).message ?? String(error)}`);
  process.exit(1);
});
