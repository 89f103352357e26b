/**
 * Runs the Redis-facing tests on the other ioredis major: when IOREDIS_ALIAS
 * names an installed alias package (`ioredis5`, an `npm:ioredis@^5` devDependency),
 * every `require('ioredis')` and `require('ioredis/...')` in this process
 * resolves to that package instead. Without the variable it does nothing.
 * Loaded from .mocharc.cjs, after tsx, for every run.
 */
import Module from 'node:module';

const alias = process.env.IOREDIS_ALIAS;

if (alias !== undefined && alias !== '') {
  if (!/^ioredis[\w-]*$/.test(alias)) throw new TypeError(`IOREDIS_ALIAS must name an ioredis alias package, got ${JSON.stringify(alias)}`);
  // Module._resolveFilename is not in @types/node; it is the one hook every require() passes through.
  const internals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = internals._resolveFilename;
  internals._resolveFilename = function resolveIoredisAlias(request: string, ...rest: unknown[]): string {
    const mapped = request === 'ioredis' || request.startsWith('ioredis/') ? alias + request.slice('ioredis'.length) : request;
    return resolve.call(this, mapped, ...rest);
  };
}
