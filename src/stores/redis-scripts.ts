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
 * Clocks are decimal strings of microseconds, compared as Lua numbers (exact below 2^53). A ticket also carries
 * when its fill began (TIME of the node that will check it, µs): a write with tags is refused once its fill is
 * older than the fill TTL, the shortest a tag record lives after a clear, so an absent tag record means "not
 * cleared during this fill" (see store.ts).
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
 * clock, validated header, TIME in µs (a miss; a hit when preparing: a refresh writes under it)}. The hit path
 * comes first and defines no function (closures cost per call).
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
    if status ~= 0 then
      local st = false
      if ARGV[2] == '1' then local t = redis.call('TIME') st = t[1] .. string.format('%06d', t[2]) end
      return {status, 0, g, a[1], a[2], string.sub(h, 1, pos - 1), st}
    end
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
return {0, lock, g, a[1], a[2], false, fmt(now())}
`;

/**
 * Cluster, the namespace's slot. KEYS: namespace record, entry, fill lock. ARGV as LOOKUP_ONE_NODE.
 * Checks what the slot can (namespace token, its soft clear) on the header; the store reads the entry with a
 * GET pipelined after it, and checks the global and tag records itself.
 * Returns {status (0 miss, 1 candidate, 2 soft-cleared candidate), lock, namespace record, header, TIME in µs}:
 * this node's TIME, since WRITE_SLOT on this node checks the fill's age against it.
 */
export const LOOKUP_SLOT = `
local g = redis.call('GET', KEYS[1])
if g then
  ${READ_HEADER}
  if n and string.sub(h, 1, 16) == string.sub(g, 1, 16) then
    local status = 1
    if (tonumber(string.sub(g, 17)) or 0) > (tonumber(string.sub(h, 33, 48)) or 0) then status = 2 end
    local t = redis.call('TIME')
    return {status, 0, g, h, t[1] .. string.format('%06d', t[2])}
  end
end
${PRELUDE}
${PREPARE}
return {0, lock, g, false, fmt(now())}
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
 * (concatenated), when the fill began ('' = unknown: its fill clock, which is earlier), the oldest a fill with
 * tags may be (µs). Returns 1 stored, 0 a generation changed or vanished, 2 cleared since the fill began (or too
 * old to tell). Checks everything before writing anything: a refused write leaves no record behind.
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
local n = string.byte(v, 49)
-- A clear of a tag without a record makes one that lives the fill TTL: older fills cannot rely on its absence.
if n > 0 and now() - (tonumber(ARGV[7]) or fill) >= tonumber(ARGV[8]) then return 2 end
local recordTtl = tonumber(ARGV[4])
local tags = {}
local pos = 50
for i = 1, n do
  local len = string.byte(v, pos + 16)
  local key = ARGV[1] .. string.sub(v, pos + 17, pos + 16 + len) .. '}'
  local r = redis.call('HMGET', key, 't', 'c', 's')
  if r[1] and (num(r[2]) > fill or num(r[3]) > fill) then return 2 end
  tags[i] = {pos - 1, r[1], key, i}
  pos = pos + 17 + len
end
redis.call('SET', KEYS[2], v, 'PX', ARGV[3])
for _, t in ipairs(tags) do
  if not t[2] then
    -- Absent (never made, or expired after its last clear, before this fill began): never cleared as far as this fill can tell.
    t[2] = string.sub(ARGV[6], t[4] * 16 - 15, t[4] * 16)
    redis.call('HSET', t[3], 't', t[2], 'c', '0', 's', '0')
  end
  redis.call('SETRANGE', KEYS[2], t[1], t[2])
  atLeast(t[3], recordTtl)
end
atLeast(KEYS[1], recordTtl)
atLeast(KEYS[4], recordTtl)
return 1
`;

/**
 * Cluster, the namespace's slot. KEYS: namespace record, entry, fill lock. ARGV: value (tokens filled in),
 * entry TTL, record TTL, release token, when the fill began on this node ('' = unknown: its fill clock), the
 * oldest the fill may be (µs; '' = no limit, an entry without tags). Runs after the tag records were read, so
 * a record that had expired then is covered by the age checked now. Returns as WRITE_ONE_NODE.
 */
export const WRITE_SLOT = `${PRELUDE}
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
local v = ARGV[1]
local g = redis.call('GET', KEYS[1])
if not g or string.sub(g, 1, 16) ~= string.sub(v, 1, 16) then return 0 end
local fill = tonumber(string.sub(v, 33, 48)) or 0
if num(string.sub(g, 17)) > fill then return 2 end
if ARGV[6] ~= '' and now() - (tonumber(ARGV[5]) or fill) >= tonumber(ARGV[6]) then return 2 end
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
 * Cluster, a tag's slot, on a write. ARGV: new token, fill clock, record TTL. Returns {token, hard clock, soft
 * clock}. A record this fill passes is kept at least the record TTL; an absent one (never made, or expired
 * after its last clear) is created never cleared (c = 0): the write's age check, after this, covers the rest.
 */
export const ENSURE_TAG = `${PRELUDE}
local r = redis.call('HMGET', KEYS[1], 't', 'c', 's')
if r[1] then
  local fill = tonumber(ARGV[2])
  if num(r[2]) <= fill and num(r[3]) <= fill then atLeast(KEYS[1], tonumber(ARGV[3])) end
  return r
end
redis.call('HSET', KEYS[1], 't', ARGV[1], 'c', '0', 's', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {ARGV[1], '0', '0'}
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
// an absent namespace record is left absent (a fill in flight made or kept it, and a write needs it). A tag gets
// a new token and c as its hard clear, or c as its soft clear, and lives at least fillTtl more; an absent tag
// record is created for fillTtl only, so a fill in flight that carries the tag sees the clear, and a write whose
// fill is older than fillTtl is refused: an absent tag record means "not cleared during this fill".
const CLEAR_ONE = `
local function clearOne(key, mode, token, c, fillTtl)
  if mode == 'ns-hard' or mode == 'ns-soft' then
    local g = redis.call('GET', key)
    if not g then return end
    if mode == 'ns-hard' then redis.call('SET', key, token, 'KEEPTTL') else redis.call('SET', key, string.sub(g, 1, 16) .. c, 'KEEPTTL') end
  elseif redis.call('EXISTS', key) == 1 then
    if mode == 'tag-hard' then redis.call('HSET', key, 't', token, 'c', c) else redis.call('HSET', key, 's', c) end
    local p = redis.call('PTTL', key) if p ~= -1 and p < fillTtl then redis.call('PEXPIRE', key, fillTtl) end
  else
    if mode == 'tag-hard' then redis.call('HSET', key, 't', token, 'c', c, 's', '0')
    else redis.call('HSET', key, 't', token, 'c', '0', 's', c) end
    redis.call('PEXPIRE', key, fillTtl)
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
 * Cluster: clears one namespace or tag record (an absent tag gets a record that lives fillTtl; see CLEAR_ONE).
 * KEYS: the record. ARGV: mode ('ns-hard', 'ns-soft', 'tag-hard', 'tag-soft'), new token, clock, fill TTL.
 */
export const CLEAR_RECORD = `${CLEAR_ONE}
clearOne(KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
return 1
`;

/**
 * One node: clears records and advances the clock in one call. KEYS: global record, then the records.
 * ARGV: mode, token for a created global record, its least TTL, fill TTL, then a new token per record.
 */
export const CLEAR_ONE_NODE = `${PRELUDE}${CLEAR_ONE}
local c = ''
if ARGV[1] ~= 'ns-hard' then
${BUMP('1')}
end
local fillTtl = tonumber(ARGV[4])
for i = 2, #KEYS do clearOne(KEYS[i], ARGV[1], ARGV[3 + i], c, fillTtl) end
return 1
`;

/** Replaces the all-generation token if the record exists (keeping its clock and TTL). KEYS: global record. ARGV: new token. */
export const CLEAR_ALL = `
local av = redis.call('GET', KEYS[1])
if av then redis.call('SET', KEYS[1], ARGV[1] .. string.sub(av, 17), 'KEEPTTL') end
return 1
`;
