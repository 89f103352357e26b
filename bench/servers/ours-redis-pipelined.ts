// Variant "ours-redis-pipelined": ours on Redis with an ioredis client created with
// enableAutoPipelining (the commands of one event-loop tick share a socket write).
// The same server as ours-redis.ts, told by an environment variable.

process.env.BENCH_AUTO_PIPELINING = '1';
void import('./ours-redis');
