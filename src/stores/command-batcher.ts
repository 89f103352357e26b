/**
 * The store's own pipelining: the commands the store sends during one turn
 * of the event loop leave in one socket write, whatever the client's
 * options. Without it, each hit costs its own write(2) and, under load, its
 * own read of the reply; batched, N concurrent requests share one write and
 * Redis answers them in one read, which is what ioredis' `enableAutoPipelining`
 * gives (issue 13 measured 0.78× the one-GET floor without it, 0.98× with it).
 *
 * How: the first command of a turn corks the client's socket and a
 * setImmediate uncorks it. setImmediate runs in the check phase right after
 * the poll phase that read the requests, so commands from every request read
 * in that phase join the write, and a lone request waits for nothing (no
 * timer, no further I/O). Commands go through ioredis' own sendCommand
 * unchanged (replies, retries, offline queue, timeouts as ever); only the
 * socket's writes are held for the rest of the turn.
 *
 * Not batched: a client with enableAutoPipelining (it batches already), and a
 * Cluster (each command's node is chosen inside the client, per slot; one
 * cork per node would need ioredis internals), which is used as given.
 */
import type { Socket } from 'node:net';
import type { Cluster, Redis } from 'ioredis';

/** Whether the store batches commands on this client (false: auto-pipelining or a Cluster). */
export function batchesCommands(client: Redis | Cluster): boolean {
  return (client as { isCluster?: boolean }).isCluster !== true && client.options.enableAutoPipelining !== true;
}

/**
 * The client the store sends its commands through: the same client, whose
 * sendCommand corks the socket for the rest of the turn. Everything else
 * (state, listeners, defined scripts) reads and writes the user's client.
 */
export function batchCommands<T extends Redis | Cluster>(client: T): T {
  if (!batchesCommands(client)) return client;
  const redis = client as Redis;
  let corked: Socket | undefined;
  const flush = (): void => {
    const socket = corked;
    corked = undefined;
    socket?.uncork();
  };
  function sendCommand(this: unknown, ...args: Parameters<Redis['sendCommand']>): ReturnType<Redis['sendCommand']> {
    // Only direct writes on a ready connection; a pipeline's own stream (args[1]) or the offline queue is left alone.
    if (corked === undefined && args[1] === undefined && redis.status === 'ready') {
      const socket = (redis as unknown as { stream?: Socket }).stream;
      if (socket?.writable) {
        socket.cork();
        corked = socket;
        setImmediate(flush);
      }
    }
    // Looked up on each call, so instrumentation that wraps the client's sendCommand still sees every command.
    return redis.sendCommand(...args);
  }
  return new Proxy(redis, {
    get: (target, property) => (property === 'sendCommand' ? sendCommand : Reflect.get(target, property, target)),
  }) as unknown as T;
}
