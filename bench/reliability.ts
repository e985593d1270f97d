/**
 * reliability: what malicious and large uploads do to a running Gridmap server, and what a large import does
 * to everyone else's writes. A real server process (`node --import tsx server/main.ts`) on a fresh PostgreSQL
 * database holding the size-1 demo city, its resident set sampled from /proc every 50 ms:
 *
 * 1. every malicious upload of each import format (the ideas of tests/import-limits.test.ts, and a few more:
 *    zip and PBF bombs, OSM extracts over the node cap), each several times, as the admin (the size and count
 *    limits as the resident): the answer, the time to it, the peak RSS during it, the rows of the map tables
 *    before and after, and after each: is the process alive, does /api/v1/health answer 200. Each format
 *    runs in a process of its own, so its idle RSS is the floor its peak is set beside.
 * 2. 2 GiB uploads, generated as they are sent (one endless NDJSON line; a resident's body announced with a
 *    Content-Length of 2 GiB, and without one): the time from the first byte sent to the 413, and the bytes
 *    the client had sent by then (it stops once answered); beside each, the refusal of the least upload over
 *    the same limit.
 * 3. a resident's report (POST /api/v1/issues) every 100 ms, open loop, with no import (the floor), then while
 *    the admin imports 200,000 building footprints (NDJSON): latency percentiles, their ratio, and the
 *    import's own duration and rows/s; beside the reports, a health check every 100 ms (a request that takes
 *    no lock), which tells waiting for the map's write lock from waiting for a busy process.
 *
 *   npm run bench -- reliability [--repeat 3] [--heavy-repeat 2] [--rows 200000] [--floor-seconds 15]
 *     [--order raster|scattered] [--bomb-mib 32] [--phases uploads,2gib,reports] [--cases <regexp>]
 *     [--server postgres://postgres@127.0.0.1:5432/postgres] [--keep] [--readme]
 *
 * --repeat: times each upload is fired (--heavy-repeat for the ones that take seconds and gigabytes); --order:
 * the footprints' order in the file; --bomb-mib: the zeros in the zip bomb's .shp; --phases and --cases: run
 * a part (--cases matches "<format> <upload>"); --keep: leave the database; --readme: write the figures into
 * the reliability section of bench/README.md, between its markers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { crc32, deflateRawSync, deflateSync, createDeflateRaw } from 'node:zlib';
import pg from 'pg';
import { DEMO_PASSWORD } from '../data/demo-accounts.ts';
import { IMPORT_LIMITS, UNPACKED } from '../server/features/import/limits.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const { recordBytes, depth } = IMPORT_LIMITS.admin;
/** The tables of the map: what a refused request must not have written (and the audit log, which logs every write). */
const MAP_TABLES = ['streets', 'communities', 'grids', 'buildings', 'members', 'units', 'issues', 'audit_log', 'import_rows'];

type Role = 'admin' | 'resident';
type Format = 'ndjson' | 'csv' | 'geojson' | 'shapefile' | 'osm.pbf' | 'osm';
const FORMAT_NAMES: Record<Format, string> = {
  ndjson: 'NDJSON',
  csv: 'CSV',
  geojson: 'GeoJSON',
  shapefile: 'Shapefile (zip)',
  'osm.pbf': 'OSM PBF',
  osm: 'OSM XML',
};
type Body = Buffer | string | (() => Iterable<Buffer | string> | AsyncIterable<Buffer | string>);

interface Case {
  format: Format;
  name: string;
  as: Role;
  layer: string;
  body: () => Body;
  /** what a correct server answers: the status, and for a 413 the limit it names */
  expect: string;
  /** hundreds of megabytes or seconds of work: fired heavy-repeat times */
  heavy?: boolean;
  contentLength?: number;
}

interface Outcome {
  status?: number;
  limit?: string;
  detail?: string;
  ms: number;
  sent: number;
  error?: string;
  rssStart: number;
  rssPeak: number;
  rowsWritten: number;
  alive: boolean;
  healthy: boolean;
}

// ————————————————————————————————————————————————— the server process, sampled

/** Every request this bench sends, by kind, and the answers that were 5xx or never came. */
const tally = { fired: 0, byKind: {} as Record<string, number>, serverErrors: [] as string[], cutOff: [] as string[] };
const count = (kind: string) => {
  tally.fired++;
  tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
};
const answered = (kind: string, what: string, status: number | undefined) => {
  if (status === undefined) tally.cutOff.push(`${kind}: ${what}`);
  else if (status >= 500) tally.serverErrors.push(`${kind}: ${what} → ${status}`);
};

class ServerProcess {
  child!: ChildProcess;
  base!: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  private timer?: NodeJS.Timeout;
  private windowPeak = 0;
  rss = 0;

  private constructor(
    readonly url: string,
    readonly logPath: string,
  ) {}

  /** Starts `node --import tsx server/main.ts` on `url` and waits for /api/v1/health to answer 200. */
  static async start(url: string, logPath: string) {
    const server = new ServerProcess(url, logPath);
    const port = await freePort();
    const log = openSync(logPath, 'a');
    server.child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        PORT: String(port),
        HOST: '127.0.0.1',
        GRIDMAP_DEMO: 'on',
        GRIDMAP_DEMO_SIZE: '1',
        GRIDMAP_DEMO_SEED: '1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    server.child.on('exit', (code, signal) => void (server.exit = { code, signal }));
    server.base = `http://127.0.0.1:${port}`;
    const started = Date.now();
    for (;;) {
      if (server.exit) throw new Error(`the server exited while starting (${JSON.stringify(server.exit)}); see ${logPath}`);
      if ((await health(server.base, 1000)) === 200) break;
      if (Date.now() - started > 180_000) throw new Error(`the server did not answer /api/v1/health in 3 minutes; see ${logPath}`);
      await sleep(200);
    }
    server.timer = setInterval(() => server.sample(), 50);
    server.sample();
    return server;
  }

  get pid() {
    return this.child.pid!;
  }
  get alive() {
    return !this.exit;
  }

  sample() {
    if (this.exit) return;
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1] ?? 0);
      this.rss = kb * 1024;
      this.windowPeak = Math.max(this.windowPeak, this.rss);
    } catch {
      /* the process is gone */
    }
  }

  /** Starts a window in which the peak RSS is kept: from the 50 ms samples, and the kernel's high-water mark reset here. */
  beginWindow() {
    this.sample();
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      /* an older kernel: the samples alone */
    }
    this.windowPeak = this.rss;
    return this.rss;
  }

  endWindow() {
    this.sample();
    let hwm = 0;
    try {
      hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      /* gone */
    }
    return Math.max(this.windowPeak, hwm);
  }

  /** The lines the process wrote at level error or fatal, and what it wrote that is not a log line (a crash's trace). */
  errorLines(since = 0) {
    const text = readFileSync(this.logPath, 'utf8').slice(since);
    return text.split('\n').filter((line) => line && (!line.startsWith('{') || /"level":(50|60)/.test(line)));
  }

  logSize() {
    return statSync(this.logPath).size;
  }

  async stop() {
    clearInterval(this.timer);
    if (this.exit) return;
    this.child.kill('SIGTERM');
    const killed = setTimeout(() => this.child.kill('SIGKILL'), 90_000);
    if (!this.exit) await once(this.child, 'exit');
    clearTimeout(killed);
  }

  /** Waits up to `ms` for the process to exit (a crash's exit can trail the connection it reset). */
  async exited(ms: number) {
    const until = Date.now() + ms;
    while (!this.exit && Date.now() < until) await sleep(50);
    return !!this.exit;
  }
}

function freePort() {
  return new Promise<number>((resolve, reject) => {
    const probe = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      })
      .on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function health(base: string, timeout = 10_000) {
  count('health');
  try {
    const res = await fetch(`${base}/api/v1/health`, { signal: AbortSignal.timeout(timeout) });
    await res.arrayBuffer();
    answered('health', 'GET /api/v1/health', res.status);
    return res.status;
  } catch {
    return 0;
  }
}

async function login(base: string, username: Role) {
  count('sign-in');
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: DEMO_PASSWORD }),
  });
  answered('sign-in', `POST /api/v1/auth/login as ${username}`, res.status);
  if (res.status !== 200) throw new Error(`signing in as ${username}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

// ————————————————————————————————————————————————— uploads over node's http client

/**
 * POSTs `body` to `path`, streamed (a generator is consumed as the socket takes it), and stops sending the
 * moment the answer's head arrives. `ms` runs from the first byte handed to the socket to that head.
 */
function upload(base: string, path: string, token: string, body: Body, headers: Record<string, string> = {}, timeoutMs = 300_000) {
  return new Promise<{ status?: number; body: string; ms: number; sent: number; error?: string }>((resolve) => {
    let sent = 0;
    let answered = false;
    let settled = false;
    let started = 0;
    let answerMs = 0;
    const finish = (result: { status?: number; body: string; error?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...result, ms: answered ? answerMs : performance.now() - started, sent });
    };
    const req = http.request(`${base}${path}`, {
      method: 'POST',
      agent: false,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', ...headers },
    });
    req.on('response', (res) => {
      answered = true;
      answerMs = performance.now() - started;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => void (text.length < 1_000_000 && (text += chunk)));
      res.on('end', () => finish({ status: res.statusCode, body: text }));
      res.on('error', () => finish({ status: res.statusCode, body: text }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered) finish({ body: '', error: error.code ?? error.message });
    });
    const timer = setTimeout(() => finish({ body: '', error: `no answer in ${timeoutMs / 1000} s` }), timeoutMs);

    const chunks = typeof body === 'function' ? body() : slices(typeof body === 'string' ? Buffer.from(body) : body);
    void (async () => {
      started = performance.now();
      try {
        for await (const chunk of chunks) {
          if (answered || settled) return;
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          sent += buffer.length;
          if (!req.write(buffer)) {
            await new Promise<void>((resume) => {
              const go = () => {
                req.off('drain', go);
                req.off('response', go);
                req.off('close', go);
                resume();
              };
              req.on('drain', go).on('response', go).on('close', go);
            });
          }
        }
        if (!answered && !settled) req.end();
      } catch (error) {
        finish({ body: '', error: `the bench's generator failed: ${(error as Error).message}` });
      }
    })();
  });
}

function* slices(buffer: Buffer, size = MiB) {
  for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
}

/** `total` bytes of one character, as `size`-byte chunks: one endless line. */
function* repeated(total: number, byte = 0x78, size = MiB) {
  const chunk = Buffer.alloc(size, byte);
  for (let left = total; left > 0; left -= size) yield left >= size ? chunk : chunk.subarray(0, left);
}

// ————————————————————————————————————————————————— malicious bodies

let at: [number, number] = [109.49, 36.58];
const issueLine = (title: string) =>
  JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: at }, properties: { title, category: 'other' } });
const collection = (features: string[]) => `{"type":"FeatureCollection","features":[${features.join(',')}]}`;
const huge = () => 'x'.repeat(recordBytes + 1);

function varint(n: number) {
  const bytes = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) bytes.push((n % 0x80) | 0x80);
  return Buffer.from([...bytes, n]);
}
/** A protobuf length-delimited field. */
const field = (tag: number, bytes: Buffer) => Buffer.concat([varint(tag * 8 + 2), varint(bytes.length), bytes]);

/** A PBF frame: the 4-byte length, a BlobHeader of type OSMData announcing `size` bytes, then `blob`. */
function pbfFrame(size: number, blob: Buffer) {
  const header = Buffer.concat([field(1, Buffer.from('OSMData')), Buffer.from([0x18]), varint(size)]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, blob]);
}
const zlibBlob = (data: Buffer) => Buffer.concat([Buffer.from([0x10]), varint(data.length), field(3, deflateSync(data))]);

/**
 * A PrimitiveBlock of `n` dense nodes from id `first` (ascending by one, or descending), all at one place:
 * three bytes a node before zlib, a few bytes after.
 */
function denseNodesBlock(first: number, n: number, descending: boolean) {
  const packed = (head: number, step: number) => {
    const zigzag = (v: number) => (v < 0 ? -2 * v - 1 : 2 * v);
    return Buffer.concat([varint(zigzag(head)), Buffer.alloc(n - 1, zigzag(step))]);
  };
  const dense = Buffer.concat([
    field(1, packed(first, descending ? -1 : 1)),
    field(8, packed(365_000_000, 0)),
    field(9, packed(1_094_000_000, 0)),
  ]);
  return Buffer.concat([field(1, field(1, Buffer.alloc(0))), field(2, field(2, dense))]);
}
function pbfNodes(total: number, perBlock: number, descending: boolean) {
  const frames: Buffer[] = [];
  for (let done = 0; done < total; done += perBlock) {
    const n = Math.min(perBlock, total - done);
    const blob = zlibBlob(denseNodesBlock(descending ? total - done : done + 1, n, descending));
    frames.push(pbfFrame(blob.length, blob));
  }
  return Buffer.concat(frames);
}

/** A zip written by hand, so an entry may be deflated from a stream, or declare a size it does not hold. */
interface ZipEntry {
  name: string;
  data: Buffer;
  crc: number;
  size: number;
  method: 0 | 8;
}
const deflated = (name: string, content: Buffer): ZipEntry => ({
  name,
  data: deflateRawSync(content),
  crc: crc32(content),
  size: content.length,
  method: 8,
});
function zip(entries: ZipEntry[]) {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  // a local header and its central directory record hold the same fields, the latter 2 bytes further on
  const header = (size: number, signature: number, at: number, e: ZipEntry, name: Buffer) => {
    const b = Buffer.alloc(size);
    b.writeUInt32LE(signature, 0);
    b.writeUInt16LE(20, at); // version needed
    b.writeUInt16LE(e.method, at + 4);
    b.writeUInt32LE(e.crc >>> 0, at + 10);
    b.writeUInt32LE(e.data.length, at + 14);
    b.writeUInt32LE(e.size, at + 18);
    b.writeUInt16LE(name.length, at + 22);
    return b;
  };
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = header(30, 0x04034b50, 4, e, name);
    const dir = header(46, 0x02014b50, 6, e, name);
    dir.writeUInt16LE(20, 4); // version made by
    dir.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    central.push(dir, name);
    offset += 30 + name.length + e.data.length;
  }
  const centralBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralBytes, end]);
}

const WGS84_PRJ =
  'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]';

/** The files of a one-point shapefile of issues (title, category), from the ESRI specification. */
function pointShapefile(): Record<string, Buffer> {
  const [lon, lat] = at;
  const header = (bytes: number) => {
    const b = Buffer.alloc(100);
    b.writeInt32BE(9994, 0);
    b.writeInt32BE(bytes / 2, 24);
    b.writeInt32LE(1000, 28);
    b.writeInt32LE(1, 32);
    [lon, lat, lon, lat].forEach((v, i) => b.writeDoubleLE(v, 36 + i * 8));
    return b;
  };
  const record = Buffer.alloc(28);
  record.writeInt32BE(1, 0);
  record.writeInt32BE(10, 4);
  record.writeInt32LE(1, 8);
  record.writeDoubleLE(lon, 12);
  record.writeDoubleLE(lat, 20);
  const index = Buffer.alloc(8);
  index.writeInt32BE(50, 0);
  index.writeInt32BE(10, 4);
  const fields = { title: '路灯不亮', category: 'other' };
  const width = 50;
  const dbfHeader = Buffer.alloc(32);
  dbfHeader.writeUInt8(3, 0);
  dbfHeader.writeUInt32LE(1, 4);
  dbfHeader.writeUInt16LE(32 + 32 * 2 + 1, 8);
  dbfHeader.writeUInt16LE(1 + width * 2, 10);
  const descriptors = Object.keys(fields).map((name) => {
    const d = Buffer.alloc(32);
    d.write(name, 0, 'ascii');
    d.write('C', 11, 'ascii');
    d.writeUInt8(width, 16);
    return d;
  });
  const row = Buffer.alloc(1 + width * 2, ' ');
  Object.values(fields).forEach((value, i) => Buffer.from(value).copy(row, 1 + i * width));
  return {
    'points.shp': Buffer.concat([header(128), record]),
    'points.shx': Buffer.concat([header(108), index]),
    'points.dbf': Buffer.concat([dbfHeader, ...descriptors, Buffer.from([0x0d]), row, Buffer.from([0x1a])]),
    'points.prj': Buffer.from(WGS84_PRJ),
    'points.cpg': Buffer.from('UTF-8'),
  };
}
const shapefileZip = (change: (files: Record<string, Buffer>) => void) => {
  const files = pointShapefile();
  change(files);
  return zip(Object.entries(files).map(([name, content]) => deflated(name, content)));
};

/** A .shp entry of a valid header and then `size` bytes of zeros, deflated as it is generated (about 1 MB a GiB). */
let shpBombCache: ZipEntry | undefined;
let bombBytes = 32 * MiB;
async function shpBomb(size: number) {
  if (shpBombCache) return shpBombCache;
  const head = pointShapefile()['points.shp'].subarray(0, 100);
  head.writeInt32BE((100 + size) / 2, 24);
  const deflate = createDeflateRaw({ level: 1 });
  const parts: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => parts.push(chunk));
  let crc = crc32(head);
  deflate.write(head);
  const zeros = Buffer.alloc(MiB);
  for (let left = size; left > 0; left -= MiB) {
    crc = crc32(zeros, crc);
    if (!deflate.write(zeros)) await once(deflate, 'drain');
  }
  deflate.end();
  await once(deflate, 'end');
  return (shpBombCache = { name: 'points.shp', data: Buffer.concat(parts), crc, size: 100 + size, method: 8 });
}

function* osmNodesXml(n: number) {
  yield '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="bench">\n';
  for (let i = 1; i <= n;) {
    let text = '';
    for (const end = Math.min(n, i + 50_000); i <= end; i++) text += `<node id="${i}"/>\n`;
    yield text;
  }
  yield '</osm>\n';
}

const lol = () => {
  const entities = ['<!ENTITY lol0 "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`)];
  return `<?xml version="1.0"?>\n<!DOCTYPE osm [${entities.join('')}]>\n<osm version="0.6"><way id="1"><tag k="building" v="&lol9;"/></way></osm>\n`;
};

const CASES: Case[] = [
  {
    format: 'ndjson',
    name: 'a resident’s upload over their 2 MiB (20,000 issues)',
    as: 'resident',
    layer: 'issues',
    expect: '413 bytes',
    body: () => Array.from({ length: 20_000 }, (_, i) => issueLine(`问题 ${i} ${'.'.repeat(100)}`)).join('\n'),
  },
  {
    format: 'ndjson',
    name: 'a line over 16 MiB after a valid one',
    as: 'admin',
    layer: 'issues',
    expect: '413 recordBytes',
    body: () => `${issueLine('a')}\n{"type":"Feature","properties":{"title":"${huge()}"}}\n`,
  },
  { format: 'ndjson', name: 'one endless line (16 MiB + 1 byte)', as: 'admin', layer: 'issues', expect: '413 recordBytes', body: huge },
  {
    format: 'csv',
    name: 'a field over 16 MiB',
    as: 'admin',
    layer: 'issues',
    expect: '413 recordBytes',
    body: () => `lon,lat,title,category\n${at.join(',')},"${huge()}",other\n`,
  },
  {
    format: 'csv',
    name: 'a quoted field never closed: 16 MiB of newlines',
    as: 'admin',
    layer: 'issues',
    expect: '413 recordBytes',
    body: () => `lon,lat,title,category\n${at.join(',')},"${'\n'.repeat(recordBytes + 1)}`,
  },
  {
    format: 'geojson',
    name: 'a resident’s 201 features (200 allowed)',
    as: 'resident',
    layer: 'issues',
    expect: '413 features',
    body: () => collection(Array.from({ length: IMPORT_LIMITS.resident.features + 1 }, (_, i) => issueLine(`问题 ${i}`))),
  },
  {
    format: 'geojson',
    name: 'a feature over 16 MiB',
    as: 'admin',
    layer: 'issues',
    expect: '413 recordBytes',
    body: () => collection([issueLine(huge())]),
  },
  {
    format: 'geojson',
    name: 'a top-level string over 16 MiB',
    as: 'admin',
    layer: 'issues',
    expect: '413 recordBytes',
    body: () => `{"name":"${huge()}","features":[]}`,
  },
  {
    format: 'geojson',
    name: `JSON nested ${depth + 5} deep`,
    as: 'admin',
    layer: 'issues',
    expect: '413 depth',
    body: () => `{"type":"FeatureCollection","features":[${'['.repeat(depth + 5)}`,
  },
  {
    format: 'geojson',
    name: '64 MiB of [ (nesting without end)',
    as: 'admin',
    layer: 'issues',
    expect: '413 depth',
    body: () => () => repeated(64 * MiB, 0x5b),
  },
  {
    format: 'shapefile',
    name: 'a .prj bomb (10 MiB of spaces, 10 kB zipped)',
    as: 'admin',
    layer: 'issues',
    expect: '413 unpackedBytes',
    body: () =>
      shapefileZip((f) => {
        f['points.prj'] = Buffer.alloc(10 * MiB, 0x20);
      }),
  },
  {
    format: 'shapefile',
    name: 'a .shp record announcing 1 GiB',
    as: 'admin',
    layer: 'issues',
    expect: '413 recordBytes',
    body: () =>
      shapefileZip((f) => {
        f['points.shp'].writeInt32BE(2 ** 29, 104);
      }),
  },
  {
    format: 'shapefile',
    name: 'a zip without its .dbf',
    as: 'admin',
    layer: 'issues',
    expect: '400',
    body: () =>
      shapefileZip((f) => {
        delete f['points.dbf'];
      }),
  },
  {
    format: 'shapefile',
    name: 'entries declaring 12 GiB in a 1 kB zip',
    as: 'admin',
    layer: 'issues',
    expect: '413 unpackedBytes',
    body: () =>
      zip(
        Object.entries(pointShapefile()).map(([name, content]) => ({
          ...deflated(name, content),
          size: name.endsWith('.prj') || name.endsWith('.cpg') ? content.length : 4 * GiB - 1,
        })),
      ),
  },
  {
    format: 'shapefile',
    get name() {
      return `a zip bomb: a .shp of ${bombBytes / MiB} MiB of zeros${shpBombCache ? ` (${mb(shpBombCache.data.length)} zipped)` : ''}`;
    },
    as: 'admin',
    layer: 'issues',
    expect: '413 or 422, promptly',
    heavy: true,
    body: () =>
      async function* () {
        const bomb = await shpBomb(bombBytes);
        const files = pointShapefile();
        yield zip([
          bomb,
          ...Object.entries(files)
            .filter(([name]) => name !== 'points.shp')
            .map(([name, content]) => deflated(name, content)),
        ]);
      },
  },
  {
    format: 'osm.pbf',
    name: 'a blob header announcing 1 GiB',
    as: 'admin',
    layer: 'buildings',
    expect: '413 unpackedBytes',
    body: () => pbfFrame(GiB, Buffer.alloc(1000)),
  },
  {
    format: 'osm.pbf',
    name: 'a zlib bomb (a blob unpacking past 32 MiB)',
    as: 'admin',
    layer: 'buildings',
    expect: '413 unpackedBytes',
    body: () => {
      const blob = zlibBlob(Buffer.alloc(UNPACKED.pbfBlobBytes + 1));
      return pbfFrame(blob.length, blob);
    },
  },
  {
    format: 'osm.pbf',
    name: 'a blob header over 64 KiB',
    as: 'admin',
    layer: 'buildings',
    expect: '400',
    body: () => Buffer.from([0, 0x10, 0, 0, 1, 2, 3]),
  },
  {
    format: 'osm.pbf',
    name: '24 million dense nodes in 100 kB (over the 20 million cap)',
    as: 'admin',
    layer: 'buildings',
    expect: '413 osmNodes',
    heavy: true,
    body: () => pbfNodes(24_000_000, 8_000_000, false),
  },
  {
    format: 'osm.pbf',
    name: '18 million dense nodes out of order, 80 kB',
    as: 'admin',
    layer: 'buildings',
    expect: '413 osmNodes',
    heavy: true,
    body: () => pbfNodes(18_000_000, 6_000_000, true),
  },
  {
    format: 'osm',
    name: 'an attribute of 20 MiB',
    as: 'admin',
    layer: 'buildings',
    expect: '400',
    body: () => `<?xml version="1.0"?>\n<osm version="0.6"><node id="1" lat="${'1'.repeat(20 * MiB)}" lon="1"/></osm>\n`,
  },
  { format: 'osm', name: 'an entity bomb (a billion lols)', as: 'admin', layer: 'buildings', expect: '400', body: lol },
  {
    format: 'osm',
    name: '20,000,001 nodes (0.4 GB of `<node id="…"/>`, over the cap)',
    as: 'admin',
    layer: 'buildings',
    expect: '413 osmNodes',
    heavy: true,
    body: () => () => osmNodesXml(UNPACKED.osmNodes + 1),
  },
];

// ————————————————————————————————————————————————— the run

export async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      repeat: { type: 'string', default: '3' },
      'heavy-repeat': { type: 'string', default: '2' },
      rows: { type: 'string', default: '200000' },
      'floor-seconds': { type: 'string', default: '15' },
      server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
      readme: { type: 'boolean', default: false },
      phases: { type: 'string', default: 'uploads,2gib,reports' },
      cases: { type: 'string', default: '' },
      order: { type: 'string', default: 'raster' },
      'bomb-mib': { type: 'string', default: '32' },
    },
  });
  const phases = new Set(values.phases.split(','));
  bombBytes = Number(values['bomb-mib']) * MiB;
  const chosen = CASES.filter((c) => new RegExp(values.cases, 'i').test(`${c.format} ${c.name}`));
  if (values.order !== 'raster' && values.order !== 'scattered') throw new Error('--order is raster or scattered');
  const repeat = Number(values.repeat);
  const heavyRepeat = Number(values['heavy-repeat']);
  const rows = Number(values.rows);
  const floorSeconds = Number(values['floor-seconds']);
  const began = performance.now();
  const name = 'gridmap_bench_reliability';
  const url = Object.assign(new URL(values.server), { pathname: `/${name}` }).toString();
  const admin = new pg.Client({ connectionString: values.server });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  const dir = await mkdtemp(join(tmpdir(), 'gridmap-bench-reliability-'));
  const logPath = join(dir, 'server.log');
  const db = new pg.Pool({ connectionString: url, max: 2 });
  let closing = false;
  db.on('error', (error) => void (closing || console.log(`  (the bench's own connection: ${error.message})`)));
  if (chosen.some((c) => c.name.includes('zip bomb'))) await shpBomb(bombBytes);

  console.log(`reliability: a server process on ${url} (the size-1 demo city is loaded at its first start); its log: ${logPath}`);
  let server = await ServerProcess.start(url, logPath);
  const {
    rows: [point],
  } = await db.query<{ lon: number; lat: number }>(`
    select ST_X(p) as lon, ST_Y(p) as lat from (select ST_PointOnSurface(geom) as p from grids
    where community_id = (select min(id) from communities) order by id limit 1) g`);
  at = [point.lon, point.lat];

  const counts = async () => {
    const {
      rows: [row],
    } = await db.query<Record<string, string>>(`select ${MAP_TABLES.map((t) => `(select count(*) from ${t}) as ${t}`).join(', ')}`);
    return Object.fromEntries(MAP_TABLES.map((t) => [t, Number(row[t])]));
  };
  const crashes: {
    case: string;
    pid: number;
    exit: string;
    lines: string[];
    leftUploads: string[];
    leftBytes: number;
    keptAfterRestart: string[];
  }[] = [];
  const results = new Map<Case, Outcome[]>();
  const idle = new Map<string, number>();
  let tokens: Record<Role, string> = { admin: '', resident: '' };
  const signIn = async () => {
    tokens = { admin: await login(server.base, 'admin'), resident: await login(server.base, 'resident') };
  };

  /** One upload with everything checked around it; a crash is recorded and the server started again. */
  const fire = async (c: Pick<Case, 'name' | 'as' | 'layer' | 'format' | 'contentLength'>, body: Body, kind: string): Promise<Outcome> => {
    const before = await counts();
    const logAt = server.logSize();
    const rssStart = server.beginWindow();
    count(kind);
    const answer = await upload(
      server.base,
      `/api/v1/import/${c.layer}?format=${c.format}`,
      tokens[c.as],
      body,
      c.contentLength ? { 'Content-Length': String(c.contentLength) } : {},
    );
    const rssPeak = server.endWindow();
    answered(kind, `${c.format}: ${c.name} as ${c.as}`, answer.status);
    const status = answer.status ? await health(server.base) : 0;
    if (status !== 200) await server.exited(3000);
    let parsed: { limit?: string; detail?: string } = {};
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      /* not JSON */
    }
    const outcome: Outcome = {
      status: answer.status,
      limit: parsed.limit,
      detail: parsed.detail,
      ms: answer.ms,
      sent: answer.sent,
      error: answer.error,
      rssStart,
      rssPeak,
      rowsWritten: 0,
      alive: server.alive,
      healthy: status === 200,
    };
    if (!server.alive || status !== 200) {
      const pid = server.pid;
      const exit = server.exit
        ? `exit code ${server.exit.code}, signal ${server.exit.signal}`
        : 'alive but /api/v1/health did not answer 200';
      const lines = server.errorLines(logAt);
      await server.stop();
      const leftUploads = readdirSync(tmpdir())
        .filter((n) => n.startsWith(`gridmap-import-${pid}-`))
        .map((n) => join(tmpdir(), n));
      const leftBytes = leftUploads.reduce((sum, p) => sum + folderSize(p), 0);
      console.log(`    ✗ the server died (${exit}); last lines:\n      ${lines.slice(-12).join('\n      ').slice(0, 3000)}`);
      console.log('    starting it again…');
      server = await ServerProcess.start(url, logPath);
      await signIn();
      const keptAfterRestart = leftUploads.filter((p) => existsSync(p));
      crashes.push({ case: `${FORMAT_NAMES[c.format]}: ${c.name}`, pid, exit, lines, leftUploads, leftBytes, keptAfterRestart });
      console.log(
        `    upload folders it left: ${leftUploads.length} (${mb(leftBytes)}); still there after the restart: ${keptAfterRestart.length}`,
      );
    } else {
      for (const line of server.errorLines(logAt)) console.log(`    server log: ${line.slice(0, 400)}`);
    }
    const after = await counts();
    outcome.rowsWritten = MAP_TABLES.reduce((sum, t) => sum + Math.abs(after[t] - before[t]), 0);
    return outcome;
  };

  // 1. Each format in a process of its own: its idle RSS is the floor of its peak.
  const formats = phases.has('uploads') ? [...new Set(chosen.map((c) => c.format))] : [];
  for (const format of formats) {
    await server.stop();
    server = await ServerProcess.start(url, logPath);
    await signIn();
    await sleep(500);
    server.sample();
    idle.set(format, server.rss);
    console.log(`\n${FORMAT_NAMES[format]} (server pid ${server.pid}, idle RSS ${mb(server.rss)})`);
    let fresh = true;
    for (const c of chosen.filter((x) => x.format === format)) {
      const outcomes: Outcome[] = [];
      for (let i = 0; i < (c.heavy ? heavyRepeat : repeat); i++) {
        // an upload that takes gigabytes starts from a fresh process, not from what the one before left
        if (c.heavy && !fresh) {
          await server.stop();
          server = await ServerProcess.start(url, logPath);
          await signIn();
          await sleep(500);
        }
        const outcome = await fire(c, c.body(), 'malicious upload');
        fresh = false;
        outcomes.push(outcome);
        console.log(`  ${c.name} as ${c.as}: ${describe(outcome)}`);
      }
      results.set(c, outcomes);
    }
  }

  // 2. Two gibibytes, generated as sent; beside each, the least upload over the same limit, in turns, same process.
  const endless = CASES.find((c) => c.name.startsWith('one endless line'))!;
  const residentOver = CASES.find((c) => c.name.startsWith('a resident’s upload over'))!;
  const twoGiB: { name: string; as: Role; contentLength?: number; floor: Case; outcomes: Outcome[]; floors: Outcome[] }[] = [
    { name: 'one endless NDJSON line, chunked (no Content-Length)', as: 'admin', floor: endless, outcomes: [], floors: [] },
    {
      name: 'one endless NDJSON line, Content-Length: 2 GiB (the admin’s own limit)',
      as: 'admin',
      contentLength: 2 * GiB,
      floor: endless,
      outcomes: [],
      floors: [],
    },
    {
      name: 'Content-Length: 2 GiB, as the resident (2 MiB allowed)',
      as: 'resident',
      contentLength: 2 * GiB,
      floor: residentOver,
      outcomes: [],
      floors: [],
    },
    { name: '2 GiB chunked, as the resident', as: 'resident', floor: residentOver, outcomes: [], floors: [] },
  ];
  if (phases.has('2gib')) {
    await server.stop();
    server = await ServerProcess.start(url, logPath);
    await signIn();
    console.log('\n2 GiB uploads, each after the least upload over the same limit');
    for (const t of twoGiB) {
      for (let i = 0; i < repeat; i++) {
        t.floors.push(await fire(t.floor, t.floor.body(), 'least upload over a limit'));
        const outcome = await fire(
          { name: t.name, as: t.as, layer: 'issues', format: 'ndjson', contentLength: t.contentLength },
          () => repeated(2 * GiB),
          '2 GiB upload',
        );
        t.outcomes.push(outcome);
        console.log(
          `  ${t.name} as ${t.as}: ${describe(outcome)}, ${mb(outcome.sent)} sent of 2 GiB; ${t.floor.name}: ${describe(t.floors.at(-1)!)}`,
        );
      }
    }
  }

  // 3. A resident's report every 100 ms, with no import and then during a large one.
  let reports: ReportFigures | undefined;
  if (phases.has('reports')) {
    await server.stop();
    server = await ServerProcess.start(url, logPath);
    await signIn();
    reports = await reportsDuringImport(server, db, tokens, { rows, floorSeconds, order: values.order as 'raster' | 'scattered', counts });
  }
  await server.stop();

  // The figures.
  const allOutcomes = [...[...results.values()].flat(), ...twoGiB.flatMap((t) => [...t.outcomes, ...t.floors])];
  const refused = allOutcomes.filter((o) => !o.status || o.status >= 400);
  const rowsByRefused = refused.reduce((sum, o) => sum + o.rowsWritten, 0);
  const crashCases = [...new Set(crashes.map((c) => c.case))];
  const table: string[][] = [];
  const row = (...cells: string[]) => table.push(cells);
  row(
    'requests fired',
    `${tally.fired.toLocaleString('en')} (${Object.entries(tally.byKind)
      .map(([k, n]) => `${n.toLocaleString('en')} ${k}`)
      .join(', ')})`,
    '',
    '',
  );
  row('answers 5xx', `${tally.serverErrors.length}${tally.serverErrors.length ? `: ${summarise(tally.serverErrors)}` : ''}`, '', '');
  row('requests cut off without an answer', `${tally.cutOff.length}${tally.cutOff.length ? `: ${summarise(tally.cutOff)}` : ''}`, '', '');
  row(
    'rows written by refused requests',
    `${rowsByRefused} (${refused.length} refused uploads; ${MAP_TABLES.length} tables counted before and after each)`,
    '',
    '',
  );
  row('process crashes', `${crashes.length}${crashCases.length ? `: ${crashCases.join('; ')}` : ''}`, '', '');
  if (crashes.length) {
    const kept = crashes.reduce((sum, c) => sum + c.keptAfterRestart.length, 0);
    row(
      'upload folders the crashed processes left, still there after the next start',
      `${kept} of ${crashes.reduce((sum, c) => sum + c.leftUploads.length, 0)} (${mb(crashes.reduce((sum, c) => sum + c.leftBytes, 0))})`,
      '',
      '',
    );
  }
  for (const format of formats) {
    const cases = chosen.filter((c) => c.format === format);
    const worst = cases.map((c) => ({ c, peak: Math.max(...results.get(c)!.map((o) => o.rssPeak)) })).sort((a, b) => b.peak - a.peak)[0];
    row(
      `peak RSS, worst ${FORMAT_NAMES[format]} upload (${worst.c.name})`,
      mb(worst.peak),
      `${mb(idle.get(format)!)} idle`,
      ratio(worst.peak, idle.get(format)!),
    );
  }
  if (reports) {
    const { during, writing, checking, floor, imported } = reports;
    row(
      `peak RSS, the ${rows.toLocaleString('en')}-row import (a legitimate peer)`,
      mb(reports.peak),
      `${mb(reports.idle)} idle`,
      ratio(reports.peak, reports.idle),
    );
    row(
      `a resident’s report during the import, p50 / p95 / p99 / max (${during.n} reports)`,
      latencies(during),
      `no import (${floor.n}): ${latencies(floor)}`,
      `p99 ${ratio(during.p99, floor.p99)}`,
    );
    row(
      `the same, while the upload landed and its rows were checked (${checking.n} reports)`,
      latencies(checking),
      `no import: ${latencies(floor)}`,
      `p99 ${ratio(checking.p99, floor.p99)}`,
    );
    row(
      `the same, while the import wrote its batches (${writing.n} reports)`,
      latencies(writing),
      `no import: ${latencies(floor)}`,
      `p99 ${ratio(writing.p99, floor.p99)}`,
    );
    row(
      `beside them, GET /api/v1/health (no lock) during the import (${reports.health.n})`,
      latencies(reports.health),
      `no import (${reports.healthFloor.n}): ${latencies(reports.healthFloor)}`,
      `p99 ${ratio(reports.health.p99, reports.healthFloor.p99)}`,
    );
    row(
      `the import: ${rows.toLocaleString('en')} footprints, NDJSON (${mb(reports.bytes)}, ${values.order} order)`,
      `${imported.status ?? imported.error}, ${(imported.ms / 1000).toFixed(1)} s, ${Math.round(rows / (imported.ms / 1000)).toLocaleString('en')} rows/s (writing from ${(reports.firstWriteMs / 1000).toFixed(1)} s: ${Math.round(rows / ((imported.ms - reports.firstWriteMs) / 1000)).toLocaleString('en')} rows/s)`,
      '',
      '',
    );
  }
  for (const t of twoGiB.filter((x) => x.outcomes.length)) {
    const ms = median(t.outcomes.map((o) => o.ms));
    const floorMs = median(t.floors.map((o) => o.ms));
    const answers = [...new Set(t.outcomes.map((o) => (o.status ? `${o.status}${o.limit ? ` ${o.limit}` : ''}` : o.error)))].join(', ');
    row(
      `2 GiB, ${t.name}: time to refuse (median of ${t.outcomes.length})`,
      `${answers} in ${seconds(ms)} (max ${seconds(Math.max(...t.outcomes.map((o) => o.ms)))}), ${mb(Math.max(...t.outcomes.map((o) => o.sent)))} sent`,
      `${t.floor.name}: ${seconds(floorMs)}`,
      ratio(ms, floorMs),
    );
  }

  const details: string[][] = [];
  for (const [c, outcomes] of results) {
    const answers = [...new Set(outcomes.map(answerText))].join(', ');
    details.push([
      FORMAT_NAMES[c.format],
      c.name,
      c.as,
      c.expect,
      `${answers} ×${outcomes.length}`,
      `${seconds(median(outcomes.map((o) => o.ms)))} / ${seconds(Math.max(...outcomes.map((o) => o.ms)))}`,
      `${mb(Math.max(...outcomes.map((o) => o.rssPeak)))} (+${mb(Math.max(...outcomes.map((o) => o.rssPeak - o.rssStart)))})`,
      String(outcomes.reduce((s, o) => s + o.rowsWritten, 0)),
      outcomes.every((o) => o.alive && o.healthy) ? 'yes' : `no (${outcomes.filter((o) => !o.alive || !o.healthy).length})`,
    ]);
  }

  const markdown = [
    '| figure | measured | floor or peer, same run | ratio |',
    '|---|---|---|---|',
    ...table.map((cells) => `| ${cells.map(cell).join(' | ')} |`),
    '',
    'Each upload:',
    '',
    '| format | upload | as | a correct answer | answers | time to answer, median / max | peak RSS (above its start) | rows written | alive, health 200 |',
    '|---|---|---|---|---|---|---|---|---|',
    ...details.map((cells) => `| ${cells.map(cell).join(' | ')} |`),
  ].join('\n');
  console.log(`\n${markdown}`);
  for (const crash of crashes) {
    console.log(
      `\ncrash: ${crash.case} (pid ${crash.pid}, ${crash.exit}); upload folders it left: ${crash.leftUploads.length} (${mb(crash.leftBytes)}), still there after the next start: ${crash.keptAfterRestart.length}`,
    );
    console.log(`  ${traceOf(crash.lines).join('\n  ')}`);
  }
  if (tally.serverErrors.length) console.log(`\n5xx answers:\n  ${tally.serverErrors.join('\n  ')}`);
  const minutes = (performance.now() - began) / 60_000;
  console.log(`\nThe whole run took ${minutes.toFixed(1)} minutes.`);

  if (values.readme) writeReadme(markdown, crashes, minutes);
  // Upload folders of the processes that crashed here: no start removes them (see the crashes above).
  for (const crash of crashes) for (const p of crash.leftUploads) await rm(p, { recursive: true, force: true });
  closing = true;
  await db.end();
  if (!values.keep) await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
  if (!crashes.length && !tally.serverErrors.length) await rm(dir, { recursive: true, force: true });
  else console.log(`(the server's log is kept: ${logPath})`);
}

// ————————————————————————————————————————————————— reports and the import

interface ReportFigures {
  floor: ReturnType<typeof percentiles>;
  during: ReturnType<typeof percentiles>;
  writing: ReturnType<typeof percentiles>;
  checking: ReturnType<typeof percentiles>;
  health: ReturnType<typeof percentiles>;
  healthFloor: ReturnType<typeof percentiles>;
  imported: Awaited<ReturnType<typeof upload>>;
  firstWriteMs: number;
  peak: number;
  idle: number;
  bytes: number;
}

async function reportsDuringImport(
  server: ServerProcess,
  db: pg.Pool,
  tokens: Record<Role, string>,
  {
    rows,
    floorSeconds,
    order,
    counts,
  }: { rows: number; floorSeconds: number; order: 'raster' | 'scattered'; counts: () => Promise<Record<string, number>> },
): Promise<ReportFigures> {
  await sleep(500);
  server.sample();
  const idle = server.rss;
  const {
    rows: [extent],
  } = await db.query<{ xmin: number; ymin: number; xmax: number; ymax: number }>(
    `select ST_XMin(e) as xmin, ST_YMin(e) as ymin, ST_XMax(e) as xmax, ST_YMax(e) as ymax from (select ST_Extent(geom)::geometry as e from communities) s`,
  );
  const footprints = buildingFootprints(rows, extent, order);
  console.log(
    `\nreports during an import: ${rows.toLocaleString('en')} footprints over the demo city (${extent.xmin.toFixed(4)},${extent.ymin.toFixed(4)} – ${extent.xmax.toFixed(4)},${extent.ymax.toFixed(4)}, ${order} order), ${mb(footprints.length)} of NDJSON`,
  );
  console.log(`  floor: ${floorSeconds} s of reports with no import…`);
  const quiet = sleep(floorSeconds * 1000);
  const [floorReports, floorHealth] = await Promise.all([
    probeEvery(residentReport(server.base, tokens.resident), 100, quiet),
    probeEvery(healthProbe(server.base), 100, quiet, undefined, 50),
  ]);
  const floor = percentiles(floorReports.map((r) => r.ms));
  const healthFloor = percentiles(floorHealth.map((r) => r.ms));
  console.log(`  ${floorReports.length} reports: ${latencies(floor)}; health checks between them: ${latencies(healthFloor)}`);
  const buildingsBefore = (await counts()).buildings;
  console.log('  the import, with a report every 100 ms…');
  const logAt = server.logSize();
  server.beginWindow();
  count('import');
  const importing = upload(
    server.base,
    '/api/v1/import/buildings?format=ndjson',
    tokens.admin,
    footprints,
    { 'Content-Type': 'application/x-ndjson' },
    1_800_000,
  );
  const phase = { writing: false, firstWriteMs: 0 };
  const importStarted = performance.now();
  const polling = pollImport(server.base, tokens.admin, db, importing, (imported) => {
    if (imported > 0 && !phase.writing) Object.assign(phase, { writing: true, firstWriteMs: performance.now() - importStarted });
  });
  const [duringReports, duringHealth] = await Promise.all([
    probeEvery(residentReport(server.base, tokens.resident), 100, importing, () => phase.writing),
    probeEvery(healthProbe(server.base), 100, importing, () => phase.writing, 50),
  ]);
  const health = percentiles(duringHealth.map((r) => r.ms));
  const imported = await importing;
  await polling;
  const peak = server.endWindow();
  answered('import', `${rows} footprints`, imported.status);
  const report = (() => {
    try {
      return JSON.parse(imported.body) as { imported?: number };
    } catch {
      return {};
    }
  })();
  const buildingsAfter = (await counts()).buildings;
  const during = percentiles(duringReports.map((r) => r.ms));
  const writing = percentiles(duringReports.filter((r) => r.writing).map((r) => r.ms));
  const checking = percentiles(duringReports.filter((r) => !r.writing).map((r) => r.ms));
  const failed = [...floorReports, ...duringReports].filter((r) => r.status !== 201);
  const failedHealth = [...floorHealth, ...duringHealth].filter((r) => r.status !== 200);
  console.log(
    `  the import: ${imported.status ?? imported.error} in ${(imported.ms / 1000).toFixed(1)} s (writing from ${(phase.firstWriteMs / 1000).toFixed(1)} s), ${report.imported ?? '?'} imported, buildings ${buildingsBefore} → ${buildingsAfter}, peak RSS ${mb(peak)}`,
  );
  console.log(
    `  ${duringReports.length} reports during it: ${latencies(during)}; before it wrote (${checking.n}): ${latencies(checking)}; while it wrote (${writing.n}): ${latencies(writing)}`,
  );
  console.log(`  health checks between them: ${latencies(health)}`);
  if (failed.length) console.log(`  reports not answered 201: ${summarise(failed.map((r) => String(r.status ?? r.error)))}`);
  if (failedHealth.length)
    console.log(`  health checks not answered 200: ${summarise(failedHealth.map((r) => String(r.status ?? r.error)))}`);
  if (imported.status !== 201 || buildingsAfter - buildingsBefore !== rows)
    console.log(`  ✗ the import did not write its ${rows} rows: ${imported.body.slice(0, 500)}`);
  for (const line of server.errorLines(logAt)) console.log(`  server log: ${line.slice(0, 400)}`);
  return {
    floor,
    during,
    writing,
    checking,
    health,
    healthFloor,
    imported,
    firstWriteMs: phase.firstWriteMs,
    peak,
    idle,
    bytes: footprints.length,
  };
}

/**
 * `rows` footprints about 10 × 10 m spread evenly over the extent (a low-discrepancy sequence: the same rows
 * every run), as NDJSON: in raster order (south to north, west to east in each row, as a survey or a tiled
 * extract lists them) or scattered (each footprint far from the one before, so every batch spans the city).
 */
function buildingFootprints(rows: number, e: { xmin: number; ymin: number; xmax: number; ymax: number }, order: 'raster' | 'scattered') {
  const [dx, dy] = [0.000112, 0.00009];
  const places = Array.from({ length: rows }, (_, i) => [
    +(e.xmin + ((0.5 + i * 0.7548776662466927) % 1) * (e.xmax - e.xmin - dx)).toFixed(7),
    +(e.ymin + ((0.5 + i * 0.5698402909980532) % 1) * (e.ymax - e.ymin - dy)).toFixed(7),
  ]);
  if (order === 'raster') {
    const band = (e.ymax - e.ymin) / Math.ceil(Math.sqrt(rows) / 4);
    places.sort((a, b) => Math.floor((a[1] - e.ymin) / band) - Math.floor((b[1] - e.ymin) / band) || a[0] - b[0]);
  }
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const [lon, lat] = places[i];
    const ring = [
      [lon, lat],
      [+(lon + dx).toFixed(7), lat],
      [+(lon + dx).toFixed(7), +(lat + dy).toFixed(7)],
      [lon, +(lat + dy).toFixed(7)],
      [lon, lat],
    ];
    lines.push(
      JSON.stringify({
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: [ring] },
        properties: { name: `可靠性楼${i + 1}`, floors: 6, households: 24, residents: 60 },
      }),
    );
  }
  return Buffer.from(lines.join('\n'));
}

interface Report {
  ms: number;
  status?: number;
  error?: string;
  writing: boolean;
}

/** What one stream of requests sends: a resident's report (which takes the map's write lock), or a health check (which takes none). */
type Probe = { kind: string; what: string; expect: number; send: (i: number) => Promise<Response> };
const residentReport = (base: string, token: string): Probe => ({
  kind: 'resident report',
  what: 'POST /api/v1/issues as resident',
  expect: 201,
  send: (i) =>
    fetch(`${base}/api/v1/issues`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: at },
        properties: { title: `导入时上报 ${i}`, category: 'other' },
      }),
    }),
});
const healthProbe = (base: string): Probe => ({
  kind: 'health probe',
  what: 'GET /api/v1/health',
  expect: 200,
  send: () => fetch(`${base}/api/v1/health`),
});

/**
 * `probe` every `everyMs` from `offsetMs` on, open loop (each fired at its time, whether or not the one before
 * was answered, so a stall shows as the wait of every request caught in it), until `until` settles.
 */
async function probeEvery(probe: Probe, everyMs: number, until: Promise<unknown>, writing = () => false, offsetMs = 0) {
  const sent: Promise<Report>[] = [];
  let done = false;
  void until.finally(() => void (done = true));
  const start = performance.now() + offsetMs;
  for (let i = 0; !done; i++) {
    const wait = start + i * everyMs - performance.now();
    if (wait > 0) await Promise.race([sleep(wait), until.catch(() => {})]);
    if (done) break;
    const phase = writing();
    count(probe.kind);
    const at = performance.now();
    sent.push(
      probe.send(i).then(
        async (res) => {
          await res.arrayBuffer();
          answered(probe.kind, probe.what, res.status);
          return { ms: performance.now() - at, status: res.status, writing: phase };
        },
        (error: Error) => {
          answered(probe.kind, probe.what, undefined);
          return { ms: performance.now() - at, error: error.message, writing: phase };
        },
      ),
    );
  }
  return Promise.all(sent);
}

/** Follows the running import's job (GET /api/v1/imports/:id) every 500 ms, telling `onImported` the rows written so far. */
async function pollImport(base: string, token: string, db: pg.Pool, importing: Promise<unknown>, onImported: (imported: number) => void) {
  let done = false;
  void importing.finally(() => void (done = true));
  let id: number | undefined;
  while (!done) {
    await Promise.race([sleep(500), importing.catch(() => {})]);
    if (done) break;
    id ??= (await db.query<{ id: string }>(`select id from imports where state = 'running' order by id desc limit 1`)).rows[0]
      ?.id as unknown as number;
    if (!id) continue;
    count('import progress');
    try {
      const res = await fetch(`${base}/api/v1/imports/${id}`, { headers: { Authorization: `Bearer ${token}` } });
      answered('import progress', `GET /api/v1/imports/${id}`, res.status);
      const job = (await res.json()) as { imported?: number | null };
      if (job.imported) onImported(job.imported);
    } catch {
      answered('import progress', `GET /api/v1/imports/${id}`, undefined);
    }
  }
}

// ————————————————————————————————————————————————— figures

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : NaN);
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}
const median = (values: number[]) => percentiles(values).p50;
const msText = (ms: number) => (Number.isNaN(ms) ? '–' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
const latencies = (p: ReturnType<typeof percentiles>) => [p.p50, p.p95, p.p99, p.max].map(msText).join(' / ');
const seconds = (ms: number) => msText(ms);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(a / b < 10 ? 2 : 0)}×` : '–');
const cell = (text: string) => text.replaceAll('|', '\\|').replace(/\s*\n\s*/g, ' ');
const summarise = (items: string[]) => [...new Set(items)].map((item) => `${item} (${items.filter((i) => i === item).length}×)`).join('; ');

/** The status, and the limit a 413 names; what another 4xx or a 5xx said; or why there was no answer. */
const answerText = (o: Outcome) =>
  !o.status
    ? `no answer (${o.error})`
    : o.limit
      ? `${o.status} ${o.limit}`
      : o.status === 413 || !o.detail
        ? String(o.status)
        : `${o.status} (${(o.detail.length > 70 ? `${o.detail.slice(0, 70)}…` : o.detail).replace(/\s*\n\s*/g, ' ')})`;

function describe(o: Outcome) {
  const answer = answerText(o);
  return `${answer} in ${seconds(o.ms)}, peak RSS ${mb(o.rssPeak)} (+${mb(o.rssPeak - o.rssStart)}), rows written ${o.rowsWritten}${o.alive && o.healthy ? '' : ', SERVER DOWN'}`;
}

function folderSize(path: string): number {
  try {
    return readdirSync(path, { withFileTypes: true }).reduce(
      (sum, e) => sum + (e.isDirectory() ? folderSize(join(path, e.name)) : statSync(join(path, e.name)).size),
      0,
    );
  } catch {
    return 0;
  }
}

/** The lines of a crash that say what it was: from the error (or V8's fatal error) on, six of them. */
function traceOf(lines: string[]) {
  const text = lines.filter((l) => l.trim());
  const at = text.findIndex((l) => /^(\w+ )?\[?\w*Error\b|^FATAL ERROR|^\w+Error:/.test(l.trim()));
  return at >= 0 ? text.slice(at, at + 6) : text.slice(-6);
}

const BEGIN = '<!-- reliability figures: written by `npm run bench -- reliability --readme` -->';
const END = '<!-- end of the reliability figures -->';

/** Puts the figures between the markers of the reliability section of bench/README.md (the section is added if missing). */
function writeReadme(markdown: string, crashes: { case: string; exit: string; lines: string[] }[], minutes: number) {
  const path = new URL('./README.md', import.meta.url);
  let text = readFileSync(path, 'utf8');
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const changed = git('status', '--porcelain', '--', 'server', 'sql', 'data');
  const stamp = `Latest figures (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, node ${process.version}, the code at ${git('rev-parse', '--short', 'HEAD')}${changed ? ` with uncommitted changes to ${changed.split('\n').length} files of server/, sql/ or data/` : ''}; the whole run ${minutes.toFixed(1)} minutes):`;
  const crashText = crashes.length
    ? `\n\nWhat the crashed processes wrote last:\n\n${[...new Map(crashes.map((c) => [c.case, c])).values()]
        .map(
          (c) =>
            `- ${c.case} (${c.exit}):\n\n  \`\`\`\n${traceOf(c.lines)
              .map((l) => `  ${l.slice(0, 300)}`)
              .join('\n')}\n  \`\`\``,
        )
        .join('\n')}`
    : '';
  const block = `${BEGIN}\n${stamp}\n\n${markdown}${crashText}\n${END}`;
  if (text.includes(BEGIN) && text.includes(END))
    text = text.slice(0, text.indexOf(BEGIN)) + block + text.slice(text.indexOf(END) + END.length);
  else text = `${text.trimEnd()}\n\n## reliability\n\n\`\`\`sh\nnpm run bench -- reliability --readme\n\`\`\`\n\n${block}\n`;
  writeFileSync(path, text);
}
