/**
 * `cache.invalidate`: the middleware for mutating routes. When the handler
 * answers 2xx, the namespaces and tags are cleared (softly with `soft`)
 * before the first byte of the
 * response leaves (write/end are held until the clear finishes, at most
 * timeoutMs), so a client that has the mutation's answer never reads stale
 * data. A failed mutation clears nothing; a clear the store could not take
 * is retried in the background by the engine.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Engine } from './engine';
import { checkNamespaceList, checkTagList, type InvalidateSettings, parseInvalidateOptions } from './options';
import type { InvalidateOptions } from './types';

/** What this request clears: each option as given, or its function's result (checked like a static list, but may be empty). */
async function targetsFor(settings: InvalidateSettings, req: Request): Promise<{ namespaces: string[]; tags: string[] }> {
  const { namespaces: n, tags: t } = settings;
  const [namespaces, tags] = await Promise.all([
    typeof n === 'function' ? n(req) : (n ?? []),
    typeof t === 'function' ? t(req) : (t ?? []),
  ]);
  checkNamespaceList(namespaces, 'namespaces');
  checkTagList(tags, 'tags', { allowEmpty: true, perEntry: false, code: 'EOPTION_RESULT' });
  return { namespaces, tags };
}

/** Clears what the request names; never rejects (a failure to work out the targets is counted and logged). */
function clearFor(engine: Engine, settings: InvalidateSettings, req: Request): Promise<void> {
  const logger = engine.settings.logger;
  return targetsFor(settings, req)
    .then(({ namespaces, tags }) =>
      engine.clears.clear(namespaces, { tags, soft: settings.soft }).then((cleared) => {
        logger.debug({ namespaces: namespaces.length, tags: tags.length, cleared }, 'express-cache-aside: invalidated');
      }),
    )
    .catch((err: unknown) => {
      engine.decisions.error(undefined, undefined);
      logger.error({ err: String(err) }, 'express-cache-aside: invalidate could not work out what to clear');
    });
}

/** Builds the invalidate middleware; options are validated here, at mount time. */
export function createInvalidate(engine: Engine, options: InvalidateOptions): RequestHandler {
  const settings = parseInvalidateOptions(options);

  return function expressCacheAsideInvalidate(req: Request, res: Response, next: NextFunction): void {
    const originalWrite = res.write;
    const originalEnd = res.end;
    const originalFlushHeaders = res.flushHeaders;
    let state: 'waiting' | 'clearing' | 'done' = 'waiting';
    const held: Array<() => void> = [];

    const restore = (): void => {
      res.write = originalWrite;
      res.end = originalEnd;
      res.flushHeaders = originalFlushHeaders;
    };

    /** True while calls must be held back until the clear is over. */
    const holding = (): boolean => {
      if (state === 'done') return false;
      if (state === 'clearing') return true;
      if (res.statusCode < 200 || res.statusCode > 299) {
        state = 'done';
        restore();
        return false;
      }
      state = 'clearing';
      clearFor(engine, settings, req).finally(() => {
        state = 'done';
        restore();
        for (const call of held.splice(0, held.length)) call();
      });
      return true;
    };

    res.write = function write(this: Response, ...args: unknown[]): boolean {
      if (holding()) {
        held.push(() => (originalWrite as (...a: unknown[]) => boolean).apply(res, args));
        return true;
      }
      return (originalWrite as (...a: unknown[]) => boolean).apply(this, args);
    } as Response['write'];

    res.end = function end(this: Response, ...args: unknown[]): Response {
      if (holding()) {
        held.push(() => (originalEnd as (...a: unknown[]) => Response).apply(res, args));
        return this;
      }
      return (originalEnd as (...a: unknown[]) => Response).apply(this, args);
    } as Response['end'];

    res.flushHeaders = function flushHeaders(this: Response): void {
      if (holding()) {
        held.push(() => originalFlushHeaders.apply(res));
        return;
      }
      originalFlushHeaders.apply(this);
    };

    next();
  };
}
