/**
 * The small logging contract the shop writes to, its pino implementation for
 * the server (JSON lines, level from LOG_LEVEL), a silent one for tests, and
 * the bridge that lets the cache log through a shop logger.
 */
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Logger as CacheLogger } from 'express-cache-aside';

/** Where the shop reports startup steps and failures. */
export interface Logger {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** What the server logs through: the root pino logger, the shop's view of it, and the cache's. */
export interface ServerLoggers {
  pino: PinoLogger;
  shop: Logger;
  /** A pino child (`component: 'cache'`): cache decisions at debug, warmup reports at info, store trouble at warn. */
  cache: CacheLogger;
}

/**
 * The server's loggers, writing pino JSON lines to stdout (or `destination`)
 * at `level`, by default LOG_LEVEL or 'info'. LOG_LEVEL=debug adds one line
 * per cache decision; LOG_LEVEL=silent turns everything off.
 */
export function createServerLoggers({
  level = process.env.LOG_LEVEL || 'info',
  destination,
}: {
  level?: string;
  destination?: DestinationStream;
} = {}): ServerLoggers {
  const options = { level, base: { app: 'shop', pid: process.pid } };
  const root = destination ? pino(options, destination) : pino(options);
  return { pino: root, shop: shopLoggerFrom(root), cache: root.child({ component: 'cache' }) };
}

/** The shop's message-first contract over pino (whose calls take the data first). */
export function shopLoggerFrom(root: PinoLogger): Logger {
  return {
    info: (message, data) => root.info(data ?? {}, message),
    warn: (message, data) => root.warn(data ?? {}, message),
    error: (message, data) => root.error(data ?? {}, message),
  };
}

/**
 * The cache's logger over a shop logger, for when no pino logger is at
 * hand (tests): info and above pass through; the per-request debug lines
 * are dropped, and `isLevelEnabled` tells the cache so it skips building them.
 */
export function cacheLoggerFrom(logger: Logger): CacheLogger & { isLevelEnabled(level: string): boolean } {
  const data = (obj: unknown): Record<string, unknown> =>
    typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>) : { value: obj };
  return {
    isLevelEnabled: (level) => level !== 'debug' && level !== 'trace',
    debug: () => undefined,
    info: (obj, msg) => logger.info(msg ?? '', data(obj)),
    warn: (obj, msg) => logger.warn(msg ?? '', data(obj)),
    error: (obj, msg) => logger.error(msg ?? '', data(obj)),
  };
}

/** A logger that drops everything (the default for `createApp`). */
export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
