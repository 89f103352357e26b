/**
 * A TCP proxy that can cut one client off from a Redis server while the
 * server stays up for everyone else: cut() drops every proxied connection
 * and drops new ones as soon as they are accepted, restore() lets new ones
 * through again. So a test decides exactly when an instance's ioredis
 * client is reconnecting and when it comes back, without a fixed sleep.
 */
import net from 'node:net';

/** A running cut proxy. */
export interface CutProxy {
  port: number;
  /** Drops every open connection and every new one until restore(). */
  cut(): void;
  /** Accepts and forwards connections again. */
  restore(): void;
  /** Closes the listener and every connection. */
  stop(): Promise<void>;
}

/** A proxy on 127.0.0.1:<free port> to targetPort on 127.0.0.1, forwarding both ways until cut. */
export async function startCutProxy(targetPort: number): Promise<CutProxy> {
  let open = true;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((downstream) => {
    track(downstream);
    if (!open) {
      downstream.destroy();
      return;
    }
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' });
    track(upstream);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    upstream.on('close', () => downstream.destroy());
    downstream.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      open = true;
    },
    async stop() {
      open = false;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
