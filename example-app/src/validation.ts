/**
 * Checks of path parameters and request bodies. Each failure throws a
 * `ValidationError` naming the field, which the error handler sends as 400.
 */
import type { Request } from 'express';
import { ValidationError } from './http-errors';

/** One rule for one body field. */
export type FieldRule =
  | { kind: 'text'; required?: boolean; min?: number; max: number }
  | { kind: 'slug'; required?: boolean }
  | { kind: 'url'; required?: boolean }
  | { kind: 'money'; required?: boolean }
  | { kind: 'number'; required?: boolean; min: number; max: number; exclusiveMin?: boolean }
  | { kind: 'integer'; required?: boolean; min: number; max: number }
  | { kind: 'boolean'; required?: boolean }
  | { kind: 'enum'; required?: boolean; values: readonly string[] }
  | { kind: 'timestamp'; required?: boolean }
  | { kind: 'json-array'; required?: boolean };

/** The writable fields of a resource and their rules. */
export type FieldRules = Record<string, FieldRule>;

const slugPattern = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const idPattern = /^[1-9][0-9]{0,9}$/;
const maxId = 2_147_483_647;

/** A path parameter as a string; Express 5 types also allow arrays (for wildcards), which the shop never mounts. */
export function pathParam(req: Request, name: string): string | undefined {
  const raw: unknown = req.params[name];
  return typeof raw === 'string' ? raw : undefined;
}

/** The named path parameter as a positive 32-bit integer id, or a 400. */
export function parseId(req: Request, name = 'id'): number {
  const raw = pathParam(req, name);
  if (raw === undefined || !idPattern.test(raw) || Number(raw) > maxId) {
    throw new ValidationError(name, 'must be a positive integer id');
  }
  return Number(raw);
}

/** The named path parameter as a slug (lowercase words joined by dashes), or a 400. */
export function parseSlug(req: Request, name = 'slug'): string {
  const raw = pathParam(req, name);
  if (raw === undefined || raw.length > 200 || !slugPattern.test(raw)) {
    throw new ValidationError(name, 'must be lowercase letters, digits and single dashes');
  }
  return raw;
}

/** A path parameter that must be one of `values`, or a 400. */
export function parseEnum<T extends string>(req: Request, name: string, values: readonly T[]): T {
  const raw = pathParam(req, name);
  if (raw === undefined || !(values as readonly string[]).includes(raw)) {
    throw new ValidationError(name, `must be one of ${values.join(', ')}`);
  }
  return raw as T;
}

function checkField(field: string, rule: FieldRule, value: unknown): unknown {
  switch (rule.kind) {
    case 'text':
      if (typeof value !== 'string') throw new ValidationError(field, 'must be a string');
      if (value.trim().length < (rule.min ?? 0) || value.length > rule.max) {
        throw new ValidationError(field, `must be ${rule.min ?? 0} to ${rule.max} characters`);
      }
      return value;
    case 'slug':
      if (typeof value !== 'string' || value.length > 200 || !slugPattern.test(value)) {
        throw new ValidationError(field, 'must be lowercase letters, digits and single dashes');
      }
      return value;
    case 'url':
      if (value === null) return null;
      if (typeof value !== 'string' || !/^https?:\/\/\S+$/.test(value) || value.length > 2000) {
        throw new ValidationError(field, 'must be an http(s) URL or null');
      }
      return value;
    case 'money':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 99_999_999) {
        throw new ValidationError(field, 'must be a number from 0 to 99999999');
      }
      if (Math.round(value * 100) !== Number((value * 100).toFixed(6))) {
        throw new ValidationError(field, 'must have at most two decimals');
      }
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new ValidationError(field, 'must be a number');
      if ((rule.exclusiveMin ? value <= rule.min : value < rule.min) || value > rule.max) {
        throw new ValidationError(field, `must be ${rule.exclusiveMin ? 'above' : 'at least'} ${rule.min} and at most ${rule.max}`);
      }
      return value;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min || value > rule.max) {
        throw new ValidationError(field, `must be an integer from ${rule.min} to ${rule.max}`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new ValidationError(field, 'must be true or false');
      return value;
    case 'enum':
      if (typeof value !== 'string' || !rule.values.includes(value)) {
        throw new ValidationError(field, `must be one of ${rule.values.join(', ')}`);
      }
      return value;
    case 'timestamp': {
      // ISO 8601 with a date and a time; Date.parse alone accepts too much.
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) || Number.isNaN(Date.parse(value))) {
        throw new ValidationError(field, 'must be an ISO 8601 date and time');
      }
      return new Date(value).toISOString();
    }
    case 'json-array':
      if (!Array.isArray(value)) throw new ValidationError(field, 'must be an array');
      // Serialised here: pg would otherwise send a JavaScript array as a PostgreSQL array.
      return JSON.stringify(value);
  }
}

/** Deepest nesting of arrays and objects a body may have; no field of the shop needs more than a few levels. */
export const maxBodyDepth = 32;

/** Whether `value` nests arrays or objects deeper than `max`; iterative, so no body can overflow the stack here. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [current, depth] = next;
    if (current === null || typeof current !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

/** The body as a plain JSON object nested at most `maxBodyDepth` levels, or a 400. */
export function bodyObject(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('body', 'must be a JSON object (Content-Type: application/json)');
  }
  // Checked before any field: serialising or validating a 5,000-level body would overflow the stack.
  if (nestedDeeperThan(body, maxBodyDepth)) throw new ValidationError('body', `must not nest deeper than ${maxBodyDepth} levels`);
  return body as Record<string, unknown>;
}

/**
 * Checks `body` against `rules`. `create` requires the required fields;
 * `update` takes any non-empty subset. Unknown fields are refused, so a typo
 * never passes silently. Returns the checked values, in the rules' order.
 */
export function validateBody(body: Record<string, unknown>, rules: FieldRules, mode: 'create' | 'update'): Map<string, unknown> {
  for (const field of Object.keys(body)) {
    if (!Object.hasOwn(rules, field)) throw new ValidationError(field, 'is not a known field');
  }
  const values = new Map<string, unknown>();
  for (const [field, rule] of Object.entries(rules)) {
    if (!Object.hasOwn(body, field) || body[field] === undefined) {
      if (mode === 'create' && rule.required) throw new ValidationError(field, 'is required');
      continue;
    }
    values.set(field, checkField(field, rule, body[field]));
  }
  if (values.size === 0) throw new ValidationError('body', 'must set at least one field');
  return values;
}
