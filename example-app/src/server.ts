/**
 * Entry point of `npm start`: reads DATABASE_URL, REDIS_URL, PORT, LOG_LEVEL,
 * CACHE_PREFIX, CACHE_L1 (the in-process tier's options as JSON), INVALIDATION
 * (tags, the default, or namespaces), ADMIN_TOKEN (enables the /admin routes) and
 * SHOP_READ_DELAY_MS (a test-only pause after each read), starts the shop (embedded PGlite and in-memory cache when the
 * URLs are absent) logging pino JSON lines to stdout, and listens until
 * SIGINT or SIGTERM. GET /metrics serves the cache's metrics and the
 * process's default ones.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startShop } from './bootstrap';
import { defaultPort, invalidationFromEnv, l1FromEnv, readDelayFromEnv } from './config';
import { createServerLoggers } from './logger';

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

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: closing`);
    server.close(() => {
      void shop.close().finally(() => process.exit(0));
    });
    server.closeAllConnections();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  // The loggers may be what failed (a bad LOG_LEVEL), so this one line goes to stderr directly.
  console.error(`[shop] failed to start: ${(error as Error).message ?? String(error)}`);
  process.exit(1);
});
