/**
 * Read-your-writes across instances when one instance's connection to Redis
 * is down (issue 14, item 1, as the consistency check found it across a
 * Redis restart). Two caches on one prefix of a redis-server this file
 * starts play two instances; the writer reaches Redis through a proxy the
 * test cuts and restores (test/helpers/cut-proxy.ts), so its ioredis client
 * is reconnecting exactly when the test says. A mutation whose clear finds
 * the store disconnected waits up to clearWaitMs for it to come back and
 * clears before it answers; past the bound it answers anyway (fail-open),
 * and the other instance may serve the old entry until the retried clear
 * lands. Writes that ioredis resends after a reconnect (and so may reach
 * Redis long after they were made) never land over a newer clear.
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import type request from 'supertest';
import { deferred, eventuallyHit, useFactory, waitFor, type AppHandle, type Deferred } from '../helpers/app-factory';
import { startCutProxy, type CutProxy } from '../helpers/cut-proxy';
import { useRedisProcess } from '../helpers/hooks';
import { readyClient } from '../helpers/redis-server';
import { randomPrefix } from '../helpers/shared-redis';
import type { CacheOptions } from 'express-cache-aside';

const TIMEOUT_MS = 100;
/** Margin on a shared 2-core machine. */
const MARGIN_MS = 500;
/** The writer's client tries to reconnect this often (ioredis' retryStrategy), so it is back as soon as the proxy lets it. */
const RECONNECT_EVERY_MS = 20;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The shop both instances serve: one title, read through the cache and written by PUT. */
interface Shop {
  title: string;
  /** When set, a GET /item waits on it after reading the title (a fill held between its read and its write). */
  hold?: () => Promise<void>;
}

function mount(h: AppHandle, shop: Shop): void {
  h.app.get('/item', h.cache.route({ namespace: 'items', key: 'one' }), async (_req, res) => {
    const title = shop.title;
    if (shop.hold) await shop.hold();
    res.json({ title });
  });
  h.app.put('/item', h.cache.invalidate({ namespaces: ['items'] }), (req, res) => {
    shop.title = (req.body as { title: string }).title;
    res.json({ ok: true });
  });
}

/** Commands an ioredis client has sent and not yet had answered (its own queue: what it resends after a reconnect). */
function unanswered(client: Redis): number {
  return (client as unknown as { commandQueue: { length: number } }).commandQueue.length;
}

/** Script calls Redis has run so far (EVALSHA and EVAL). */
async function scriptCalls(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

/** A GET that starts now (supertest only sends when awaited). */
function startGet(h: AppHandle, path: string): Promise<request.Response> {
  return h
    .http()
    .get(path)
    .then((res) => res);
}

/** Starts a GET of /item whose fill is held before it writes, as a slow database read would be; resolves once it is held. */
async function heldFill(shop: Shop, h: AppHandle): Promise<{ filling: Promise<request.Response>; release: Deferred<void> }> {
  const entered = deferred();
  const release = deferred();
  shop.hold = async () => {
    shop.hold = undefined;
    entered.resolve();
    await release.promise;
  };
  const filling = startGet(h, '/item');
  await entered.promise;
  return { filling, release };
}

describe('a clear when the store is disconnected: waits for the reconnect, within clearWaitMs', function () {
  this.timeout(30_000);
  const f = useFactory('clear-wait');
  const server = useRedisProcess();
  let proxy: CutProxy;
  let admin: Redis;

  before(function () {
    admin = server.client();
  });
  beforeEach(async function () {
    proxy = await startCutProxy(server.port);
  });
  afterEach(async function () {
    proxy.restore();
    await proxy.stop();
  });

  /** Two instances on one prefix: the writer through the proxy, the reader straight to Redis. */
  async function instances(
    writerOptions: CacheOptions = {},
  ): Promise<{ writer: AppHandle; reader: AppHandle; writerClient: Redis; readerClient: Redis; shop: Shop }> {
    const prefix = randomPrefix('clear-wait');
    const shop: Shop = { title: 'v1' };
    // ioredis' default maxRetriesPerRequest (20), as an application has it; reconnects every RECONNECT_EVERY_MS.
    const writerClient = await readyClient(proxy.port, { retryStrategy: () => RECONNECT_EVERY_MS, maxRetriesPerRequest: 20 });
    const readerClient = await readyClient(server.port);
    const writer = await f.setupOn(writerClient, { prefix, timeoutMs: TIMEOUT_MS, logger: quiet, ...writerOptions });
    const reader = await f.setupOn(readerClient, { prefix, timeoutMs: TIMEOUT_MS, logger: quiet });
    mount(writer, shop);
    mount(reader, shop);
    return { writer, reader, writerClient, readerClient, shop };
  }

  /** PUTs v2 on the writer while its connection comes back 200 ms later; resolves the client's status once it answered. */
  async function putWhileReconnecting(writer: AppHandle, writerClient: Redis): Promise<string> {
    const restore = setTimeout(() => proxy.restore(), 200);
    try {
      await writer.http().put('/item').send({ title: 'v2' }).expect(200);
      return writerClient.status;
    } finally {
      clearTimeout(restore);
    }
  }

  async function cutOff(client: Redis): Promise<void> {
    proxy.cut();
    await waitFor('the writer client to see its connection drop', () => client.status !== 'ready', 5000, 5);
  }

  it('connection back within clearWaitMs: the mutation answers after clearing, so a read on another instance right after is fresh (a breaker opened meanwhile does not stop the clear)', async function () {
    const { writer, reader, writerClient } = await instances();
    await eventuallyHit(reader, '/item', 5000);
    await cutOff(writerClient);
    // The writer's own reads meanwhile go around the cache; their refusals open its breaker (5 failures by default).
    for (let i = 0; i < 6; i += 1) {
      const res = await writer.http().get('/item').expect(200);
      expect(res.headers['x-cache'], `writer read ${i} while cut off`).to.equal('BYPASS');
    }
    const outageMs = 300;
    const restore = setTimeout(() => proxy.restore(), outageMs);
    let writerBack: string;
    try {
      const start = Date.now();
      const put = await writer.http().put('/item').send({ title: 'v2' });
      const took = Date.now() - start;
      writerBack = writerClient.status;
      expect(put.status).to.equal(200);
      expect(took, 'PUT held for the reconnect, within timeoutMs + clearWaitMs + timeoutMs').to.be.below(
        TIMEOUT_MS + 1000 + TIMEOUT_MS + MARGIN_MS,
      );
    } finally {
      clearTimeout(restore);
    }
    const read = await reader.http().get('/item').expect(200);
    expect(read.body.title, `read on the other instance after the mutation answered (X-Cache ${String(read.headers['x-cache'])})`).to.equal(
      'v2',
    );
    expect(read.headers['x-cache'], 'the old entry is gone').to.equal('MISS');
    expect(writerBack, 'the mutation answered once its client was back').to.equal('ready');
  });

  it('a reconnect closes the breaker that refusals opened while the connection was away: a mutation just after the reconnect clears before answering', async function () {
    const { writer, reader, writerClient } = await instances();
    await eventuallyHit(reader, '/item', 5000);
    await cutOff(writerClient);
    // Refused at once (not connected); five refusals open the breaker (cooldown 1 s by default).
    for (let i = 0; i < 6; i += 1) await writer.http().get('/item').expect(200);
    proxy.restore();
    await waitFor('the writer client to reconnect', () => writerClient.status === 'ready', 5000, 5);
    await writer.http().put('/item').send({ title: 'v2' }).expect(200);
    const read = await reader.http().get('/item').expect(200);
    expect(read.body.title, `read on the other instance after the mutation answered (X-Cache ${String(read.headers['x-cache'])})`).to.equal(
      'v2',
    );
    const own = await writer.http().get('/item').expect(200);
    expect(own.headers['x-cache'], 'the writer caches again right after the reconnect').to.not.equal('BYPASS');
  });

  it('connection down past clearWaitMs: the mutation answers within timeoutMs + clearWaitMs + timeoutMs; this instance serves the namespace uncached, the other may serve the old entry until the retried clear lands', async function () {
    const clearWaitMs = 400;
    const { writer, reader, writerClient } = await instances({ clearWaitMs });
    await eventuallyHit(reader, '/item', 5000);
    await cutOff(writerClient);

    const start = Date.now();
    const put = await writer.http().put('/item').send({ title: 'v2' });
    const took = Date.now() - start;
    expect(put.status).to.equal(200);
    expect(took, 'PUT waited for the store').to.be.at.least(clearWaitMs - 20);
    expect(took, 'PUT bounded by timeoutMs + clearWaitMs + timeoutMs').to.be.below(TIMEOUT_MS + clearWaitMs + TIMEOUT_MS + MARGIN_MS);

    const own = await writer.http().get('/item').expect(200);
    expect(own.body.title, 'the writing instance never serves the old entry').to.equal('v2');
    expect(own.headers['x-cache']).to.equal('BYPASS');
    // The window the README states: the clear never reached Redis, so another instance cannot know of it.
    const other = await reader.http().get('/item').expect(200);
    expect(other.body.title, `other instance while the writer is still cut off (X-Cache ${String(other.headers['x-cache'])})`).to.equal(
      'v1',
    );

    proxy.restore();
    await waitFor(
      'the retried clear to land once the writer is back',
      async () => (await reader.http().get('/item')).body.title === 'v2',
      10_000,
      50,
    );
  });

  it('clearWaitMs 0: a clear that finds the store disconnected fails at once, as before', async function () {
    const { writer, writerClient } = await instances({ clearWaitMs: 0 });
    await eventuallyHit(writer, '/item', 5000);
    await cutOff(writerClient);
    const start = Date.now();
    await writer.http().put('/item').send({ title: 'v2' }).expect(200);
    expect(Date.now() - start, 'PUT without waiting').to.be.below(TIMEOUT_MS + MARGIN_MS);
    expect(writerClient.status, 'answered while still cut off').to.not.equal('ready');
  });

  it('Redis restarted empty: a fill begun on an instance already back, before the write, never lands after the mutation of an instance still reconnecting', async function () {
    const { writer, reader, writerClient, readerClient, shop } = await instances({ clearWaitMs: 3000 });
    await eventuallyHit(reader, '/item', 5000);
    proxy.cut();
    await server.kill();
    await server.restart();
    await waitFor('the reader client to be back on the restarted Redis', () => readerClient.status === 'ready', 10_000, 10);
    expect(writerClient.status, 'the writer is still cut off').to.not.equal('ready');

    // The reader's fill reads v1 and is held before it writes, as a slow database read would be.
    const { filling, release } = await heldFill(shop, reader);

    let writerBack: string;
    try {
      writerBack = await putWhileReconnecting(writer, writerClient);
    } finally {
      release.resolve();
    }
    const first = await filling;
    expect(first.body.title, 'the read that began before the write may show v1').to.equal('v1');
    const read = await reader.http().get('/item').expect(200);
    expect(read.body.title, `read after the mutation answered (X-Cache ${String(read.headers['x-cache'])})`).to.equal('v2');
    expect(writerBack, 'the mutation answered once its client was back').to.equal('ready');
  });

  describe('writes ioredis resends after a reconnect', function () {
    /**
     * Makes the writer's fill send its write while Redis holds writes back
     * (CLIENT PAUSE WRITE on this file's own server), then cuts the writer off,
     * so the write is unanswered: ioredis resends it when the connection is back.
     */
    async function writeLeftUnanswered(writer: AppHandle, writerClient: Redis, shop: Shop): Promise<void> {
      const { filling, release } = await heldFill(shop, writer);
      await admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
      try {
        release.resolve();
        const first = await filling;
        expect(first.body.title).to.equal('v1');
        expect(first.headers['x-cache']).to.equal('MISS');
        await waitFor("the fill's write to wait in the paused server", () => unanswered(writerClient) > 0, 5000, 5);
        await cutOff(writerClient);
      } finally {
        await admin.call('CLIENT', 'UNPAUSE');
      }
    }

    it("a write resent after another instance's newer clear is refused (it carries the generation its fill saw)", async function () {
      const { writer, reader, writerClient, shop } = await instances();
      await writeLeftUnanswered(writer, writerClient, shop);
      await reader.http().put('/item').send({ title: 'v2' }).expect(200);

      const scriptsBefore = await scriptCalls(admin);
      proxy.restore();
      await waitFor('the writer client to reconnect', () => writerClient.status === 'ready', 5000, 5);
      await writerClient.ping(); // answered after everything sent before it on that connection: the resent write too
      expect(await scriptCalls(admin), 'the unanswered write was resent and ran').to.be.above(scriptsBefore);

      for (const [name, h] of [
        ['reader', reader],
        ['writer', writer],
      ] as const) {
        const res = await h.http().get('/item').expect(200);
        expect(res.body.title, `${name} after the resent write (X-Cache ${String(res.headers['x-cache'])})`).to.equal('v2');
      }
    });

    it("a write resent when the writer reconnects lands before the writer's own waiting clear, never after it", async function () {
      const { writer, reader, writerClient, shop } = await instances();
      await writeLeftUnanswered(writer, writerClient, shop);

      const scriptsBefore = await scriptCalls(admin);
      let writerBack: string;
      try {
        writerBack = await putWhileReconnecting(writer, writerClient);
      } finally {
        proxy.restore();
      }
      await waitFor('the writer client to reconnect', () => writerClient.status === 'ready', 5000, 5);
      await writerClient.ping();
      expect(await scriptCalls(admin), 'the unanswered write was resent and ran').to.be.above(scriptsBefore);
      const read = await reader.http().get('/item').expect(200);
      expect(
        read.body.title,
        `read after the mutation answered and the resent write ran (X-Cache ${String(read.headers['x-cache'])})`,
      ).to.equal('v2');
      expect(writerBack, 'the mutation answered once its client was back').to.equal('ready');
    });
  });
});
