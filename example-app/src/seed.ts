/**
 * Deterministic seed data for an empty shop. Every row is computed inside
 * PostgreSQL from generate_series and arithmetic, so the same database comes
 * out on every run and 85,000 rows load in seconds, PGlite included.
 * The one moving part: event dates are laid out around an anchor day (the day
 * of seeding unless told otherwise), so a fresh shop always has past and
 * upcoming events. The prebuilt snapshot is seeded around a fixed day and
 * moved to the day it is loaded on, so it never depends on when it was built.
 */
import type { Db } from './db';

/** How many rows of each kind the seed creates. */
export const seedSizes = {
  courses: 500,
  products: 300,
  events: 200,
  users: 5000,
  enrollments: 50_000,
  purchases: 20_000,
  bookings: 10_000,
} as const;

const s = seedSizes;

const topics = `ARRAY['PostgreSQL','Redis','TypeScript','Node.js','Express','Docker','Kubernetes','React',
  'GraphQL','Rust','Go','Python','Machine Learning','Data Engineering','Web Security','System Design',
  'Linux','Git','Testing','Cloud Architecture']`;

// Within one user the k-th item is (user * a + k * b) mod n + 1, with b chosen so
// that k * b never repeats mod n: no user holds the same item twice.
const seedScript = (anchorDay: string): string => `
SELECT pg_advisory_xact_lock(7355609);
DO $seed$
BEGIN
  IF EXISTS (SELECT 1 FROM courses) OR EXISTS (SELECT 1 FROM products)
     OR EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM users) THEN
    RETURN;
  END IF;

  WITH base AS (
    SELECT g,
      (ARRAY['Practical','Modern','Complete','Hands-on','Essential','Advanced','Applied','Fast-track',
             'Deep-dive','Professional'])[1 + g % 10] AS adjective,
      (${topics})[1 + (g / 10) % 20] AS topic,
      timestamptz '2024-01-01 09:00:00+00' + g * interval '13 hours' AS created_at
    FROM generate_series(1, ${s.courses}) AS g
  )
  INSERT INTO courses (id, title, slug, description, price, image_url, curriculum, duration_hours,
                       level, is_published, created_at, updated_at, deleted_at)
  SELECT g,
    adjective || ' ' || topic || ' ' || g,
    regexp_replace(lower(adjective || ' ' || topic || ' ' || g), '[^a-z0-9]+', '-', 'g'),
    'A ' || lower(adjective) || ' course on ' || topic || ', with exercises and a final project.',
    19 + (g * 37) % 180 + 0.99,
    'https://cdn.example.test/courses/' || g || '.jpg',
    (SELECT jsonb_agg(jsonb_build_object('module', m, 'title', topic || ', part ' || m,
                                         'lessons', 3 + (g + m) % 6) ORDER BY m)
       FROM generate_series(1, 3 + g % 5) AS m),
    2 + (g * 7) % 40 + 0.5 * (g % 2),
    (ARRAY['beginner','intermediate','advanced'])[1 + g % 3],
    g % 10 <> 0,
    created_at,
    created_at + (g % 45) * interval '1 day',
    CASE WHEN g % 25 = 0 THEN created_at + (g % 45 + 1) * interval '1 day' END
  FROM base;

  WITH base AS (
    SELECT g,
      (ARRAY['pdf','video','audio','ebook','bundle'])[1 + g % 5] AS type,
      (ARRAY['Cheat Sheet','Video Series','Audio Guide','Handbook','Bundle'])[1 + g % 5] AS noun,
      (${topics})[1 + (g / 5) % 20] AS topic,
      timestamptz '2024-02-01 09:00:00+00' + g * interval '17 hours' AS created_at
    FROM generate_series(1, ${s.products}) AS g
  )
  INSERT INTO products (id, title, slug, description, price, image_url, type, file_size_mb,
                        is_published, created_at, updated_at, deleted_at)
  SELECT g,
    topic || ' ' || noun || ' ' || g,
    regexp_replace(lower(topic || ' ' || noun || ' ' || g), '[^a-z0-9]+', '-', 'g'),
    'A downloadable ' || type || ' about ' || topic || '.',
    4 + (g * 29) % 95 + 0.99,
    'https://cdn.example.test/products/' || g || '.jpg',
    type,
    (ARRAY[2, 850, 120, 8, 1500])[1 + g % 5] + g % 17,
    g % 8 <> 0,
    created_at,
    created_at + (g % 30) * interval '1 day',
    CASE WHEN g % 30 = 0 THEN created_at + (g % 30 + 1) * interval '1 day' END
  FROM base;

  WITH base AS (
    SELECT g,
      (ARRAY['Workshop','Meetup','Conference','Webinar','Masterclass'])[1 + g % 5] AS kind,
      (${topics})[1 + (g / 5) % 20] AS topic,
      timestamptz '2024-03-01 09:00:00+00' + g * interval '19 hours' AS created_at
    FROM generate_series(1, ${s.events}) AS g
  )
  INSERT INTO events (id, title, slug, description, price, image_url, event_date, venue, capacity,
                      is_published, created_at, updated_at, deleted_at)
  SELECT g,
    topic || ' ' || kind || ' ' || g,
    regexp_replace(lower(topic || ' ' || kind || ' ' || g), '[^a-z0-9]+', '-', 'g'),
    'A ' || lower(kind) || ' on ' || topic || ' with talks and open questions.',
    CASE WHEN g % 4 = 0 THEN 0 ELSE 9 + (g * 31) % 290 + 0.99 END,
    'https://cdn.example.test/events/' || g || '.jpg',
    ${anchorDay} + (g - ${s.events / 2}) * interval '2 days' + interval '18 hours',
    (ARRAY['Berlin, Kulturbrauerei','London, Barbican Centre','Online','Lisbon, LX Factory',
           'Toronto, Metro Convention Centre','Tokyo, Big Sight'])[1 + g % 6],
    60 + (g * 37) % 240,
    g % 10 <> 0,
    created_at,
    created_at + (g % 20) * interval '1 day',
    CASE WHEN g % 40 = 0 THEN created_at + (g % 20 + 1) * interval '1 day' END
  FROM base;

  INSERT INTO users (id, email, name, created_at)
  SELECT g,
    'user' || g || '@example.test',
    (ARRAY['Ada','Grace','Alan','Barbara','Edsger','Frances','Donald','Margaret','Ken','Radia',
           'Linus','Sophie','Tim','Hedy','John','Katherine','Dennis','Shafi','Leslie','Annie'])[1 + g % 20]
      || ' ' ||
    (ARRAY['Lovelace','Hopper','Turing','Liskov','Dijkstra','Allen','Knuth','Hamilton','Thompson',
           'Perlman','Torvalds','Wilson','Berners-Lee','Lamarr','McCarthy','Johnson','Ritchie',
           'Goldwasser','Lamport','Easley','Kay','Stroustrup','Wirth','Backus','Hoare'])[1 + (g / 20) % 25],
    timestamptz '2023-06-01 00:00:00+00' + g * interval '2 hours'
  FROM generate_series(1, ${s.users}) AS g;

  INSERT INTO enrollments (id, user_id, course_id, progress, enrolled_at)
  SELECT g + 1,
    g % ${s.users} + 1,
    ((g % ${s.users} + 1) * 7 + (g / ${s.users}) * 53) % ${s.courses} + 1,
    (g * 13) % 101,
    timestamptz '2024-03-01 00:00:00+00' + g * interval '11 minutes'
  FROM generate_series(0, ${s.enrollments - 1}) AS g;

  INSERT INTO purchases (id, user_id, product_id, price_paid, purchased_at)
  SELECT g + 1, g % ${s.users} + 1, p.id, p.price,
    timestamptz '2024-02-15 00:00:00+00' + g * interval '23 minutes'
  FROM generate_series(0, ${s.purchases - 1}) AS g
  JOIN products p ON p.id = ((g % ${s.users} + 1) * 11 + (g / ${s.users}) * 71) % ${s.products} + 1;

  INSERT INTO bookings (id, user_id, event_id, booked_at)
  SELECT g + 1, g % ${s.users} + 1, e.id, e.event_date - (g % 60 + 1) * interval '1 day'
  FROM generate_series(0, ${s.bookings - 1}) AS g
  JOIN events e ON e.id = ((g % ${s.users} + 1) * 13 + (g / ${s.users}) * 37) % ${s.events} + 1;
END
$seed$;
SELECT setval(pg_get_serial_sequence('courses', 'id'), GREATEST((SELECT max(id) FROM courses), 1));
SELECT setval(pg_get_serial_sequence('products', 'id'), GREATEST((SELECT max(id) FROM products), 1));
SELECT setval(pg_get_serial_sequence('events', 'id'), GREATEST((SELECT max(id) FROM events), 1));
SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST((SELECT max(id) FROM users), 1));
SELECT setval(pg_get_serial_sequence('enrollments', 'id'), GREATEST((SELECT max(id) FROM enrollments), 1));
SELECT setval(pg_get_serial_sequence('purchases', 'id'), GREATEST((SELECT max(id) FROM purchases), 1));
SELECT setval(pg_get_serial_sequence('bookings', 'id'), GREATEST((SELECT max(id) FROM bookings), 1));
`;

/** Options of `seedIfEmpty`. */
export interface SeedOptions {
  /** The day event dates are laid out around (its UTC midnight); default: today. */
  anchorDay?: Date;
}

/** Seeds the shop when it holds no catalog and no users; says whether it did. */
export async function seedIfEmpty(db: Db, options: SeedOptions = {}): Promise<boolean> {
  const { rows } = await db.query<{ empty: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM courses) AND NOT EXISTS (SELECT 1 FROM products)
        AND NOT EXISTS (SELECT 1 FROM events) AND NOT EXISTS (SELECT 1 FROM users) AS empty`,
  );
  if (rows[0]?.empty !== true) return false;
  // The script checks again under a lock, so two processes starting together seed once.
  const anchor = options.anchorDay
    ? `timestamptz '${utcMidnight(options.anchorDay).toISOString()}'`
    : `date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
  await db.exec(seedScript(anchor));
  return true;
}

/** The UTC midnight that starts `day`. */
export function utcMidnight(day: Date): Date {
  return new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()));
}
