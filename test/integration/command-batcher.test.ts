/**
 * The store's own pipelining (src/stores/command-batcher.ts) against the
 * shared Redis: the commands of one event-loop turn leave in one socket
 * write with their replies in order, a lone command is written before the
 * loop polls for I/O again, clients that batch already (auto-pipelining, a
 * Cluster) are used as given, and the store's hits go through it.
 */
import type { Socket } from 'node:net';
import { expect } from 'chai';
import sinon from 'sinon';
import Redis from 'ioredis';
import { batchCommands, batchesCommands } from '../../src/stores/command-batcher';
import { RedisStore } from '../../src/stores/redis-store';
import { connectShared, randomPrefix } from '../helpers/shared-redis';

const prefix = randomPrefix('batcher');

function socketOf(client: Redis): Socket {
  return (client as unknown as { stream: Socket }).stream;
}

const nextImmediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('command batcher', function () {
  let client: Redis;
  beforeEach(async function () {
    client = await connectShared();
  });
  afterEach(async function () {
    await client.unlink(...Array.from({ length: 20 }, (_, i) => `${prefix}:k${i}`), `${prefix}:drop`, `${prefix}:after`);
    client.disconnect();
  });

  it('sends the commands of one turn in one socket write, each with its own reply, in order', async function () {
    const batched = batchCommands(client);
    const socket = socketOf(client);
    const writev = sinon.spy(socket as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
    const write = sinon.spy(socket as unknown as { _write: (...args: unknown[]) => void }, '_write');
    const sets = Array.from({ length: 20 }, (_, i) => batched.set(`${prefix}:k${i}`, `v${i}`));
    const gets = Array.from({ length: 20 }, (_, i) => batched.get(`${prefix}:k${i}`));
    expect(await Promise.all(sets)).to.deep.equal(Array.from({ length: 20 }, () => 'OK'));
    expect(await Promise.all(gets)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `v${i}`));
    expect(writev.callCount + write.callCount, 'socket writes for 40 commands').to.equal(1);
  });

  it('writes a lone command before the loop polls for I/O again (no timer, no added turn)', async function () {
    const batched = batchCommands(client);
    const socket = socketOf(client);
    const reply = batched.ping();
    expect(socket.writableCorked, 'held for the rest of the turn').to.equal(1);
    // Immediates run in order: one queued after the command's runs after its flush, in the same check phase.
    await nextImmediate();
    expect(socket.writableCorked).to.equal(0);
    expect(socket.writableLength, 'bytes still buffered').to.equal(0);
    expect(await reply).to.equal('PONG');
  });

  it('uses a client with enableAutoPipelining, and a Cluster, as given', async function () {
    const pipelining = await connectShared({ enableAutoPipelining: true });
    const cluster = new Redis.Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      expect(batchesCommands(pipelining)).to.equal(false);
      expect(batchCommands(pipelining)).to.equal(pipelining);
      expect(batchesCommands(cluster)).to.equal(false);
      expect(batchCommands(cluster)).to.equal(cluster);
      expect(batchesCommands(client)).to.equal(true);
    } finally {
      pipelining.disconnect();
      cluster.disconnect();
    }
  });

  it("keeps state on the user's client: scripts defined and instrumentation installed on it see the batched commands", async function () {
    const batched = batchCommands(client);
    batched.defineCommand('ecaBatcherEcho', { numberOfKeys: 0, lua: 'return ARGV[1]' });
    expect(typeof (client as unknown as Record<string, unknown>).ecaBatcherEcho).to.equal('function');
    const counted = sinon.spy(client, 'sendCommand');
    const echo = (batched as unknown as { ecaBatcherEcho(value: string): Promise<string> }).ecaBatcherEcho('hello');
    expect(await Promise.all([echo, batched.get(`${prefix}:none`)])).to.deep.equal(['hello', null]);
    expect(counted.callCount).to.be.at.least(2);
  });

  it('answers after the connection drops mid-turn, and batches again once reconnected', async function () {
    const batched = batchCommands(client);
    const pending = batched.set(`${prefix}:drop`, 'x');
    socketOf(client).destroy();
    // Retried after the reconnect (maxRetriesPerRequest 1) or rejected: either way it settles.
    await pending.then(
      () => undefined,
      () => undefined,
    );
    await new Promise<void>((resolve) => (client.status === 'ready' ? resolve() : client.once('ready', () => resolve())));
    expect(await Promise.all([batched.set(`${prefix}:after`, 'y'), batched.get(`${prefix}:after`)])).to.deep.equal(['OK', 'y']);
  });

  it("serves the store's concurrent lookups from one write", async function () {
    const store = new RedisStore(client, prefix);
    const socket = socketOf(client);
    const writev = sinon.spy(socket as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
    const write = sinon.spy(socket as unknown as { _write: (...args: unknown[]) => void }, '_write');
    const found = await Promise.all(Array.from({ length: 10 }, (_, i) => store.lookupEntry('ns', `k${i}`)));
    expect(found.every((lookup) => lookup.status === 'miss')).to.equal(true);
    expect(writev.callCount + write.callCount).to.equal(1);
    await store.close();
  });
});
