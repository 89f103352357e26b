/**
 * Entry point of `npm start`: reads DATABASE_URL, REDIS_URL and PORT, starts
 * the shop (embedded PGlite and in-memory cache when the URLs are absent) and
 * listens until SIGINT or SIGTERM.
 */
import { startShop } from './bootstrap';
import { defaultPort } from './config';
import { consoleLogger } from './logger';

async function main(): Promise<void> {
  const logger = consoleLogger();
  const port = Number(process.env.PORT || defaultPort);
  const shop = await startShop({
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    logger,
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
  console.error(`[shop] failed to start: ${(error as Error).message ?? String(error)}`);
  process.exit(1);
});
