/**
 * The three catalogs of the shop (courses, digital products, events) described
 * as data: table, cache namespace and TTL, the columns a list needs and the
 * columns a detail page needs, the writable fields and their rules, and which
 * per-user lists show an item (so an edit knows whose lists it changes).
 * The generic routes in `routes/catalog.ts` turn one description into routes.
 */
import { ttlSeconds } from './config';
import type { FieldRules } from './validation';

/** Product types the shop sells. */
export const productTypes = ['pdf', 'video', 'audio', 'ebook', 'bundle'] as const;

/** Everything the generic catalog routes need to know about one catalog. */
export interface CatalogSpec {
  /** Table, URL segment and cache namespace at once. */
  name: 'courses' | 'products' | 'events';
  /** TTL of lists and details. */
  ttlSeconds: number;
  /** SELECT list of list routes: no descriptions or curricula. */
  listColumns: string;
  /** SELECT list of detail routes. */
  detailColumns: string;
  /** Writable fields and their rules. */
  fields: FieldRules;
  /** The per-user table that points at this catalog, and its column. */
  heldIn: { table: 'enrollments' | 'purchases' | 'bookings'; column: 'course_id' | 'product_id' | 'event_id' };
  /** Fields the per-user lists show; changing one changes those lists. */
  shownInUserLists: readonly string[];
  /** Writable fields the catalog's own lists show (`listColumns`); changing another one leaves the lists as they are. */
  shownInLists: readonly string[];
}

const commonFields: FieldRules = {
  title: { kind: 'text', required: true, min: 1, max: 200 },
  slug: { kind: 'slug', required: true },
  description: { kind: 'text', max: 5000 },
  price: { kind: 'money', required: true },
  image_url: { kind: 'url' },
  is_published: { kind: 'boolean' },
};

/** Courses: curriculum as JSON, duration, level. */
export const courses: CatalogSpec = {
  name: 'courses',
  ttlSeconds: ttlSeconds.courses,
  listColumns: 'id, title, slug, price::float8 AS price, image_url, level, duration_hours::float8 AS duration_hours, is_published',
  detailColumns:
    'id, title, slug, description, price::float8 AS price, image_url, curriculum, ' +
    'duration_hours::float8 AS duration_hours, level, is_published, created_at, updated_at',
  fields: {
    ...commonFields,
    curriculum: { kind: 'json-array' },
    duration_hours: { kind: 'number', required: true, min: 0, max: 10_000, exclusiveMin: true },
    level: { kind: 'enum', required: true, values: ['beginner', 'intermediate', 'advanced'] },
  },
  heldIn: { table: 'enrollments', column: 'course_id' },
  shownInUserLists: ['title', 'slug', 'image_url'],
  shownInLists: ['title', 'slug', 'price', 'image_url', 'level', 'duration_hours', 'is_published'],
};

/** Digital products: pdf, video, audio, ebook or bundle. */
export const products: CatalogSpec = {
  name: 'products',
  ttlSeconds: ttlSeconds.products,
  listColumns: 'id, title, slug, price::float8 AS price, image_url, type, is_published',
  detailColumns:
    'id, title, slug, description, price::float8 AS price, image_url, type, file_size_mb, is_published, created_at, updated_at',
  fields: {
    ...commonFields,
    type: { kind: 'enum', required: true, values: productTypes },
    file_size_mb: { kind: 'integer', min: 0, max: 1_000_000 },
  },
  heldIn: { table: 'purchases', column: 'product_id' },
  shownInUserLists: ['title', 'slug', 'type'],
  shownInLists: ['title', 'slug', 'price', 'image_url', 'type', 'is_published'],
};

/** Events: a date, a venue, a capacity. */
export const events: CatalogSpec = {
  name: 'events',
  ttlSeconds: ttlSeconds.events,
  listColumns: 'id, title, slug, price::float8 AS price, image_url, event_date, venue, is_published',
  detailColumns:
    'id, title, slug, description, price::float8 AS price, image_url, event_date, venue, capacity, is_published, created_at, updated_at',
  fields: {
    ...commonFields,
    event_date: { kind: 'timestamp', required: true },
    venue: { kind: 'text', required: true, min: 1, max: 200 },
    capacity: { kind: 'integer', required: true, min: 1, max: 1_000_000 },
  },
  heldIn: { table: 'bookings', column: 'event_id' },
  shownInUserLists: ['title', 'slug', 'event_date', 'venue'],
  shownInLists: ['title', 'slug', 'price', 'image_url', 'event_date', 'venue', 'is_published'],
};
