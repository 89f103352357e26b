/**
 * A TCP proxy that makes a Redis server look slow: requests pass straight
 * through, every reply chunk is held back by a delay (order kept), so timeout
 * paths can be tested against a real server without pausing it.
 */
import net from 'node:net';

/** A running slow proxy. */
export interface SlowProxy {
  port: number;
  /** Changes the delay for reply chunks that arrive from now on (order is still kept). */
  setDelay(ms: number): void;
  /** Closes the listener and every proxied connection. */
  stop(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1:<free port> forwarding to targetPort that delays every chunk from the server to the client by delayMs (keep order). */
export function startSlowProxy(targetPort: number, delayMs: number): Promise<SlowProxy> {
  let delay = delayMs;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = net.createServer((downstream) => {
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(downstream);
    sockets.add(upstream);
    // Chunks waiting to go to the client, each with the time it may leave.
    const queue: Array<{ chunk: Buffer; dueAt: number }> = [];
    let lastDueAt = 0;
    let pump: NodeJS.Timeout | null = null;
    let upstreamEnded = false;

    const flush = (): void => {
      pump = null;
      const now = Date.now();
      while (queue.length > 0 && (queue[0]?.dueAt ?? Infinity) <= now) {
        const item = queue.shift();
        if (item !== undefined && !downstream.destroyed) downstream.write(item.chunk);
      }
      const next = queue[0];
      if (next !== undefined) schedule(next.dueAt - now);
      else if (upstreamEnded) downstream.end();
    };
    const schedule = (ms: number): void => {
      if (pump !== null) return;
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          flush();
        },
        Math.max(0, ms),
      );
      pump = timer;
      timers.add(timer);
    };

    upstream.on('data', (chunk: Buffer) => {
      // Never earlier than the chunk before it, even if the delay was lowered.
      const dueAt = Math.max(Date.now() + delay, lastDueAt);
      lastDueAt = dueAt;
      queue.push({ chunk, dueAt });
      schedule(dueAt - Date.now());
    });
    upstream.on('end', () => {
      upstreamEnded = true;
      if (queue.length === 0) downstream.end();
    });
    downstream.on('data', (chunk: Buffer) => upstream.write(chunk));
    downstream.on('end', () => upstream.end());

    const closeBoth = (): void => {
      if (pump !== null) {
        clearTimeout(pump);
        timers.delete(pump);
        pump = null;
      }
      queue.length = 0;
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    upstream.on('error', closeBoth);
    downstream.on('error', closeBoth);
    upstream.on('close', () => {
      // Let queued replies drain first; a clean end already does.
      if (queue.length === 0) closeBoth();
    });
    downstream.on('close', closeBoth);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('slow proxy: listener has no TCP address'));
        return;
      }
      let stopPromise: Promise<void> | null = null;
      resolve({
        port: address.port,
        setDelay(ms: number): void {
          delay = ms;
        },
        stop(): Promise<void> {
          stopPromise ??= new Promise<void>((done) => {
            for (const timer of timers) clearTimeout(timer);
            timers.clear();
            for (const socket of sockets) socket.destroy();
            sockets.clear();
            server.close(() => done());
          });
          return stopPromise;
        },
      });
    });
  });
}
