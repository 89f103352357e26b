/**
 * The header a v2 store puts before an entry's payload, so one read of the
 * entry tells which generations it was written under. Fixed offsets, ASCII,
 * parsed the same way by the Lua scripts and by Node:
 *
 *   0  16  namespace generation token
 *   16 16  all-generation token
 *   32 16  fill clock (16 decimal digits)
 *   48 1   tag count n
 *   then n times: 16 tag token, 1 length L, L bytes encoded tag
 *   then the payload
 */
import { encodeTag } from '../keys';
import { MAX_TAGS_PER_ENTRY, type FillTicket } from './store';

/** Offset of the tag count. */
export const TAG_COUNT_OFFSET = 48;
/** Length of a token. */
export const TOKEN_LENGTH = 16;
/** Placeholder where the write script puts a tag's token (Redis on one node). */
export const TOKEN_PLACEHOLDER = '\0'.repeat(TOKEN_LENGTH);

/** One tag as the header holds it. */
export interface HeaderTag {
  encoded: string;
  token: string;
}

/** What a header says. */
export interface EntryHeader {
  generation: string;
  allGeneration: string;
  clock: number;
  tags: HeaderTag[];
  /** Where the payload starts. */
  length: number;
}

/** The header for a write: tokens given, or placeholders the store fills in. */
export function encodeEntryHeader(ticket: FillTicket, tags: readonly HeaderTag[]): Buffer {
  let size = TAG_COUNT_OFFSET + 1;
  for (const tag of tags) size += TOKEN_LENGTH + 1 + tag.encoded.length;
  const buf = Buffer.allocUnsafe(size);
  buf.write(ticket.generation, 0, 'latin1');
  buf.write(ticket.allGeneration, 16, 'latin1');
  buf.write(ticket.clock, 32, 'latin1');
  buf[TAG_COUNT_OFFSET] = tags.length;
  let at = TAG_COUNT_OFFSET + 1;
  for (const tag of tags) {
    buf.write(tag.token, at, 'latin1');
    buf[at + TOKEN_LENGTH] = tag.encoded.length;
    buf.write(tag.encoded, at + TOKEN_LENGTH + 1, 'latin1');
    at += TOKEN_LENGTH + 1 + tag.encoded.length;
  }
  return buf;
}

/** Where the payload starts, or -1 when the value is too short to be an entry. */
export function entryHeaderLength(value: Buffer): number {
  if (value.length <= TAG_COUNT_OFFSET) return -1;
  const count = value[TAG_COUNT_OFFSET]!;
  let at = TAG_COUNT_OFFSET + 1;
  for (let i = 0; i < count; i++) {
    if (at + TOKEN_LENGTH >= value.length) return -1;
    at += TOKEN_LENGTH + 1 + value[at + TOKEN_LENGTH]!;
  }
  return at <= value.length ? at : -1;
}

/** Reads a header, or null when the value is not a v2 entry. */
export function decodeEntryHeader(value: Buffer): EntryHeader | null {
  const length = entryHeaderLength(value);
  if (length < 0) return null;
  const tags: HeaderTag[] = [];
  const count = value[TAG_COUNT_OFFSET]!;
  let at = TAG_COUNT_OFFSET + 1;
  for (let i = 0; i < count; i++) {
    const size = value[at + TOKEN_LENGTH]!;
    tags.push({
      token: value.toString('latin1', at, at + TOKEN_LENGTH),
      encoded: value.toString('latin1', at + TOKEN_LENGTH + 1, at + TOKEN_LENGTH + 1 + size),
    });
    at += TOKEN_LENGTH + 1 + size;
  }
  return {
    generation: value.toString('latin1', 0, 16),
    allGeneration: value.toString('latin1', 16, 32),
    clock: Number(value.toString('latin1', 32, 48)),
    tags,
    length,
  };
}

/** Encoded tags without repeats, at most MAX_TAGS_PER_ENTRY (the header counts them in a byte). */
export function uniqueEncodedTags(tags: readonly string[] | undefined): string[] {
  if (tags === undefined || tags.length === 0) return [];
  const encoded = [...new Set(tags.map(encodeTag))];
  if (encoded.length > MAX_TAGS_PER_ENTRY)
    throw new RangeError(`an entry carries at most ${MAX_TAGS_PER_ENTRY} tags (got ${encoded.length})`);
  return encoded;
}
