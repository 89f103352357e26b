/**
 * `cache.warmup`: requests each target path through the app itself (over
 * the private socket of internal-request.ts, so no port is opened), a few at
 * a time, and reports each one. A target's failure is reported, never
 * thrown; the report is returned once the entries have been written.
 */
import type { IncomingHttpHeaders, RequestListener } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Engine } from './engine';
import type { AppClient, InternalResponse } from './internal-request';
import type { WarmupSettings } from './options';
import type { WarmupReport, WarmupResult, WarmupTarget } from './types';

/** How long one warmup request may take before it is reported as failed. */
export const WARMUP_REQUEST_TIMEOUT_MS = 30_000;
/** How long warmup waits for the store's connection before it starts. */
export const STORE_READY_TIMEOUT_MS = 5_000;

/** Header names lower-cased, so a target's 'Host' replaces the default 'host' instead of adding a second one. */
function lowerCased(headers: IncomingHttpHeaders | undefined): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  if (headers) for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

function describe(target: WarmupTarget): string {
  if (typeof target === 'string') return target;
  if (typeof target === 'function') return target.name ? `${target.name}()` : 'function';
  return target.path;
}

/** The result of a target the app answered: ok for a 2xx that used the store. */
function answeredResult(target: string, res: InternalResponse, header: string | undefined, ms: number): WarmupResult {
  const answered = res.status >= 200 && res.status < 300;
  const cache = header ? res.headers[header] : undefined;
  // A BYPASS answer came from the handler without the store: nothing was warmed, so it is not ok.
  const bypassed = cache === 'BYPASS';
  const ok = answered && !bypassed;
  const error = !answered ? `status ${res.status}` : bypassed ? 'answered BYPASS: the store was not used, nothing was stored' : undefined;
  return {
    target,
    ok,
    status: res.status,
    ms,
    ...(typeof cache === 'string' ? { cache } : {}),
    ...(error === undefined ? {} : { error }),
  };
}

/** Warms targets through an app (arguments parsed by parseWarmupArguments); see the Cache interface. */
export async function warmup(
  engine: Engine,
  client: (app: RequestListener) => AppClient,
  app: RequestListener,
  targets: WarmupTarget[],
  { concurrency, host, headers }: WarmupSettings,
): Promise<WarmupReport> {
  // Entries are per host: warm the one real requests carry. A target's own headers (a Host among them) win.
  const baseHeaders: IncomingHttpHeaders = { host: host ?? engine.settings.hosts?.[0] ?? 'localhost', ...lowerCased(headers) };
  const logger = engine.settings.logger;
  // Warmup usually runs right after the client was created: give the connection a moment first.
  if (!(await engine.store.whenReady(STORE_READY_TIMEOUT_MS))) {
    logger.warn({ store: engine.store.kind }, 'express-cache-aside: store not ready; warming anyway (entries may not be stored)');
  }
  const header = engine.settings.header ? engine.settings.header.toLowerCase() : undefined;

  const warmOne = async (target: WarmupTarget): Promise<WarmupResult> => {
    const name = describe(target);
    const started = performance.now();
    const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
    try {
      if (typeof target === 'function') {
        await target();
        return { target: name, ok: true, ms: elapsed() };
      }
      const path = typeof target === 'string' ? target : target.path;
      const headers = typeof target === 'string' ? baseHeaders : { ...baseHeaders, ...lowerCased(target.headers) };
      const res = await client(app).request(path, headers, WARMUP_REQUEST_TIMEOUT_MS);
      return answeredResult(name, res, header, elapsed());
    } catch (err) {
      return { target: name, ok: false, ms: elapsed(), error: err instanceof Error ? err.message : String(err) };
    }
  };

  const results: WarmupResult[] = new Array(targets.length);
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < targets.length) {
      const index = nextIndex++;
      const result = await warmOne(targets[index]!);
      results[index] = result;
      logger.info(result, `express-cache-aside: warmup ${result.ok ? 'ok' : 'failed'} ${result.target}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  await engine.idle();
  const ok = results.filter((r) => r.ok).length;
  const report = { ok, failed: results.length - ok, results };
  logger.info({ ok: report.ok, failed: report.failed }, 'express-cache-aside: warmup done');
  return report;
}
