/**
 * The Lua scripts of the v2 Redis store, in two sets. On one node (a plain
 * Redis, or Sentinel's master) a script may read keys it was not given, so a
 * lookup reads the entry, its namespace, the global record and every tag
 * record in one call, and a write checks them all in one call. On a Cluster
 * a script may only touch its own slot, so each record kind has its own
 * small script and the store runs them in parallel. Formats (see also
 * entry-header.ts):
 *
 *   namespace record  string  token(16) [soft-clear clock]
 *   global record     string  all-generation token(16) clear clock (a string, so a hit can read it in one MGET)
 *   tag record        hash    t: token, c: clock of its last hard clear, s: of its last soft clear
 *
 * Clocks are decimal strings of microseconds, compared as Lua numbers (exact below 2^53).
 */

// Shared helpers: a number from a reply that may be false or empty; the clear clock of now; PEXPIRE up to a floor.
const PRELUDE = `
local function num(x) if x then return tonumber(x) or 0 end return 0 end
local function now() local t = redis.call('TIME') return tonumber(t[1]) * 1000000 + tonumber(t[2]) end
local function fmt(c) return string.format('%.0f', c) end
local function atLeast(key, ttl) local p = redis.call('PTTL', key) if p ~= -2 and p < ttl then redis.call('PEXPIRE', key, ttl) end end
`;

// Prepares a fill after a miss: the namespace record (created with the short fill TTL, or kept at least that long),
// and the fill lock (ARGV lock token) or whether another holds it. Shared by both lookups; needs g, KEYS[1], KEYS[3].
const PREPARE = `
local lock = 0
if ARGV[2] == '1' then
  local fillTtl = tonumber(ARGV[5])
  if not g then g = ARGV[6] redis.call('SET', KEYS[1], g, 'PX', fillTtl) else atLeast(KEYS[1], fillTtl) end
end
if ARGV[3] ~= '' then
  if redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4], 'NX') then lock = 1 else lock = 2 end
elseif redis.call('EXISTS', KEYS[3]) == 1 then lock = 2 end
`;

// Reads an entry's header (never its payload: moving a body through Lua costs a copy per hit) into h, with GETRANGE:
// 512 bytes, more when its tags need it (64 tags of at most 217 bytes each). Needs KEYS[2].
const READ_HEADER = `
local h = redis.call('GETRANGE', KEYS[2], 0, 511)
local n = string.byte(h, 49)
if n and string.len(h) == 512 and 49 + n * 217 > 512 then h = redis.call('GETRANGE', KEYS[2], 0, 48 + n * 217) end
`;

/**
 * One node. KEYS: namespace record, entry, fill lock, global record.
 * ARGV: unused, prepare ('1'), lock token, lock TTL, fill TTL, new namespace token, new all token.
 * Validates the entry's header against the namespace, the global record and each tag record; the store reads
 * the entry itself with a GET pipelined right after this call and checks it still has the header validated here.
 * Returns {status (0 miss, 1 hit, 2 soft-cleared), lock (0 free, 1 taken, 2 busy), namespace record, all token,
 * clock, validated header}. The hit path comes first and defines no function (closures cost per call).
 */
export const LOOKUP_ONE_NODE = `
local g = redis.call('GET', KEYS[1])
local av = redis.call('GET', KEYS[4])
local a = {false, false}
if av then a = {string.sub(av, 1, 16), string.sub(av, 17)} end
if g and a[1] then
  ${READ_HEADER}
  if n and string.sub(h, 1, 16) == string.sub(g, 1, 16) and string.sub(h, 17, 32) == a[1] then
    local fill = tonumber(string.sub(h, 33, 48)) or 0
    local status = 1
    if (tonumber(string.sub(g, 17)) or 0) > fill then status = 2 end
    local pos = 50
    local tagPrefix = string.sub(KEYS[4], 1, -4) .. 't:{'
    for i = 1, n do
      local len = string.byte(h, pos + 16)
      if not len then status = 0 break end
      local r = redis.call('HMGET', tagPrefix .. string.sub(h, pos + 17, pos + 16 + len) .. '}', 't', 's')
      if r[1] ~= string.sub(h, pos, pos + 15) then status = 0 break end
      if (tonumber(r[2]) or 0) > fill then status = 2 end
      pos = pos + 17 + len
    end
    if status ~= 0 then return {status, 0, g, a[1], a[2], string.sub(h, 1, pos - 1)} end
  end
end
${PRELUDE}
if ARGV[2] == '1' then
  if not a[1] then
    a = {ARGV[7], fmt(now())}
    redis.call('SET', KEYS[4], a[1] .. a[2], 'PX', ARGV[5])
  else atLeast(KEYS[4], tonumber(ARGV[5])) end
end
${PREPARE}
return {0, lock, g, a[1], a[2], false}
`;

/**
 * Cluster, the namespace's slot. KEYS: namespace record, entry, fill lock. ARGV as LOOKUP_ONE_NODE.
 * Checks what the slot can (namespace token, its soft clear) on the header; the store reads the entry with a
 * GET pipelined after it, and checks the global and tag records itself.
 * Returns {status (0 miss, 1 candidate, 2 soft-cleared candidate), lock, namespace record, header}.
 */
export const LOOKUP_SLOT = `
local g = redis.call('GET', KEYS[1])
if g then
  ${READ_HEADER}
  if n and string.sub(h, 1, 16) == string.sub(g, 1, 16) then
    local status = 1
    if (tonumber(string.sub(g, 17)) or 0) > (tonumber(string.sub(h, 33, 48)) or 0) then status = 2 end
    return {status, 0, g, h}
  end
end
${PRELUDE}
${PREPARE}
return {0, lock, g, false}
`;

/**
 * Cluster, the global record's slot. KEYS: global record. ARGV: prepare ('1'), new all token, fill TTL.
 * Returns {all token, clock}, creating the record (short TTL) when it is absent and asked to prepare.
 */
export const READ_ALL = `${PRELUDE}
local av = redis.call('GET', KEYS[1])
if av then return {string.sub(av, 1, 16), string.sub(av, 17)} end
if ARGV[1] ~= '1' then return {false, false} end
local a = {ARGV[2], fmt(now())}
redis.call('SET', KEYS[1], a[1] .. a[2], 'PX', ARGV[3])
return a
`;

/**
 * One node. KEYS: namespace record, entry, fill lock, global record. ARGV: tag key prefix, value (header with
 * token placeholders, then payload), entry TTL, record TTL (>= entry TTL), release token, a new token per tag
 * (concatenated), short TTL for a tag record created by a write that is then refused.
 * Returns 1 stored, 0 a generation changed or vanished, 2 cleared since the fill began.
 */
export const WRITE_ONE_NODE = `${PRELUDE}
if ARGV[5] ~= '' and redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
local v = ARGV[2]
local g = redis.call('GET', KEYS[1])
if not g or string.sub(g, 1, 16) ~= string.sub(v, 1, 16) then return 0 end
local fill = tonumber(string.sub(v, 33, 48)) or 0
if num(string.sub(g, 17)) > fill then return 2 end
local av = redis.call('GET', KEYS[4])
if not av or string.sub(av, 1, 16) ~= string.sub(v, 17, 32) then return 0 end
local a = {string.sub(av, 1, 16), string.sub(av, 17)}
local clock = num(a[2])
local recordTtl = tonumber(ARGV[4])
local tags = {}
local pos = 50
for i = 1, string.byte(v, 49) do
  local len = string.byte(v, pos + 16)
  local key = ARGV[1] .. string.sub(v, pos + 17, pos + 16 + len) .. '}'
  local r = redis.call('HMGET', key, 't', 'c', 's')
  if not r[1] then
    -- Absent (never made, expired or evicted): it may have been cleared at any time up to now.
    r = {string.sub(ARGV[6], i * 16 - 15, i * 16), a[2]}
    redis.call('HSET', key, 't', r[1], 'c', a[2], 's', '0')
    redis.call('PEXPIRE', key, ARGV[7])
    if clock > fill then return 2 end
  elseif num(r[2]) > fill or num(r[3]) > fill then return 2 end
  tags[i] = {pos - 1, r[1], key}
  pos = pos + 17 + len
end
redis.call('SET', KEYS[2], v, 'PX', ARGV[3])
for _, t in ipairs(tags) do
  redis.call('SETRANGE', KEYS[2], t[1], t[2])
  atLeast(t[3], recordTtl)
end
atLeast(KEYS[1], recordTtl)
atLeast(KEYS[4], recordTtl)
return 1
`;

/**
 * Cluster, the namespace's slot. KEYS: namespace record, entry, fill lock. ARGV: value (tokens filled in),
 * entry TTL, record TTL, release token. Returns as WRITE_ONE_NODE.
 */
export const WRITE_SLOT = `${PRELUDE}
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
local v = ARGV[1]
local g = redis.call('GET', KEYS[1])
if not g or string.sub(g, 1, 16) ~= string.sub(v, 1, 16) then return 0 end
if num(string.sub(g, 17)) > (tonumber(string.sub(v, 33, 48)) or 0) then return 2 end
redis.call('SET', KEYS[2], v, 'PX', ARGV[2])
atLeast(KEYS[1], tonumber(ARGV[3]))
return 1
`;

/** Cluster, the global record's slot, on a write. ARGV: all token seen, record TTL. Returns {1 current or 0, clock}. */
export const TOUCH_ALL = `${PRELUDE}
local av = redis.call('GET', KEYS[1])
if not av then return {0, false} end
if string.sub(av, 1, 16) ~= ARGV[1] then return {0, string.sub(av, 17)} end
atLeast(KEYS[1], tonumber(ARGV[2]))
return {1, string.sub(av, 17)}
`;

/**
 * Cluster, a tag's slot, on a write. ARGV: new token, clock to create it with ('' = do not create), TTL of a
 * created record, fill clock, record TTL. Returns {token, hard clock, soft clock} (token false: absent).
 * A record this fill passes is kept at least the record TTL.
 */
export const ENSURE_TAG = `${PRELUDE}
local r = redis.call('HMGET', KEYS[1], 't', 'c', 's')
if r[1] then
  local fill = tonumber(ARGV[4])
  if num(r[2]) <= fill and num(r[3]) <= fill then atLeast(KEYS[1], tonumber(ARGV[5])) end
  return r
end
if ARGV[2] == '' then return {false, false, false} end
redis.call('HSET', KEYS[1], 't', ARGV[1], 'c', ARGV[2], 's', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {ARGV[1], ARGV[2], '0'}
`;

// Advances the clear clock of the global record KEYS[g] (created when absent, with ARGV[2] as its token and ARGV[3]
// as its least TTL) and leaves it, formatted, in the local c declared before. Never goes back: max(clock + 1, now).
const BUMP = (g: string): string => `
c = now()
local av = redis.call('GET', KEYS[${g}])
if av then c = math.max(num(string.sub(av, 17)) + 1, c) redis.call('SET', KEYS[${g}], string.sub(av, 1, 16) .. fmt(c), 'KEEPTTL')
else redis.call('SET', KEYS[${g}], ARGV[2] .. fmt(c)) end
atLeast(KEYS[${g}], tonumber(ARGV[3]))
c = fmt(c)
`;

// Clears one record by mode: a namespace gets a new token (hard) or keeps it with the clock c as its soft clear;
// a tag gets a new token and c as its hard clear, or c as its soft clear. Absent records are left absent.
const CLEAR_ONE = `
local function clearOne(key, mode, token, c)
  if mode == 'ns-hard' or mode == 'ns-soft' then
    local g = redis.call('GET', key)
    if not g then return end
    if mode == 'ns-hard' then redis.call('SET', key, token, 'KEEPTTL') else redis.call('SET', key, string.sub(g, 1, 16) .. c, 'KEEPTTL') end
  elseif redis.call('EXISTS', key) == 1 then
    if mode == 'tag-hard' then redis.call('HSET', key, 't', token, 'c', c) else redis.call('HSET', key, 's', c) end
  end
end
`;

/**
 * Cluster: advances the clear clock. KEYS: global record. ARGV: unused, token if created, least TTL.
 * Returns the new clock.
 */
export const BUMP_CLOCK = `${PRELUDE}
local c
${BUMP('1')}
return c
`;

/**
 * Cluster: clears one namespace or tag record, only if it exists (an absent one already validates nothing).
 * KEYS: the record. ARGV: mode ('ns-hard', 'ns-soft', 'tag-hard', 'tag-soft'), new token, clock.
 */
export const CLEAR_RECORD = `${CLEAR_ONE}
clearOne(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return 1
`;

/**
 * One node: clears records and advances the clock in one call. KEYS: global record, then the records.
 * ARGV: mode, token for a created global record, its least TTL, then a new token per record.
 */
export const CLEAR_ONE_NODE = `${PRELUDE}${CLEAR_ONE}
local c = ''
if ARGV[1] ~= 'ns-hard' then
${BUMP('1')}
end
for i = 2, #KEYS do clearOne(KEYS[i], ARGV[1], ARGV[2 + i], c) end
return 1
`;

/** Replaces the all-generation token if the record exists (keeping its clock and TTL). KEYS: global record. ARGV: new token. */
export const CLEAR_ALL = `
local av = redis.call('GET', KEYS[1])
if av then redis.call('SET', KEYS[1], ARGV[1] .. string.sub(av, 17), 'KEEPTTL') end
return 1
`;
