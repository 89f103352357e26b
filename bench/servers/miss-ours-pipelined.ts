// Variant "miss-ours-pipelined": the miss path through ours with an ioredis client created with
// enableAutoPipelining (the commands of one event-loop tick share a socket write).
// The same server as miss-ours.ts, told by an environment variable.

process.env.BENCH_AUTO_PIPELINING = '1';
void import('./miss-ours');
