/**
 * Periodic warmup, `cache.warmup(app, targets, { every })`: under fake
 * interval timers (timeouts and the clock stay real, so I/O works) the
 * warmup runs again on each tick with its report logged, a tick that comes
 * while a run is still going is skipped, the interval is unref'd, and after
 * close() ticking does nothing. A bad `every` or bad targets reject without
 * leaving an interval behind.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import sinon from 'sinon';
import { captureLogger, deferred, storeKinds, useFactory, waitFor, type AppHandle } from '../helpers/app-factory';

const run = promisify(execFile);
const root = join(__dirname, '..', '..');
const HOUR_MS = 60 * 60 * 1000;
const P = 'express-cache-aside: ';

type Entries = ReturnType<typeof captureLogger>['entries'];

/** The warmup summaries logged so far ('warmup done' lines, one per run). */
function summaries(entries: Entries): Array<{ ok: number; failed: number }> {
  return entries.filter((e) => e.msg === `${P}warmup done`).map((e) => e.obj as { ok: number; failed: number });
}

/** GET /w/:name cached in namespace 'warm', counting handler calls per name. */
function warmApp(h: AppHandle): Map<string, number> {
  const calls = new Map<string, number>();
  h.app.get('/w/:name', h.cache.route({ namespace: 'warm' }), (req, res) => {
    const name = String(req.params.name);
    calls.set(name, (calls.get(name) ?? 0) + 1);
    res.json({ name });
  });
  return calls;
}

for (const storeKind of storeKinds) {
  describe(`periodic warmup (${storeKind} store)`, function () {
    this.timeout(20_000);
    const f = useFactory(`periodic-warmup-${storeKind}`);
    let clock: sinon.SinonFakeTimers | undefined;

    afterEach(function () {
      // The default sandbox undoes fakes in reverse: the spies on the fake setInterval first, then the clock.
      sinon.restore();
      clock = undefined;
    });

    /** Fakes only the interval functions, so the store's timeouts and the HTTP I/O run for real. */
    function fakeIntervals(): sinon.SinonFakeTimers {
      clock = sinon.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      return clock;
    }

    it('runs again on each tick of `every`, each run logged with its report; stops on close()', async function () {
      const { logger, entries } = captureLogger();
      const h = await f.setup(storeKind, { logger });
      const calls = warmApp(h);
      let dataRuns = 0;
      const loadData = async (): Promise<void> => {
        dataRuns += 1;
      };
      const ticks = fakeIntervals();
      const setIntervalSpy = sinon.spy(globalThis, 'setInterval');

      const first = await h.cache.warmup(h.app, ['/w/a', loadData], { every: '1h' });
      expect(first).to.include({ ok: 2, failed: 0 });
      expect(first.results[0]).to.include({ target: '/w/a', cache: 'MISS' });
      expect({ a: calls.get('a'), dataRuns }).to.deep.equal({ a: 1, dataRuns: 1 });
      expect(setIntervalSpy.callCount, 'one interval').to.equal(1);
      expect(setIntervalSpy.firstCall.args[1]).to.equal(HOUR_MS);
      const timer = setIntervalSpy.firstCall.returnValue as unknown as NodeJS.Timeout;
      expect(timer.hasRef(), 'the interval keeps the process alive').to.equal(false);
      expect(ticks.countTimers()).to.equal(1);

      // Nothing before the hour is up.
      ticks.tick(HOUR_MS - 1);
      expect(dataRuns).to.equal(1);

      // Second run: the namespace was cleared meanwhile, so the path target refills it.
      await h.cache.invalidateNamespaces(['warm']);
      ticks.tick(1);
      await waitFor('the second run', () => summaries(entries).length === 2, 10_000);
      expect({ a: calls.get('a'), dataRuns }).to.deep.equal({ a: 2, dataRuns: 2 });
      expect(summaries(entries)[1]).to.deep.equal({ ok: 2, failed: 0 });
      const secondRun = entries.filter((e) => e.msg === `${P}warmup ok /w/a`).map((e) => e.obj as { cache?: string });
      expect(
        secondRun.map((r) => r.cache),
        'per-target lines of both runs',
      ).to.deep.equal(['MISS', 'MISS']);

      // Third run: the entry is still fresh, so the path target is a HIT and the handler is not called.
      ticks.tick(HOUR_MS);
      await waitFor('the third run', () => summaries(entries).length === 3, 10_000);
      expect({ a: calls.get('a'), dataRuns }).to.deep.equal({ a: 2, dataRuns: 3 });
      expect(entries.filter((e) => e.msg === `${P}warmup ok /w/a`).map((e) => (e.obj as { cache?: string }).cache)).to.deep.equal([
        'MISS',
        'MISS',
        'HIT',
      ]);
      expect(
        entries.filter((e) => e.level === 'warn' || e.level === 'error'),
        'warnings or errors',
      ).to.deep.equal([]);

      const clearIntervalSpy = sinon.spy(globalThis, 'clearInterval');
      await h.cache.close();
      expect(clearIntervalSpy.calledWith(timer), 'close() clears the interval').to.equal(true);
      expect(ticks.countTimers(), 'timers left after close()').to.equal(0);
      const logged = entries.length;
      ticks.tick(5 * HOUR_MS);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(dataRuns, 'runs after close()').to.equal(3);
      expect(entries.length, 'lines logged after close()').to.equal(logged);
    });

    it('skips a tick while the previous run is still going (a slow target)', async function () {
      const { logger, entries } = captureLogger();
      const h = await f.setup(storeKind, { logger });
      warmApp(h);
      const releases: Array<() => void> = [];
      let started = 0;
      const slowTarget = async function slowTarget(): Promise<void> {
        started += 1;
        const gate = deferred();
        releases.push(() => gate.resolve());
        await gate.promise;
      };
      const ticks = fakeIntervals();
      const skipped = (): number => entries.filter((e) => e.msg?.includes('periodic warmup skipped')).length;

      const first = h.cache.warmup(h.app, ['/w/a', slowTarget], { every: '10m' });
      await waitFor('the first run to reach the slow target', () => started === 1, 10_000);
      ticks.tick(10 * 60 * 1000);
      ticks.tick(10 * 60 * 1000);
      expect(started, 'runs started while the first is going').to.equal(1);
      expect(skipped()).to.equal(2);

      releases[0]!();
      expect(await first).to.include({ ok: 2, failed: 0 });

      // The next tick runs; a tick during that (slow) run is skipped too.
      ticks.tick(10 * 60 * 1000);
      await waitFor('the second run to reach the slow target', () => started === 2, 10_000);
      ticks.tick(10 * 60 * 1000);
      expect(started).to.equal(2);
      expect(skipped()).to.equal(3);
      releases[1]!();
      await waitFor('the second run to finish', () => summaries(entries).length === 2, 10_000);

      ticks.tick(10 * 60 * 1000);
      await waitFor('the third run', () => started === 3, 10_000);
      releases[2]!();
      await waitFor('the third run to finish', () => summaries(entries).length === 3, 10_000);
      expect(skipped(), 'skips').to.equal(3);
    });

    it('a periodic run whose targets fail logs the failures and keeps its schedule', async function () {
      const { logger, entries } = captureLogger();
      const h = await f.setup(storeKind, { logger });
      let fail = false;
      h.app.get('/flaky', h.cache.route({ namespace: 'flaky' }), (_req, res) => {
        res.status(fail ? 503 : 200).json({ fail });
      });
      const ticks = fakeIntervals();
      expect(await h.cache.warmup(h.app, ['/flaky'], { every: 60 })).to.include({ ok: 1, failed: 0 });
      fail = true;
      await h.cache.invalidateNamespaces(['flaky']);
      ticks.tick(60_000);
      await waitFor('the failing run', () => summaries(entries).length === 2, 10_000);
      expect(summaries(entries)[1]).to.deep.equal({ ok: 0, failed: 1 });
      expect(entries.some((e) => e.msg === `${P}warmup failed /flaky` && (e.obj as { status?: number }).status === 503)).to.equal(true);
      fail = false;
      ticks.tick(60_000);
      await waitFor('the run after', () => summaries(entries).length === 3, 10_000);
      expect(summaries(entries)[2]).to.deep.equal({ ok: 1, failed: 0 });
    });

    it('a bad `every` rejects with a TypeError naming it, before any warmup request and without an interval', async function () {
      const { logger } = captureLogger();
      const h = await f.setup(storeKind, { logger });
      const calls = warmApp(h);
      const ticks = fakeIntervals();
      for (const every of ['soon', 0, -5]) {
        const outcome = await Promise.resolve()
          .then(() => h.cache.warmup(h.app, ['/w/a'], { every }))
          .then(
            () => 'resolved',
            (err: unknown) => err,
          );
        expect(outcome, `every: ${JSON.stringify(every)}`)
          .to.be.instanceOf(TypeError)
          .with.property('message')
          .that.matches(/"every"/);
      }
      // Let any run a rejected call might have started get as far as the handler.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(calls.get('a') ?? 0, 'warmup requests sent by rejected calls').to.equal(0);
      expect(ticks.countTimers(), 'intervals left behind').to.equal(0);
    });
  });
}

describe('periodic warmup with bad arguments', function () {
  this.timeout(20_000);

  it('bad targets with `every` reject with a TypeError, without an unhandled rejection or an interval left behind', async function () {
    // In a child process: an unhandled rejection here would trip the root hook and stop the whole run, not just this test.
    const script = `
      const unhandled = [];
      process.on('unhandledRejection', (reason) => unhandled.push(String(reason)));
      const created = new Set();
      const realSetInterval = globalThis.setInterval;
      const realClearInterval = globalThis.clearInterval;
      globalThis.setInterval = (...args) => { const timer = realSetInterval(...args); created.add(timer); return timer; };
      globalThis.clearInterval = (timer) => { created.delete(timer); return realClearInterval(timer); };
      const express = require('express');
      const { createCache } = require('./src/index.ts');
      (async () => {
        const cache = createCache({ logger: { debug() {}, info() {}, warn() {}, error() {} } });
        const app = express();
        let outcome = 'resolved';
        try { await cache.warmup(app, ['no-slash'], { every: '1h' }); } catch (err) { outcome = [err instanceof TypeError, err.constructor.name, err.option, err.code].join(' '); }
        await new Promise((resolve) => setTimeout(resolve, 100));
        const left = created.size;
        await cache.close();
        console.log(JSON.stringify({ outcome, unhandled, intervalsLeft: left }));
      })().catch((err) => { console.error(err); process.exit(1); });
    `;
    const { stdout } = await run(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: root, timeout: 15_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { outcome: string; unhandled: string[]; intervalsLeft: number };
    expect(result.outcome).to.equal('true CacheOptionError targets[0] EOPTION_INVALID');
    expect(result.unhandled, 'unhandled rejections').to.deep.equal([]);
    expect(result.intervalsLeft, 'intervals left behind after the rejection').to.equal(0);
  });
});
