/**
 * The native hashing core (native/hash.c) against the JS loop it replaces (hashShare in src/artifact/dir/hash.ts):
 * the same status, stat numbers and digests for every shape a listed file can turn out to have, on the list-then-hash
 * and the streaming paths, and the same walk. In CI the core must have loaded, so these tests cannot quietly
 * compare the JS loop with itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type HashOptions,
  type HashResult,
  hashFiles,
  idleHashWorkers,
  packPaths,
  prestartHashWorkers,
  releaseIdleHashWorkers,
  ST_ERROR,
  ST_MISSING,
  ST_NOT_FILE,
  ST_OK,
  ST_SYMLINK,
  StreamingHash,
} from '../../src/artifact/dir/hash.ts';
import { DEFAULT_RULES, walkDirectory } from '../../src/artifact/dir/index.ts';
import { CompactEntries, canonicalEntry, type ManifestEntry } from '../../src/artifact/dir/manifest.ts';
import {
  nativeAddress,
  nativeHashAvailable,
  nativeHashRuns,
  nativeHashWanted,
  nativeJsonDigests,
  nativeJsonWrite,
  startNativeHash,
} from '../../src/artifact/dir/native.ts';
import { type Node, testTrees } from './helpers.ts';

// This file picks the loop itself (HashOptions.native, or VOUCH_NATIVE per walk): a VOUCH_NATIVE=0 run of the
// whole suite must not turn its native side into a second JS one.
delete process.env.VOUCH_NATIVE;
const REPO = join(import.meta.dirname, '..', '..');
const available = nativeHashAvailable();
const skip = available ? false : 'the native core is not built here (no C compiler?)';
const BUFFER = 1 << 20; // HashJob.bufferSize
const { tree } = testTrees();
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});
const openFds = () => readdirSync('/proc/self/fd').length;

/** Both loops on the same list: identical arrays, and the native one did run. */
async function same(root: string, list: string[], options: HashOptions = {}): Promise<HashResult> {
  const js = await hashFiles(root, list, { ...options, native: false });
  const runs = nativeHashRuns();
  const native = await hashFiles(root, list, options);
  assert.equal(nativeHashRuns(), runs + 1, 'the native core hashed');
  assert.deepEqual([...native.status], [...js.status], 'status');
  assert.deepEqual([...native.meta], [...js.meta], 'mode and size');
  assert.deepEqual(Buffer.from(native.digests), Buffer.from(js.digests), 'digests');
  return native;
}

it('the native core is built and loads in CI', () => {
  if (process.env.CI) assert.ok(available, 'native/build/vouch-hash.node must load in CI');
  assert.equal(nativeHashWanted(), available);
  // Native threads start in microseconds: no worker is started ahead for them.
  prestartHashWorkers(2);
  assert.equal(idleHashWorkers(), available ? 0 : 2);
  releaseIdleHashWorkers();
  const saved = process.env.VOUCH_NATIVE;
  process.env.VOUCH_NATIVE = '0';
  try {
    assert.equal(nativeHashWanted(), false);
  } finally {
    if (saved === undefined) delete process.env.VOUCH_NATIVE;
    else process.env.VOUCH_NATIVE = saved;
  }
});

describe('native and JS loops give the same results', { skip }, () => {
  let root: string;
  let list: string[];
  before(async () => {
    root = tree({
      empty: '',
      one: 'x',
      'buffer-less-1': Buffer.alloc(BUFFER - 1, 1),
      buffer: Buffer.alloc(BUFFER, 2),
      'buffer-plus-1': Buffer.alloc(BUFFER + 1, 3),
      'two-buffers': Buffer.alloc(2 * BUFFER, 4),
      large: Buffer.alloc(3 * BUFFER + 5, 5),
      exec: { content: '#!/bin/sh\n', mode: 0o755 },
      setuid: { content: 'su', mode: 0o4755 },
      setgid: { content: 'sg', mode: 0o2750 },
      'é/ü 😀.txt': 'unicode',
      fifo: { fifo: true },
      'was-file': 'soon a symlink',
      'link-to-dir': { link: '.' },
      dangling: { link: 'nowhere' },
      adir: { dir: true },
      'file-not-dir': 'a file',
      secret: 'unreadable',
    });
    chmodSync(join(root, 'secret'), 0);
    // Swapped after the listing: a symlink where a regular file was listed.
    rmSync(join(root, 'was-file'));
    symlinkSync('one', join(root, 'was-file'));
    const sock = join(root, 'sock');
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    list = [
      ...['empty', 'one', 'buffer-less-1', 'buffer', 'buffer-plus-1', 'two-buffers', 'large'],
      ...['exec', 'setuid', 'setgid', 'é/ü 😀.txt', 'fifo', 'was-file', 'link-to-dir', 'dangling', 'adir'],
      ...['sock', 'deleted', 'file-not-dir/x', 'secret', 'x'.repeat(300), 'nul\0byte', 'adir/../one'],
    ];
  });

  it('every file shape, on one thread and on several', async () => {
    for (const concurrency of [1, 3, undefined]) {
      const r = await same(root, list, { largeFile: 2 * BUFFER + 1, ...(concurrency && { concurrency }) });
      const st = (name: string) => r.status[list.indexOf(name)];
      for (const f of ['empty', 'one', 'buffer', 'buffer-plus-1', 'large', 'setuid', 'é/ü 😀.txt']) {
        assert.equal(st(f), ST_OK, f);
      }
      assert.equal(st('was-file'), ST_SYMLINK);
      assert.equal(st('dangling'), ST_SYMLINK);
      for (const f of ['fifo', 'adir', 'sock']) assert.equal(st(f), ST_NOT_FILE, f);
      assert.equal(st('deleted'), ST_MISSING);
      assert.equal(st('file-not-dir/x'), ST_MISSING);
      assert.equal(st('x'.repeat(300)), ST_ERROR);
      assert.equal(st('nul\0byte'), ST_ERROR);
      assert.equal(r.meta[list.indexOf('buffer') * 2 + 1], BUFFER);
      assert.equal(r.meta[list.indexOf('setuid') * 2]! & 0o7777, 0o4755);
    }
  });

  it('an unreadable file (EACCES), as a user that is not root', async (t) => {
    if (process.getuid?.() !== 0) {
      const r = await same(root, ['secret', 'one']);
      assert.deepEqual([...r.status], [ST_ERROR, ST_OK]);
      return;
    }
    // Root reads any file: compare the two loops in a child running as nobody.
    const dir = tree({ secret: 'unreadable', one: 'x' });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'secret'), 0);
    const script = `
      let m;
      try {
        m = await import(${JSON.stringify(join(REPO, 'src', 'artifact', 'dir', 'hash.ts'))});
      } catch {
        process.stdout.write('null');
        process.exit(0);
      }
      const names = ['secret', 'one'];
      const js = await m.hashFiles(process.argv[1], names, { native: false });
      const native = await m.hashFiles(process.argv[1], names);
      const { nativeHashRuns } = await import(${JSON.stringify(join(REPO, 'src', 'artifact', 'dir', 'native.ts'))});
      process.stdout.write(JSON.stringify({ runs: nativeHashRuns(), js: [...js.status], native: [...native.status] }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir], {
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
    });
    const out =
      r.status === 0 ? (JSON.parse(r.stdout) as { runs: number; js: number[]; native: number[] } | null) : null;
    if (!out) return t.skip(`nobody cannot run the sources here: ${r.stderr.split('\n')[0]}`);
    assert.deepEqual(out, { runs: 1, js: [ST_ERROR, ST_OK], native: [ST_ERROR, ST_OK] });
  });

  it('the streaming job, published while listed, in bursts the threads must wait for', async () => {
    const many = tree(Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`d${i % 7}/f${i}`, `${i}`])));
    const names = [...list.map((p) => `../${root.split('/').at(-1)}/${p}`)];
    for (let i = 0; i < 3000; i++) names.push(`d${i % 7}/f${i}`);
    const stream = async (native: boolean) => {
      const s = new StreamingHash(many, 10_000, 10_000 * 4096, { native, largeFile: 2 * BUFFER + 1, concurrency: 3 });
      for (let i = 0; i < names.length; i++) {
        s.add(names[i]!);
        if (i % 500 === 0) await sleep(5);
      }
      return (await s.finish()).hashed;
    };
    const js = await stream(false);
    const runs = nativeHashRuns();
    const native = await stream(true);
    assert.equal(nativeHashRuns(), runs + 1);
    assert.deepEqual([...native.status], [...js.status]);
    assert.deepEqual([...native.meta], [...js.meta]);
    assert.deepEqual(Buffer.from(native.digests), Buffer.from(js.digests));
    assert.ok(native.status.subarray(list.length).every((s) => s === ST_OK));
  });

  it('5,000 small files hash the same, with progress reported and no descriptor left open', async () => {
    const spec: Record<string, Node> = {};
    for (let i = 0; i < 5000; i++) spec[`d${i % 50}/f${i}`] = `content ${i}`.repeat(i % 40);
    const many = tree(spec);
    const names = Object.keys(spec);
    const fds = openFds();
    const seen: number[] = [];
    const r = await same(many, names, { onProgress: (done, total) => seen.push(done, total) });
    // The JS run's reports, then the native run's: each ends with all files done, never going back.
    const second = seen.lastIndexOf(5000, seen.length - 3) + 1;
    assert.deepEqual(seen.slice(-2), [5000, 5000]);
    for (let i = second + 2; i < seen.length; i += 2) assert.ok(seen[i]! >= seen[i - 2]!);
    assert.ok(r.status.every((s) => s === ST_OK));
    assert.equal(openFds(), fds);
    // Packed paths as the walk passes them.
    const packed = await hashFiles(many, packPaths(names));
    assert.deepEqual(Buffer.from(packed.digests), Buffer.from(r.digests));
  });

  it('whole walks, sign and verify mode, are equal', async () => {
    const spec: Record<string, Node> = {
      'bin/app': { content: 'MZ', mode: 0o755 },
      su: { content: 'x', mode: 0o4755 },
      pipe: { fifo: true },
      link: { link: 'bin/app' },
      empty: { dir: true },
      big: Buffer.alloc(BUFFER + 3, 9),
      'bad\nname': 'x',
    };
    for (let i = 0; i < 4000; i++) spec[`many/m${i % 9}/f${i}`] = `${i}`;
    const root = tree(spec);
    const walk = async (native: boolean, mode: 'sign' | 'verify', at = root) => {
      const saved = process.env.VOUCH_NATIVE;
      if (!native) process.env.VOUCH_NATIVE = '0';
      const runs = nativeHashRuns();
      try {
        const m = await walkDirectory(at, DEFAULT_RULES, { mode });
        assert.equal(nativeHashRuns() > runs, native, 'hashed by the loop asked for');
        return { entries: [...m.entries], stats: m.stats };
      } finally {
        if (saved === undefined) delete process.env.VOUCH_NATIVE;
        else process.env.VOUCH_NATIVE = saved;
      }
    };
    assert.deepEqual(await walk(true, 'verify'), await walk(false, 'verify'));
    for (const p of ['su', 'pipe', 'bad\nname']) rmSync(join(root, p));
    assert.deepEqual(await walk(true, 'sign'), await walk(false, 'sign'));
  });

  it('a walk that fails while the threads hash leaves none running and no descriptor open', async () => {
    const spec: Record<string, Node> = { 'z/pipe': { fifo: true } };
    for (let i = 0; i < 6000; i++) spec[`a${i % 13}/f${i}`] = `x${i}`;
    const root = tree(spec);
    const fds = openFds();
    await assert.rejects(walkDirectory(root, DEFAULT_RULES), { code: 'DIRECTORY_UNSUPPORTED' });
    assert.equal(openFds(), fds);
  });
});

describe('the native core refuses what it cannot use safely', { skip }, () => {
  const job = () => {
    const shared = (n: number) => new SharedArrayBuffer(Math.max(n, 8));
    const packed = packPaths(['a', 'b']);
    return {
      names: packed.names,
      offsets: packed.offsets,
      counter: new Int32Array(shared(16)),
      status: new Int32Array(shared(8)),
      meta: new Float64Array(shared(32)),
      digests: new Uint8Array(shared(64)),
      count: 2,
      stream: false,
      maxFiles: 2,
      chunk: 64,
      bufferSize: BUFFER,
      largeFile: 1 << 24,
    };
  };

  it('bad arguments are refused (the caller falls back to JS), never a crash', async () => {
    const root = tree({ a: 'a', b: 'b' });
    const bad: [string, Record<string, unknown>, number?][] = [
      ['count beyond the arrays', { count: 3 }],
      ['offset beyond the names', { offsets: new Uint32Array(new SharedArrayBuffer(12)).fill(1 << 30) }],
      ['offsets out of order', { offsets: Uint32Array.from([0, 2, 1]) }],
      ['unshared memory', { status: new Int32Array(2) }],
      ['wrong element type', { meta: new Float32Array(new SharedArrayBuffer(64)) }],
      ['not a typed array', { digests: [1, 2, 3] }],
      ['missing number', { chunk: undefined }],
      ['huge buffer', { bufferSize: 2 ** 40 }],
      ['fractional number', { count: 1.5 }],
      ['short counter', { counter: new Int32Array(new SharedArrayBuffer(4)) }],
      ['streamed job too big for its arrays', { stream: true, maxFiles: 1000 }],
      ['no threads', {}, 0],
      ['too many threads', {}, 1000],
    ];
    for (const [why, change, threads] of bad) {
      const j = { ...job(), ...change } as unknown as Parameters<typeof startNativeHash>[1];
      assert.equal(startNativeHash(root, j, threads ?? 1), undefined, why);
    }
    assert.equal(startNativeHash(`${root}\0/x`, job(), 1), undefined, 'root with a NUL byte');
    // A good job still runs after all that.
    const good = job();
    const run = startNativeHash(root, good, 2);
    assert.ok(run);
    await run.done;
    assert.deepEqual([...good.status], [ST_OK, ST_OK]);
  });

  it('threads join a running job, none once it is over; stop() ends a job still waiting for its listing', async () => {
    const root = tree(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, `${i}`])));
    const packed = packPaths(Array.from({ length: 200 }, (_, i) => `f${i}`));
    const streamed = () => ({ ...job(), names: packed.names, offsets: packed.offsets, stream: true, maxFiles: 200 });
    const shared = (n: number) => new SharedArrayBuffer(n);
    const arrays = () => ({
      status: new Int32Array(shared(200 * 4)),
      meta: new Float64Array(shared(200 * 16)),
      digests: new Uint8Array(shared(200 * 32)),
    });
    // Nothing published yet: the threads wait for the listing.
    const a = { ...streamed(), ...arrays() };
    const run = startNativeHash(root, a, 1);
    assert.ok(run);
    assert.equal(run.addThreads(2), 2);
    Atomics.store(a.counter, 2, 200);
    Atomics.store(a.counter, 3, 1);
    await run.done;
    assert.ok(a.status.every((s) => s === ST_OK));
    assert.equal(Atomics.load(a.counter, 1), 200);
    assert.equal(run.addThreads(1), 0);
    run.stop();
    run.stop();
    // Never published, never closed: stop() makes the threads leave, and returns once they have.
    const b = { ...streamed(), ...arrays() };
    const fds = openFds();
    const waiting = startNativeHash(root, b, 3);
    assert.ok(waiting);
    await sleep(20);
    waiting.stop();
    await waiting.done;
    waiting.stop();
    assert.ok(b.status.every((s) => s === 0));
    assert.equal(waiting.addThreads(1), 0);
    assert.equal(openFds(), fds);
  });

  it('a growable shared buffer keeps its address as it grows (what streamed jobs rely on)', () => {
    const Growable = SharedArrayBuffer as unknown as new (
      n: number,
      o: { maxByteLength: number },
    ) => SharedArrayBuffer & {
      grow(n: number): void;
    };
    const b = new Growable(0, { maxByteLength: 256 << 20 });
    const at = nativeAddress(new Uint8Array(b));
    assert.ok(at && at > 0n);
    for (const size of [4096, 1 << 20, 64 << 20, 256 << 20]) {
      b.grow(size);
      assert.equal(nativeAddress(new Uint8Array(b)), at);
    }
  });
});

it(
  'the built CLI loads the native core, and VOUCH_NATIVE=0 keeps it out',
  { skip: skip || process.platform !== 'linux' },
  () => {
    const root = tree(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, `${i}`])));
    const work = tree({});
    // The bundled CLI (dist/cli) in a child; which libraries it mapped says which loop hashed.
    const script = `
    import { readFileSync } from 'node:fs';
    const { main } = await import(${JSON.stringify(join(REPO, 'dist', 'cli', 'main.mjs'))});
    const [root, work] = process.argv.slice(1);
    const out = () => {};
    const io = { out, err: out };
    await main(['keygen', '--out', work + '/k'], io);
    const code = await main(['sign', 'dir:' + root, '--key', work + '/k.key', '--bundle', work + '/b.json'], io);
    process.stdout.write(JSON.stringify({ code, loaded: readFileSync('/proc/self/maps', 'utf8').includes('vouch-hash.node') }));
  `;
    const run = (env: Record<string, string>) => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, root, work], {
        encoding: 'utf8',
        env: { ...process.env, VOUCH_PASSWORD: 'test', VOUCH_HOME: join(work, 'home'), ...env },
      });
      assert.equal(r.status, 0, r.stderr);
      rmSync(join(work, 'k.key'), { force: true });
      rmSync(join(work, 'k.pub'), { force: true });
      return JSON.parse(r.stdout) as { code: number; loaded: boolean };
    };
    assert.deepEqual(run({}), { code: 0, loaded: true });
    assert.deepEqual(run({ VOUCH_NATIVE: '0' }), { code: 0, loaded: false });
  },
);

it('building the core never fails the build: no compiler, a failing one, then a good one', (t) => {
  if (process.platform === 'win32') return t.skip('no native core on Windows');
  const dir = tree({});
  const source = join(dir, 'hash.c');
  copyFileSync(join(REPO, 'native', 'hash.c'), source);
  const output = join(dir, 'build', 'vouch-hash.node');
  const build = (cc: string) => {
    const script = `
      const { buildNative } = await import(${JSON.stringify(join(REPO, 'scripts', 'build-native.mjs'))});
      const built = buildNative(${JSON.stringify({ source, output })});
      process.stderr.write(JSON.stringify(built));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, CC: cc },
    });
    assert.equal(r.status, 0, r.stderr);
    return { built: JSON.parse(r.stderr) as boolean, said: r.stdout.trim().split('\n').filter(Boolean).length };
  };
  assert.deepEqual(build(join(dir, 'no-such-cc')), { built: false, said: 1 });
  assert.deepEqual(build('false'), { built: false, said: 1 });
  assert.equal(existsSync(output), false);
  if (!available) return;
  assert.deepEqual(build(process.env.CC || 'cc'), { built: true, said: 0 });
  assert.ok(existsSync(output));
  // Up to date: not rebuilt, even by a compiler that would fail.
  assert.deepEqual(build('false'), { built: true, said: 0 });
  assert.deepEqual(readdirSync(join(dir, 'build')), ['vouch-hash.node']);
});

/** A walk-shaped table: files from `files`, other entries from `others`, merged in the order given. */
function columnsTable(
  files: { path: string; size: number; flags: number }[],
  others: ManifestEntry[],
  order: number[],
): { compact: CompactEntries; columns: Parameters<typeof nativeJsonDigests>[0] } {
  const packed = packPaths(files.map((f) => f.path));
  const digests = new Uint8Array(files.length * 32);
  for (let i = 0; i < digests.length; i++) digests[i] = (i * 131 + 7) & 0xff;
  const parts = {
    names: packed.names,
    offsets: packed.offsets,
    digests,
    sizes: Float64Array.from(files.map((f) => f.size)),
    flags: Uint8Array.from(files.map((f) => f.flags)),
    others,
    order: Int32Array.from(order),
  };
  return { compact: new CompactEntries(parts), columns: parts };
}

/** The other entries written in `style`, one after another, with their offsets (what the native writer takes). */
function othersJson(others: ManifestEntry[], style: 'canonical' | 'plain') {
  const t = others.map((e) => (style === 'canonical' ? canonicalEntry(e) : JSON.stringify(e)));
  const offsets = new Uint32Array(t.length + 1);
  t.forEach((text, j) => {
    offsets[j + 1] = offsets[j]! + Buffer.byteLength(text);
  });
  return { othersText: Buffer.from(t.join('')), othersOffsets: offsets };
}

describe('entry JSON digests: the native writer and the JS writer agree', { skip }, () => {
  const jsDigest = (c: CompactEntries, style: 'canonical' | 'plain', prefix = '', suffix = '') => {
    const h = createHash('sha256').update(prefix);
    for (const b of c.jsonChunks(style)) h.update(b);
    return h.update(suffix).digest();
  };
  const job = (others: ManifestEntry[], style: 'canonical' | 'plain', prefix = '', suffix = '') => ({
    style,
    prefix: Buffer.from(prefix),
    suffix: Buffer.from(suffix),
    ...othersJson(others, style),
  });

  const files = [
    { path: 'a', size: 0, flags: 0 },
    { path: 'bin/tool', size: 9, flags: 1 },
    { path: 'caf\u00e9/\u4e2d\u6587.txt', size: 10, flags: 0 },
    { path: 'lib/big', size: 2 ** 53 - 1, flags: 3 },
    { path: 'lib/x.js', size: 123456789012, flags: 2 },
  ];
  const others: ManifestEntry[] = [
    { path: 'empty', kind: 'dir' },
    { path: 'lib/current', kind: 'symlink', target: '../caf\u00e9/"quoted"' },
  ];
  const order = [0, 1, 2, ~0, 3, ~1, 4];

  it('canonical and plain, with prefixes and suffixes, one job or two at once', () => {
    const { compact, columns } = columnsTable(files, others, order);
    const one = nativeJsonDigests(columns, [job(others, 'canonical')]);
    assert.deepEqual(one, [jsDigest(compact, 'canonical')]);
    const two = nativeJsonDigests(columns, [job(others, 'canonical'), job(others, 'plain', '{"p":', ',"s":1}')]);
    assert.deepEqual(two, [jsDigest(compact, 'canonical'), jsDigest(compact, 'plain', '{"p":', ',"s":1}')]);
    // Through CompactEntries, native and JS alike.
    const jobs = [{ style: 'canonical' as const }, { style: 'plain' as const, prefix: Buffer.from('x') }];
    const native = compact.jsonDigests(jobs);
    process.env.VOUCH_NATIVE = '0';
    try {
      assert.equal(nativeJsonDigests(columns, [job(others, 'plain')]), undefined);
      assert.deepEqual(compact.jsonDigests(jobs), native);
    } finally {
      delete process.env.VOUCH_NATIVE;
    }
    const empty = columnsTable([], [], []);
    assert.deepEqual(nativeJsonDigests(empty.columns, [job([], 'plain')]), [jsDigest(empty.compact, 'plain')]);
  });

  it('what C cannot write exactly is left to JS (undefined), and CompactEntries still gets it right', () => {
    for (const odd of [
      { path: 'say "hi"', size: 1, flags: 0 },
      { path: 'back\\slash', size: 1, flags: 0 },
      { path: 'a', size: 2 ** 53, flags: 0 },
      { path: 'a', size: 1.5, flags: 0 },
    ]) {
      const { compact, columns } = columnsTable([odd], [], [0]);
      assert.deepEqual(nativeJsonDigests(columns, [job([], 'plain')]), [undefined], odd.path);
      assert.deepEqual(compact.jsonDigests([{ style: 'plain' }]), [jsDigest(compact, 'plain')]);
    }
  });

  it('columns that do not fit together are refused before anything is read', () => {
    const { columns } = columnsTable(files, others, order);
    const bad: [string, Partial<typeof columns>, ManifestEntry[]?][] = [
      ['an order index past the files', { order: Int32Array.from([5]) }],
      ['an order index past the others', { order: Int32Array.from([~2]) }],
      ['offsets past the names', { offsets: Uint32Array.from([0, 1, 2, 3, 4, 1 << 30]) }],
      ['offsets out of order', { offsets: Uint32Array.from([0, 3, 2, 4, 5, 6]) }],
      ['fewer flags than files', { flags: new Uint8Array(2) }],
      ['fewer digests than files', { digests: new Uint8Array(32) }],
      ['sizes of the wrong type', { sizes: new Float32Array(5) as unknown as Float64Array }],
    ];
    for (const [why, change] of bad) {
      assert.throws(
        () => nativeJsonDigests({ ...columns, ...change }, [job(others, 'plain')]),
        (e: NodeJS.ErrnoException) => e.code === 'ERR_VOUCH_NATIVE',
        why,
      );
    }
    const shortText = { ...job(others, 'plain'), othersOffsets: Uint32Array.from([0, 5, 1 << 20]) };
    assert.throws(
      () => nativeJsonDigests(columns, [shortText]),
      (e: NodeJS.ErrnoException) => e.code === 'ERR_VOUCH_NATIVE',
    );
  });
});

describe('entry JSON written to a file by the native writer', { skip }, () => {
  const plainArgs = (others: ManifestEntry[]) => {
    const o = othersJson(others, 'plain');
    return [o.othersText, o.othersOffsets] as const;
  };

  it('writes at the file offset exactly what the JS writer writes; nothing when it cannot', () => {
    const others: ManifestEntry[] = [{ path: 'd', kind: 'dir' }];
    const { compact, columns } = columnsTable(
      [
        { path: 'a', size: 3, flags: 1 },
        { path: '\u00e9t\u00e9', size: 0, flags: 2 },
      ],
      others,
      [0, 1, ~0],
    );
    const dir = tree({});
    const file = join(dir, 'out.json');
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, 'head:');
      const n = nativeJsonWrite(columns, fd, ...plainArgs(others));
      writeSync(fd, ':tail');
      const js = Buffer.concat([...compact.jsonChunks('plain')].map((b) => Buffer.from(b)));
      assert.equal(n, js.length);
      assert.deepEqual(readFileSync(file), Buffer.concat([Buffer.from('head:'), js, Buffer.from(':tail')]));
    } finally {
      closeSync(fd);
    }
    const odd = columnsTable([{ path: 'q"uote', size: 1, flags: 0 }], [], [0]);
    const fd2 = openSync(file, 'w');
    try {
      assert.equal(nativeJsonWrite(odd.columns, fd2, ...plainArgs([])), undefined);
      assert.equal(statSync(file).size, 0);
    } finally {
      closeSync(fd2);
    }
    // A descriptor it cannot write to: an error, not a crash.
    const ro = openSync(file, 'r');
    try {
      assert.throws(
        () => nativeJsonWrite(columns, ro, ...plainArgs(others)),
        (e: NodeJS.ErrnoException) => e.code === 'ERR_VOUCH_NATIVE',
      );
    } finally {
      closeSync(ro);
    }
  });
});
