/**
 * The small logging contract the shop writes to, a console implementation for
 * the server, and a silent one for tests.
 */

/** Where the shop reports startup steps and failures. */
export interface Logger {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** A logger printing one human-readable line per event, prefixed with `[shop]`. */
export function consoleLogger(): Logger {
  const line = (message: string, data?: Record<string, unknown>): string =>
    data === undefined ? `[shop] ${message}` : `[shop] ${message} ${JSON.stringify(data)}`;
  return {
    info: (message, data) => console.log(line(message, data)),
    warn: (message, data) => console.warn(line(message, data)),
    error: (message, data) => console.error(line(message, data)),
  };
}

/** A logger that drops everything (the default for `createApp`). */
export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
