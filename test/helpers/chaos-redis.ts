/**
 * A chaos wrapper around a real ioredis client (bentocache's chaos drivers,
 * at the edge this package exposes: the client a user hands to createCache).
 * A test switches it, for every command or for named ones, to fail at once,
 * answer late or never answer, and back. Breaker, timeout and pending-cap
 * tests then run fast and exactly, with no server paused or killed.
 *
 * Every command ioredis builds goes through the client's `sendCommand`
 * (scripts too, as `evalsha`/`eval`); the wrapper is a Proxy that binds the
 * client's methods to itself, so those calls come back through it and are
 * faulted there. Commands ioredis sends on its own (the handshake, reconnects)
 * bypass the Proxy and are never faulted.
 */
import type Redis from 'ioredis';
import type { Command } from 'ioredis';

/** What the wrapper does to a command. */
export type ChaosFault = { kind: 'throw' } | { kind: 'delay'; delayMs: number } | { kind: 'hang' };

/** The switches of a chaos client. Command names are Redis's, lower case ('mget', 'evalsha', 'set'). */
export interface ChaosControl {
  /** Matching commands (all when none named) reject at once without reaching Redis. */
  alwaysThrow(commands?: readonly string[]): void;
  /** Matching commands reach Redis `delayMs` late. */
  alwaysDelay(delayMs: number, commands?: readonly string[]): void;
  /** Matching commands never reach Redis and never answer, until heal() rejects them. */
  alwaysHang(commands?: readonly string[]): void;
  /** No more faults; commands still hanging are rejected, so nothing waits past the test. */
  heal(): void;
  /** Commands that came through the wrapper (faulted or not), of one name or all. */
  calls(command?: string): number;
  /** Commands hanging right now. */
  readonly hanging: number;
}

/** An ioredis client that a test can fault; `chaos` holds the switches. */
export type ChaosRedis = Redis & { readonly chaos: ChaosControl };

type SendCommand = (command: Command, ...rest: unknown[]) => unknown;

/** Wraps `client` (which stays usable on its own, unfaulted) in a chaos client. */
export function chaos(client: Redis): ChaosRedis {
  // undefined key: the fault for every command not named.
  const faults = new Map<string | undefined, ChaosFault>();
  const counts = new Map<string, number>();
  const hung = new Set<Command>();

  const setFault = (fault: ChaosFault, commands: readonly string[] | undefined): void => {
    if (commands === undefined) {
      faults.clear();
      faults.set(undefined, fault);
    } else {
      for (const name of commands) faults.set(name.toLowerCase(), fault);
    }
  };

  const control: ChaosControl = {
    alwaysThrow: (commands) => setFault({ kind: 'throw' }, commands),
    alwaysDelay: (delayMs, commands) => setFault({ kind: 'delay', delayMs }, commands),
    alwaysHang: (commands) => setFault({ kind: 'hang' }, commands),
    heal() {
      faults.clear();
      for (const command of hung) command.reject(new Error(`chaos: ${command.name} released by heal()`));
      hung.clear();
    },
    calls: (command) =>
      command === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : (counts.get(command.toLowerCase()) ?? 0),
    get hanging() {
      return hung.size;
    },
  };

  const realSend = client.sendCommand as unknown as SendCommand;
  const sendCommand: SendCommand = (command, ...rest) => {
    const name = command.name.toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const fault = faults.get(name) ?? faults.get(undefined);
    if (fault === undefined) return realSend.call(client, command, ...rest);
    if (fault.kind === 'throw') {
      command.reject(new Error(`chaos: ${name} failed`));
    } else if (fault.kind === 'hang') {
      hung.add(command);
    } else {
      setTimeout(() => realSend.call(client, command, ...rest), fault.delayMs);
    }
    return command.promise;
  };

  const proxy: ChaosRedis = new Proxy(client, {
    get(target, property) {
      if (property === 'chaos') return control;
      if (property === 'sendCommand') return sendCommand;
      const value: unknown = Reflect.get(target, property, target);
      // Bound to the proxy, so the commands a method builds come back through sendCommand above.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(proxy) : value;
    },
  }) as ChaosRedis;
  return proxy;
}
