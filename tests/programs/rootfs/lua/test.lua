-- The Lua differential test and benchmark (issue 3 items 6 and 7): `lua lua/test.lua` from the rootfs root.
-- Strings, tables, math, string.format, file I/O in the rootfs, coroutines, pcall/error, os.time/os.clock
-- sanity, then a few seconds' worth of ordinary interpreter work whose results are printed as checksums.
-- Everything printed is deterministic: no times, no addresses, no pairs() order (Lua 5.4 seeds its string
-- hashes per run, so traversal order of hash tables differs between runs).

local checks, failures = 0, 0
local function check(condition, what)
  checks = checks + 1
  if not condition then
    failures = failures + 1
    print("FAIL: " .. what)
  end
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Strings -----------------------------------------------------------------------------------------------------
print("== strings")
local s = "The quick brown fox jumps over the lazy dog"
print(#s, s:upper(), s:lower():sub(5, 9), s:reverse():sub(1, 8))
print(s:find("fox"), s:find("o", 20, true), s:match("(%a+) dog$"))
print((s:gsub("%w+", function(w) return w:sub(1, 1):upper() .. w:sub(2) end)))
print(select(2, s:gsub("o", "0")), ("x"):rep(5, "-"), ("%d items"):format(3))
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w end
print(#words, table.concat(words, "|"))
print(string.format("%5d|%-5d|%05.1f|%x|%X|%o|%e|%g|%g", 42, 42, 3.14159, 255, 255, 8, 12345.678, 0.1, 1e20))
print(string.format("%q", "tab\there \"quoted\" \0 nul\n"))
print(string.format("%s %s %s %10.3s|", nil, true, 12.5, "abcdef"))
print(string.byte("ABC", 1, -1), string.char(72, 105))
local packed = string.pack("<i4 >i2 z d", 100000, -2, "zstr", 2.5)
print(#packed, string.unpack("<i4 >i2 z d", packed))
print(utf8.char(72, 228, 8364, 128512), utf8.len("häß€"), #"häß€")
for position, code in utf8.codes("aé€") do io.write(position, ":", code, " ") end
print()
check(tostring(10 // 3) == "3" and tostring(10 / 2) == "5.0" and tostring(2^53) == "9.007199254741e+15",
  "number formatting")
check(("abc"):rep(3) == "abcabcabc" and ("a,b,,c"):find(",,", 1, true) == 4, "rep and plain find")

-- Tables ------------------------------------------------------------------------------------------------------
print("== tables")
local t = {}
for i = 1, 10 do t[#t + 1] = i * i end
table.insert(t, 1, 0)
table.remove(t, 5)
print(#t, table.concat(t, ","))
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, ","))
print(table.concat(table.move({1, 2, 3, 4, 5}, 2, 4, 1, {}), ","), table.unpack({7, 8, 9}))
print(select("#", table.unpack({1, nil, 3}, 1, 3)), table.pack(1, nil, 3).n)
local record = {name = "lua", version = 5.4, [1] = "one", [true] = "yes"}
for _, k in ipairs(sorted_keys(record)) do io.write(tostring(k), "=", tostring(record[k]), " ") end
print()
local Vector = {}
Vector.__index = Vector
Vector.__add = function(a, b) return setmetatable({x = a.x + b.x, y = a.y + b.y}, Vector) end
Vector.__eq = function(a, b) return a.x == b.x and a.y == b.y end
Vector.__lt = function(a, b) return a:length() < b:length() end
Vector.__len = function() return 2 end
Vector.__tostring = function(v) return "(" .. v.x .. ", " .. v.y .. ")" end
Vector.__call = function(v, k) return v.x * k end
function Vector.new(x, y) return setmetatable({x = x, y = y}, Vector) end
function Vector:length() return math.sqrt(self.x ^ 2 + self.y ^ 2) end
local a, b = Vector.new(3, 4), Vector.new(1, 2)
print(tostring(a + b), a == Vector.new(3, 4), b < a, #a, a(10), a:length())
local weak = setmetatable({}, {__mode = "k"})
weak[{}] = true
collectgarbage()
check(next(weak) == nil, "weak keys collected")
local proxy = setmetatable({}, {__index = function(_, k) return k .. "!" end, __newindex = function() error("read-only") end})
print(proxy.hello, pcall(function() proxy.x = 1 end))

-- Math --------------------------------------------------------------------------------------------------------
print("== math")
print(7 // 2, -7 // 2, 7 % 3, -7 % 3, 7.5 // 2, 2^10, 10 / 4, 3 | 5, 6 & 3, 5 ~ 1, ~0, 1 << 62, 256 >> 4)
print(math.maxinteger, math.mininteger, math.maxinteger + 1 == math.mininteger, math.type(1), math.type(1.0),
  math.type("1"))
print(math.floor(-3.5), math.ceil(-3.5), math.abs(-7), math.max(3, 9, 1), math.min(3, 9, 1), math.fmod(7, -3))
print(string.format("%.10f %.10f %.10f %.10f", math.pi, math.sin(1), math.exp(1), math.log(10, 2)))
print(math.tointeger(3.0), math.tointeger(3.5), math.ult(1, -1), 0x10, 1e3, tonumber("0x1p4"), tonumber("  12  "),
  tonumber("z", 36), tonumber("nope"))
print(math.huge, -math.huge, math.huge ~= math.huge - 1, (0/0) ~= (0/0))
math.randomseed(42)
local draws = {}
for i = 1, 5 do draws[i] = math.random(1, 1000) end
print("seeded random:", table.concat(draws, " "), string.format("%.6f", math.random()))
print(pcall(function() return 1 // 0 end))
print("10" + 5, "3" * "4", 10 .. 20)

-- File I/O in the rootfs ----------------------------------------------------------------------------------------
print("== files")
local path = "lua-output.txt"
local f = assert(io.open(path, "w"))
f:write("first line\n", 42, " ", 3.5, "\n", "third\n")
f:close()
f = assert(io.open(path, "a"))
f:write("appended\n")
f:close()
f = assert(io.open(path, "r"))
print(f:read("l"), f:read("n"), f:read("n"), f:read("l"), f:read("L"), f:read("a"))
print(f:seek("set", 6), f:read(4), f:seek("cur"), f:seek("end"))
f:close()
local count = 0
for line in io.lines(path) do count = count + 1 end
print("lines:", count)
check(os.rename(path, "lua-renamed.txt"), "os.rename")
check(io.open(path, "r") == nil, "old name gone")
print(select(2, io.open("no/such/file.txt", "r")))
check(os.remove("lua-renamed.txt"), "os.remove")
print(select(2, os.remove("lua-renamed.txt")))
local word_count, longest, letters = 0, "", {}
for word in io.lines("data/words.txt") do
  word_count = word_count + 1
  if #word > #longest or (#word == #longest and word < longest) then longest = word end
  local first = word:sub(1, 1):lower()
  letters[first] = (letters[first] or 0) + 1
end
io.write("data/words.txt: ", word_count, " words, longest ", longest, ", by first letter:")
for _, k in ipairs(sorted_keys(letters)) do io.write(" ", k, "=", letters[k]) end
print()
local sum, n = 0, 0
for line in io.lines("data/numbers.txt") do sum = sum + tonumber(line); n = n + 1 end
print("data/numbers.txt:", n, "numbers, sum", sum)
local csv = assert(io.open("data/table.csv")):read("a")
local by_dept = {}
for name, dept, salary in csv:gmatch("([^,\n]+),([^,\n]+),(%d+),%d+\n") do
  by_dept[dept] = (by_dept[dept] or 0) + tonumber(salary)
end
for _, dept in ipairs(sorted_keys(by_dept)) do io.write(dept, "=", by_dept[dept], " ") end
print()
io.stdout:write("io.stdout:write works\n")

-- Coroutines ---------------------------------------------------------------------------------------------------
print("== coroutines")
local function range(n)
  return coroutine.wrap(function() for i = 1, n do coroutine.yield(i) end end)
end
local total = 0
for i in range(100) do total = total + i end
print("generator sum", total)
local co = coroutine.create(function(x, y)
  print("started with", x, y)
  local z = coroutine.yield(x + y)
  print("resumed with", z)
  local ok, err = pcall(function() coroutine.yield("inside pcall") end)
  print("pcall around yield", ok, err)
  error({code = 7})
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.status(co), coroutine.resume(co, "z"))
local ok, err = coroutine.resume(co)
print(coroutine.status(co), ok, type(err), err.code)
print(coroutine.resume(co))
print("main is yieldable:", coroutine.isyieldable(), select(2, coroutine.running()))
local sleeping = coroutine.create(function() coroutine.yield() end)
coroutine.resume(sleeping)
print("close:", coroutine.close(sleeping), coroutine.status(sleeping))
-- A producer/consumer pipeline of three coroutines.
local function producer() return coroutine.wrap(function() for _, w in ipairs({"a", "bb", "ccc", "dddd"}) do coroutine.yield(w) end end) end
local function filter(source) return coroutine.wrap(function() for w in source do if #w % 2 == 0 then coroutine.yield(w:upper()) end end end) end
local out = {}
for w in filter(producer()) do out[#out + 1] = w end
print("pipeline:", table.concat(out, " "))

-- Errors -------------------------------------------------------------------------------------------------------
print("== errors")
print(pcall(error, "plain message", 0))
local _, thrown = pcall(error, {reason = "table"})
print("error with a table:", type(thrown), thrown.reason)
print(select(2, pcall(error)))
print(pcall(function() local x = nil; return x.field end))
print(pcall(function() return #5 end))
print(pcall(function() error("with position") end))
print(xpcall(function() error("handled", 0) end, function(m) return "handler got: " .. m end))
print(pcall(string.rep))
print(select("#", pcall(function() return 1, 2, 3 end)), (pcall(setmetatable, 1, {})))
local closed = {}
do
  local resource <close> = setmetatable({}, {__close = function() closed[#closed + 1] = "closed" end})
end
print("to-be-closed:", closed[1])
check(load("return +") == nil, "load of bad code returns nil and a message")
print(load("return +"))
print(load("return 6 * 7")())

-- os --------------------------------------------------------------------------------------------------------------
print("== os")
local now = os.time()
check(type(now) == "number" and now > 1577836800, "os.time is after 2020")
local clock_start = os.clock()
check(clock_start >= 0, "os.clock is not negative")
print(os.date("!%Y-%m-%d %H:%M:%S", 0), os.date("!%j", 86400 * 40), os.time({year = 2000, month = 1, day = 1, hour = 12}) > 0)
print(os.getenv("HOME"), os.getenv("KERNITE_NO_SUCH_VARIABLE"))
check(os.difftime(now + 10, now) == 10, "os.difftime")
local tmp = os.tmpname()
check(type(tmp) == "string" and #tmp > 0, "os.tmpname")
os.remove(tmp)

-- Work: what makes the script a benchmark. Each part prints a checksum. -------------------------------------------
-- `lua lua/test.lua SCALE` sizes the allocation-heavy parts (default 1, the benchmark's size; the differential
-- test uses less, so that it stays quick where every new guest page is expensive, docs/platform-notes.md).
local scale = tonumber(arg and arg[1]) or 1
local function scaled(n) return math.max(1, math.floor(n * scale)) end
print("== work, scale " .. scale)
local function sieve(limit)
  local composite, primes = {}, 0
  for i = 2, limit do
    if not composite[i] then
      primes = primes + 1
      for j = i * i, limit, i do composite[j] = true end
    end
  end
  return primes
end
local limit = scaled(1000000)
print("primes below " .. limit .. ":", sieve(limit))

math.randomseed(7)
local numbers = {}
local count_numbers = scaled(100000)
for i = 1, count_numbers do numbers[i] = math.random(1, 1000000) end
table.sort(numbers)
local sorted_ok = true
for i = 2, #numbers do if numbers[i - 1] > numbers[i] then sorted_ok = false end end
print("sorted " .. count_numbers .. " numbers:", sorted_ok, numbers[1], numbers[count_numbers // 2 + 1], numbers[count_numbers])

local parts = {}
for i = 1, scaled(100000) do parts[#parts + 1] = string.format("%05d:%s", i, string.char(65 + i % 26)) end
local text = table.concat(parts, ";")
local hash = 0
for i = 1, #text, 7 do hash = (hash * 31 + text:byte(i)) % 4294967296 end
print("string building:", #text, hash)
local replaced, replacements = text:gsub("(%d)(%d)(%d)(%d)(%d):", "%5%4%3%2%1=")
print("gsub:", replacements, replaced:sub(1, 40))

local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print("fib(27):", fib(27))

local objects = {}
for i = 1, scaled(100000) do objects[i] = {id = i, name = "object" .. i, tags = {i % 3, i % 5}} end
local tagged = 0
for _, o in ipairs(objects) do if o.tags[1] == 0 and o.tags[2] == 0 then tagged = tagged + 1 end end
objects = nil
collectgarbage()
print("tables allocated and collected:", tagged)

local function matmul(n)
  local a, b, c = {}, {}, {}
  for i = 1, n do
    a[i], b[i], c[i] = {}, {}, {}
    for j = 1, n do a[i][j] = (i + j) % 7; b[i][j] = (i * j) % 5; c[i][j] = 0 end
  end
  for i = 1, n do
    local ai, ci = a[i], c[i]
    for k = 1, n do
      local aik, bk = ai[k], b[k]
      for j = 1, n do ci[j] = ci[j] + aik * bk[j] end
    end
  end
  local trace = 0
  for i = 1, n do trace = trace + c[i][i] end
  return trace
end
print("matrix trace:", matmul(120))

check(os.clock() >= clock_start, "os.clock does not go back")

print(string.format("lua: %d of %d checks passed", checks - failures, checks))
os.exit(failures == 0 and 0 or 1)
