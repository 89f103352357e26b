/**
 * `warmup(app, targets, { every })`: the first run, then one run per
 * interval on an unref'd timer, never two at once (a run still going skips
 * the next, with an info line), stopped by close(). A first run that rejects
 * had bad arguments: then nothing is scheduled.
 */
import type { Logger, WarmupReport } from './types';

/** The intervals of one cache's periodic warmups. */
export class PeriodicWarmups {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly logger: Logger,
    private readonly closed: () => boolean,
  ) {}

  /** Runs `run` now and every `everyMs`; resolves the first run's report. */
  start(everyMs: number, run: () => Promise<WarmupReport>): Promise<WarmupReport> {
    const first = run();
    let busy = true;
    const timer = setInterval(() => {
      if (this.closed()) return;
      if (busy) {
        this.logger.info({}, 'express-cache-aside: periodic warmup skipped, the previous run is still going');
        return;
      }
      busy = true;
      run()
        .catch((err: unknown) => this.logger.error({ err: String(err) }, 'express-cache-aside: periodic warmup failed'))
        .finally(() => {
          busy = false;
        });
    }, everyMs);
    timer.unref();
    this.timers.add(timer);
    first.then(
      () => {
        busy = false;
      },
      () => this.stop(timer),
    );
    return first;
  }

  private stop(timer: NodeJS.Timeout): void {
    clearInterval(timer);
    this.timers.delete(timer);
  }

  /** Stops every interval. */
  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
  }
}
