/**
 * Unique tokens for generations and locks, cheaply: a random per-process
 * part and a counter. Unique across processes and never repeated within one
 * (the random part is renewed when the counter wraps), so a generation never
 * comes back with a value it had before.
 */
import { randomBytes } from 'node:crypto';

const COUNTER_DIGITS = 6;
const COUNTER_LIMIT = 36 ** COUNTER_DIGITS;
let processPart = randomBytes(8).toString('base64url').slice(0, 10);
let counter = 0;

/** A 16-character token never handed out before. */
export function uniqueToken(): string {
  if (counter >= COUNTER_LIMIT) {
    processPart = randomBytes(8).toString('base64url').slice(0, 10);
    counter = 0;
  }
  return processPart + (counter++).toString(36).padStart(COUNTER_DIGITS, '0');
}
