// Variant "redis-floor-pipelined": the floor with an ioredis client created with
// enableAutoPipelining, for comparing ours with that option like for like.
// The same server as redis-floor.ts, told by an environment variable.

process.env.BENCH_AUTO_PIPELINING = '1';
void import('./redis-floor');
