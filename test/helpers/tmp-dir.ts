/**
 * Temporary directories for the Redis processes tests start: one per process,
 * so config files, sentinel state and cluster node tables never collide.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates a fresh, empty directory under the OS temp dir whose name starts with `eca-<label>-`. */
export async function makeTmpDir(label = 'tmp'): Promise<string> {
  return mkdtemp(join(tmpdir(), `eca-${label}-`));
}

/** Removes a directory made by makeTmpDir, ignoring one that is already gone. */
export async function removeTmpDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
