// Variant "ours-redis-tags-1": ours on Redis with every entry carrying 1 tag, so the hit
// path with tags (the lookup script validating each tag record, the GET beside it) is measured beside the one without.
// The same server as ours-redis.ts, told by an environment variable.

process.env.BENCH_TAGS = '1';
void import('./ours-redis');
