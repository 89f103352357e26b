/**
 * A full garbage collection for memory-bound tests, without restarting mocha
 * with --expose-gc: the flag is set at run time and `gc` is taken from a
 * fresh context, where V8 then defines it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = (globalThis.gc ?? runInNewContext('gc')) as () => void;

/** Runs a full GC after the current job, when WeakRefs made in it may be cleared. */
export async function fullGc(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  collect();
  await new Promise((resolve) => setImmediate(resolve));
  collect();
}
