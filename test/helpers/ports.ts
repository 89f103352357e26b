/**
 * Free TCP ports on 127.0.0.1 for the servers and proxies tests start. A port
 * found here can still be taken before it is used, so starters retry.
 */
import net from 'node:net';

/** True when 127.0.0.1:port can be bound right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** A TCP port free on 127.0.0.1 right now (bind to port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close(() => reject(new Error('freePort: listening socket has no TCP address')));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A port p where both p and p + offset are free, below the kernel's ephemeral
 * range so outgoing connections cannot grab either. Redis Cluster needs this
 * because its bus listens on port + 10000.
 */
export async function freePortWithOffset(offset: number, attempts = 200): Promise<number> {
  const low = 12000;
  const high = 32767 - offset;
  if (high <= low) throw new RangeError(`freePortWithOffset: offset ${offset} leaves no room below 32768`);
  for (let i = 0; i < attempts; i += 1) {
    const port = low + Math.floor(Math.random() * (high - low));
    if ((await isPortFree(port)) && (await isPortFree(port + offset))) return port;
  }
  throw new Error(`freePortWithOffset: no free pair (p, p+${offset}) after ${attempts} tries`);
}
