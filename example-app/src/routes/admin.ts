/**
 * Admin routes, mounted only when ADMIN_TOKEN is set (otherwise they are 404
 * like any unknown path), each asking for `Authorization: Bearer <token>`:
 * - POST /admin/courses/import: a CSV of courses upserted by slug in one
 *   statement, then one namespace clear of `courses` (a bulk change clears the
 *   whole catalog at once, whatever its size) and the summary tags of the
 *   updated courses, which users' lists in other namespaces show;
 * - POST /admin/cache/clear: `cache.invalidateAll()`, for after a deploy or a
 *   change made behind the shop's back.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router, type RequestHandler } from 'express';
import { courses } from '../catalog';
import { csvRecords } from '../csv';
import type { Db } from '../db';
import { HttpError, ValidationError } from '../http-errors';
import { invalidateOptions, invalidationMap, type InvalidationStrategy } from '../invalidation-map';
import type { ShopCache } from '../shop-cache';
import { validateBody, type FieldRule } from '../validation';

/** Most rows one import takes. */
const maxImportRows = 10_000;

/** Whether `given` is `expected`, in time that does not depend on where they differ (or on their lengths). */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** 401 without a bearer token, 403 with a wrong one. */
function requireToken(adminToken: string): RequestHandler {
  return (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (match === null) {
      res.set('WWW-Authenticate', 'Bearer');
      throw new HttpError(401, 'admin token required');
    }
    if (!tokenMatches(match[1] ?? '', adminToken)) throw new HttpError(403, 'wrong admin token');
    next();
  };
}

/** PostgreSQL type of a field in `jsonb_to_recordset`, by its rule; json arrays are not importable from CSV. */
function sqlType(rule: FieldRule): string | undefined {
  switch (rule.kind) {
    case 'money':
    case 'number':
      return 'numeric';
    case 'integer':
      return 'integer';
    case 'boolean':
      return 'boolean';
    case 'timestamp':
      return 'timestamptz';
    case 'json-array':
      return undefined;
    default:
      return 'text';
  }
}

/** A CSV cell as the JSON value its rule checks: numbers and booleans from their text. */
function cellValue(rule: FieldRule, cell: string): unknown {
  if (rule.kind === 'money' || rule.kind === 'number' || rule.kind === 'integer') return cell.trim() === '' ? cell : Number(cell);
  if (rule.kind === 'boolean') return cell === 'true' ? true : cell === 'false' ? false : cell;
  return cell;
}

/** The CSV body as checked course rows, or a 400 naming the line and the field. */
function importedRows(body: unknown): { columns: string[]; types: string; rows: Record<string, unknown>[] } {
  if (typeof body !== 'string' || body.trim() === '') throw new ValidationError('body', 'must be CSV text (Content-Type: text/csv)');
  let parsed: ReturnType<typeof csvRecords>;
  try {
    parsed = csvRecords(body);
  } catch (error) {
    throw new ValidationError('body', `is not valid CSV: ${(error as Error).message}`);
  }
  const { columns, records } = parsed;
  const fields: Array<{ column: string; rule: FieldRule; type: string }> = [];
  for (const column of columns) {
    const rule = courses.fields[column];
    const type = rule === undefined ? undefined : sqlType(rule);
    if (rule === undefined || type === undefined) throw new ValidationError(column, 'is not an importable column');
    fields.push({ column, rule, type });
  }
  if (records.length === 0) throw new ValidationError('body', 'has no rows after the header');
  if (records.length > maxImportRows) throw new ValidationError('body', `has more than ${maxImportRows} rows`);
  const slugs = new Set<string>();
  const rows = records.map((record, index) => {
    const line = index + 2;
    try {
      const values = validateBody(
        Object.fromEntries(fields.map(({ column, rule }) => [column, cellValue(rule, record[column] ?? '')])),
        courses.fields,
        'create',
      );
      const slug = String(values.get('slug'));
      if (slugs.has(slug)) throw new ValidationError('slug', 'appears twice in the file');
      slugs.add(slug);
      return Object.fromEntries(values);
    } catch (error) {
      if (error instanceof HttpError) throw new HttpError(400, `line ${line}: ${error.message}`, error.field);
      throw error;
    }
  });
  return { columns, types: fields.map(({ column, type }) => `${column} ${type}`).join(', '), rows };
}

/** Router to mount at `/admin`; `adminToken` is the only credential it accepts. */
export function adminRouter(db: Db, cache: ShopCache, strategy: InvalidationStrategy, adminToken: string): Router {
  const router = Router();
  router.use(requireToken(adminToken));

  router.post(
    '/courses/import',
    express.text({ type: ['text/csv', 'text/plain'], limit: '5mb' }),
    cache.invalidate(invalidateOptions(invalidationMap['POST /admin/courses/import'], strategy)),
    async (req, res) => {
      const { columns, types, rows } = importedRows(req.body);
      const updates = columns.filter((column) => column !== 'slug').map((column) => `${column} = EXCLUDED.${column}`);
      // One statement for the whole file; a soft-deleted course keeps its slug and is skipped, not revived.
      const { rows: written } = await db.query<{ id: number; inserted: boolean }>(
        `INSERT INTO courses (${columns.join(', ')})
         SELECT ${columns.join(', ')} FROM jsonb_to_recordset($1::jsonb) AS r(${types})
         ON CONFLICT (slug) DO UPDATE SET ${[...updates, 'updated_at = now()'].join(', ')}
          WHERE courses.deleted_at IS NULL
         RETURNING id, (xmax = 0) AS inserted`,
        [JSON.stringify(rows)],
      );
      const updatedIds = written.filter((row) => !row.inserted).map((row) => row.id);
      res.locals.updatedIds = updatedIds;
      if (strategy === 'namespaces' && updatedIds.length > 0) {
        const holders = await db.query<{ user_id: number }>('SELECT DISTINCT user_id FROM enrollments WHERE course_id = ANY($1::int[])', [
          updatedIds,
        ]);
        res.locals.usersTouched = holders.rows.map((row) => row.user_id);
      }
      const inserted = written.length - updatedIds.length;
      res.json({ inserted, updated: updatedIds.length, skipped: rows.length - written.length });
    },
  );

  router.post('/cache/clear', async (_req, res) => {
    await cache.invalidateAll();
    res.set('Cache-Control', 'no-store').json({ cleared: 'all' });
  });

  return router;
}
