/**
 * Durations as users write them (seconds as a number, or '500ms', '30s',
 * '10m', '1h', '1d') turned into milliseconds, with the `ms` package doing
 * the parsing.
 */
import ms from 'ms';

/** Milliseconds of a duration, or undefined when it is not one (negative, NaN, unparseable). */
export function durationToMs(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  }
  if (typeof value === 'string' && value.trim() !== '') {
    // A bare number in a string is seconds, like the number form; `ms` would read it as milliseconds.
    const asNumber = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) * 1000 : ms(value as ms.StringValue);
    return typeof asNumber === 'number' && Number.isFinite(asNumber) && asNumber >= 0 ? asNumber : undefined;
  }
  return undefined;
}
