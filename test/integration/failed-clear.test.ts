/**
 * A failed clear is not forgotten. Against a redis-server this file starts
 * and faults itself: when the store cannot take a mutation's clear, the
 * mutation still answers within timeoutMs, the failure is counted and
 * logged, this process serves the namespace uncached (never the old entry),
 * and the clear is retried in the background until it lands, after which
 * the namespace is cached again with fresh data. Two faults: the server
 * paused (SIGSTOP) during the mutation, and the server answering but
 * refusing SET to the cache's user (ACL), so the old entry stays readable
 * in Redis and only the retry can retire it.
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { eventuallyHit, sleep, useFactory, waitFor, type AppHandle } from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';
import { keyLayout } from '../helpers/key-layout';
import { readyClient } from '../helpers/redis-server';

const TIMEOUT_MS = 100;
/** "In time" on a shared 2-core machine: timeoutMs plus a generous margin. */
const BOUND_MS = TIMEOUT_MS + 400;

/** A logger that keeps what the cache logs at warn and error. */
function capturingLogger(): {
  lines: Array<{ level: string; msg: string }>;
  logger: { debug(): void; info(): void; warn(o: unknown, m?: string): void; error(o: unknown, m?: string): void };
} {
  const lines: Array<{ level: string; msg: string }> = [];
  return {
    lines,
    logger: {
      debug() {},
      info() {},
      warn: (_o: unknown, msg?: string) => lines.push({ level: 'warn', msg: msg ?? '' }),
      error: (_o: unknown, msg?: string) => lines.push({ level: 'error', msg: msg ?? '' }),
    },
  };
}

/** GET /item cached in 'items' (answers the current title and the handler's call count); GET /other cached in 'others'; PUT /item sets the title and clears 'items'. */
function mountShop(h: AppHandle): { title: string; calls: number } {
  const state = { title: 'v1', calls: 0 };
  h.app.get('/item', h.cache.route({ namespace: 'items', key: 'one' }), (_req, res) => {
    state.calls += 1;
    res.json({ title: state.title, call: state.calls });
  });
  h.app.get('/other', h.cache.route({ namespace: 'others', key: 'one' }), (_req, res) => {
    res.json({ other: true });
  });
  h.app.put('/item', h.cache.invalidate({ namespaces: ['items'] }), (req, res) => {
    state.title = (req.body as { title: string }).title;
    res.json({ ok: true });
  });
  return state;
}

/** Fills a path until a GET is a HIT (a 100 ms timeout on a loaded machine may first BYPASS). */
async function fill(h: AppHandle, path: string): Promise<void> {
  await eventuallyHit(h, path, 5000);
}

describe('a failed clear is not forgotten', function () {
  this.timeout(30_000);
  const f = useFactory('failed-clear');
  const server = useRedisProcess();
  let admin: Redis;

  before(function () {
    admin = server.client();
  });

  const generationKey = (h: AppHandle, namespace: string): string => keyLayout(h.prefix).generation(namespace);

  it('Redis paused during a mutation: the response goes out in time, the failure is counted and logged, the clear is retried, and once Redis is back the next read is fresh', async function () {
    const log = capturingLogger();
    const h = await f.setupOn(await readyClient(server.port), { timeoutMs: TIMEOUT_MS, logger: log.logger });
    mountShop(h);
    await fill(h, '/item');
    const generationBefore = await admin.get(generationKey(h, 'items'));
    const errorsBefore = h.cache.stats().errors;

    server.pause();
    try {
      const start = Date.now();
      const put = await h.http().put('/item').send({ title: 'v2' });
      const putMs = Date.now() - start;
      expect(put.status).to.equal(200);
      expect(putMs, 'PUT while Redis is paused').to.be.below(BOUND_MS);
      expect(h.cache.stats().errors, 'the failed clear is counted').to.be.above(errorsBefore);
      expect(
        log.lines.filter((l) => l.level === 'error' && /clear/i.test(l.msg)),
        `logged: ${JSON.stringify(log.lines)}`,
      ).to.have.length.at.least(1);

      const during = await h.http().get('/item');
      expect(during.status).to.equal(200);
      expect(during.body.title, 'the handler answers, never the old entry').to.equal('v2');
      expect(during.headers['x-cache']).to.equal('BYPASS');
      await sleep(300); // let the background retries run into the paused server
    } finally {
      server.resume();
    }

    const next = await h.http().get('/item').expect(200);
    expect(next.body.title, `the first read after Redis is back (X-Cache ${String(next.headers['x-cache'])})`).to.equal('v2');
    // Caching resumes without another mutation: the retried clear went through.
    const hit = await eventuallyHit(h, '/item', 8000);
    expect(hit.body.title).to.equal('v2');
    expect(await admin.get(generationKey(h, 'items')), 'a new generation').to.not.equal(generationBefore);
  });

  it('Redis refusing the clear (SET denied by ACL) while reads work: the old entry is never served, other namespaces stay cached, and the retried clear lands once SET is allowed', async function () {
    await admin.call('ACL', 'SETUSER', 'app', 'reset', 'on', '>app-password', '~*', '&*', '+@all');
    const log = capturingLogger();
    const client = await readyClient(server.port, { username: 'app', password: 'app-password' });
    // breaker off: the refused SETs must not stop the reads this test watches.
    const h = await f.setupOn(client, { timeoutMs: TIMEOUT_MS, logger: log.logger, breaker: false });
    mountShop(h);
    await fill(h, '/item');
    await fill(h, '/other');
    const generationBefore = await admin.get(generationKey(h, 'items'));
    expect(generationBefore).to.be.a('string');

    await admin.call('ACL', 'SETUSER', 'app', '-set');
    try {
      const errorsBefore = h.cache.stats().errors;
      const start = Date.now();
      const put = await h.http().put('/item').send({ title: 'v2' });
      expect(put.status).to.equal(200);
      expect(Date.now() - start, 'PUT whose clear is refused').to.be.below(BOUND_MS);
      expect(h.cache.stats().errors, 'the failed clear is counted').to.be.above(errorsBefore);
      expect(
        log.lines.filter((l) => l.level === 'error' && /clear/i.test(l.msg)),
        `logged: ${JSON.stringify(log.lines)}`,
      ).to.have.length.at.least(1);
      expect(await admin.get(generationKey(h, 'items')), 'the clear really did not land').to.equal(generationBefore);

      for (let i = 0; i < 3; i += 1) {
        const res = await h.http().get('/item').expect(200);
        expect(res.body.title, `read ${i}: never the old entry still in Redis`).to.equal('v2');
        expect(res.headers['x-cache'], `read ${i}`).to.equal('BYPASS');
        await sleep(150);
      }
      const other = await h.http().get('/other').expect(200);
      expect(other.headers['x-cache'], 'a namespace that was not cleared is still served from the cache').to.equal('HIT');
    } finally {
      await admin.call('ACL', 'SETUSER', 'app', '+set');
    }

    // No request and no mutation from here on: only the background retry can change the generation.
    await waitFor(
      'the retried clear to land in Redis',
      async () => (await admin.get(generationKey(h, 'items'))) !== generationBefore,
      10_000,
      50,
    );
    const next = await h.http().get('/item').expect(200);
    expect(next.body.title).to.equal('v2');
    expect(next.headers['x-cache'], 'the old entry is gone: a miss').to.equal('MISS');
    const hit = await eventuallyHit(h, '/item');
    expect(hit.body.title).to.equal('v2');
  });
});
