/**
 * MapServer 8 (Debian's `cgi-mapserver`, whose `mapserv` is built with FastCGI) as a peer in a benchmark:
 * found, or installed when running as root; started as FastCGI processes of this process's own with a
 * mapfile; asked for tiles in its tile mode; stopped, and never left running when the benchmark ends, fails
 * or is interrupted.
 *
 * How it is started: this process listens on a loopback TCP port and hands the listening socket to each
 * `mapserv` as its standard input (fd 0, FCGI_LISTENSOCK_FILENO: libfcgi then accepts FastCGI connections
 * on it), then closes its own copy. So every `mapserv` is a child of this process: their ids are known, they
 * are killed by id and reaped here. `cgi-fcgi -start -connect <socket> mapserv N` (libfcgi-bin) does the
 * same, but it forks the servers and exits, leaving them to init: they could only be found again by their
 * process group. TCP, not a Unix socket: closing our copy of a listening Unix socket would unlink its path.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastCgiConnection } from './fastcgi.ts';

export const MAPSERV = '/usr/bin/mapserv';
const PACKAGE = 'cgi-mapserver';
export const MVT_TYPE = 'application/vnd.mapbox-vector-tile';

/**
 * MapServer's version line, or why there is none to compare with: not installed and not root (or the
 * install failed), older than 8, or built without what the benchmark needs (FastCGI, MVT, PostGIS).
 */
export function findMapServer(): { version: string } | { missing: string } {
  if (!existsSync(MAPSERV)) {
    if (process.getuid?.() !== 0) return { missing: `${MAPSERV} is not installed, and installing ${PACKAGE} takes root` };
    console.log(`${MAPSERV} is not installed: apt-get install ${PACKAGE}…`);
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', PACKAGE], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } catch (error) {
      return { missing: `apt-get install ${PACKAGE} failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})` };
    }
    if (!existsSync(MAPSERV)) return { missing: `${PACKAGE} was installed but there is no ${MAPSERV}` };
  }
  let version: string;
  try {
    version = execFileSync(MAPSERV, ['-v'], { encoding: 'utf8', env: {} }).trim();
  } catch (error) {
    return { missing: `${MAPSERV} -v failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
  // 8: the configuration file (MAPSERVER_CONFIG_FILE) names the map
  if (Number(/MapServer version (\d+)/.exec(version)?.[1]) < 8) return { missing: `MapServer 8 or later is needed: ${version}` };
  const lacking = ['SUPPORTS=FASTCGI', 'SUPPORTS=PBF', 'INPUT=POSTGIS'].filter((feature) => !version.includes(feature));
  if (lacking.length) return { missing: `${MAPSERV} is built without ${lacking.join(', ')}: ${version}` };
  return { version };
}

/**
 * Every mapserv this process started and has not seen end, and the folders of their mapfiles (which may hold
 * a database password): killed and removed at exit, whatever the exit.
 */
const running = new Set<ChildProcess>();
const folders = new Set<string>();
const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

function killRunning() {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
}
/** On a signal: the servers first, then exit as the signal would have (a listener replaces Node's default). */
function onSignal(signal: keyof typeof SIGNALS) {
  killRunning();
  process.exit(SIGNALS[signal]);
}
let guarded = false;
function guard(on: boolean) {
  if (on === guarded) return;
  guarded = on;
  const signals = Object.keys(SIGNALS) as (keyof typeof SIGNALS)[];
  if (on) {
    process.on('exit', killRunning);
    for (const signal of signals) process.on(signal, onSignal);
  } else {
    process.off('exit', killRunning);
    for (const signal of signals) process.off(signal, onSignal);
  }
}

export class MapServer {
  private readonly children: ChildProcess[] = [];
  /** the last lines the servers wrote to their standard error */
  private readonly stderr: string[] = [];
  /** aborted when a server ends before stop(): every request under way or to come fails at once */
  private readonly ended = new AbortController();
  private stopping = false;

  private constructor(
    private readonly port: number,
    private readonly dir: string,
  ) {}

  /**
   * `processes` FastCGI servers of `mapfile` (its text, written to a folder of its own with a configuration
   * file naming it as MS_MAPFILE, so a request names no map). Each serves one connection at a time.
   */
  static async start({ mapfile, processes }: { mapfile: string; processes: number }) {
    guard(true);
    const dir = await mkdtemp(join(tmpdir(), 'gridmap-mapserver-'));
    folders.add(dir);
    const mapPath = join(dir, 'peer.map');
    const configPath = join(dir, 'mapserver.conf');
    await writeFile(mapPath, mapfile, { mode: 0o600 });
    // MapServer 8 reads its configuration file once, at start; errors then go to the request's FCGI_STDERR
    await writeFile(configPath, `CONFIG\n  ENV\n    MS_MAPFILE "${mapPath}"\n    MS_ERRORFILE "stderr"\n  END\nEND\n`, { mode: 0o600 });

    const listener = createServer();
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host: '127.0.0.1', port: 0, backlog: 128 }, resolve);
    });
    const mapserver = new MapServer((listener.address() as AddressInfo).port, dir);
    // the listening socket's descriptor: Node documents none, but a net.Server's handle has carried it as `fd` since Node 0.x
    const fd = (listener as unknown as { _handle?: { fd?: number } })._handle?.fd;
    try {
      if (typeof fd !== 'number' || fd < 0)
        throw new Error("this Node gives no descriptor of a listening socket: mapserv can't be handed one");
      for (let i = 0; i < processes; i++) mapserver.spawn(fd, configPath);
    } catch (error) {
      await mapserver.stop();
      throw error;
    } finally {
      // ours closed; theirs stays open, and the port with it
      await new Promise((resolve) => listener.close(resolve));
    }
    return mapserver;
  }

  private spawn(fd: number, configPath: string) {
    // only what it needs: during a request a FastCGI application's environment is that request's parameters
    const child = spawn(MAPSERV, [], { stdio: [fd, 'ignore', 'pipe'], env: { PATH: process.env.PATH, MAPSERVER_CONFIG_FILE: configPath } });
    running.add(child);
    this.children.push(child);
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.stderr.push(...text.split('\n').filter(Boolean));
      this.stderr.splice(0, Math.max(0, this.stderr.length - 20));
    });
    const ended = (why: string) => {
      running.delete(child);
      if (this.stopping) return;
      const words = this.stderr.length ? `; its last words: ${this.stderr.join(' | ')}` : '';
      this.ended.abort(new Error(`mapserv ${child.pid ?? ''} ${why} while the benchmark ran${words}`));
    };
    child.once('exit', (code, signal) => ended(`ended (${code ?? signal})`));
    child.once('error', (error) => ended(`failed: ${error.message}`));
  }

  get pids() {
    return this.children.map((c) => c.pid);
  }

  /** A connection to one of the servers: it holds that server until closed. */
  connect() {
    return new FastCgiConnection({ host: '127.0.0.1', port: this.port }, { signal: this.ended.signal });
  }

  /** A tile in MapServer's tile mode (Google Maps' x, y, z: as XYZ); the mapfile's IMAGETYPE makes it a vector tile. */
  async tile(connection: FastCgiConnection, z: number, x: number, y: number): Promise<Buffer> {
    const answer = await connection.request({
      REQUEST_METHOD: 'GET',
      QUERY_STRING: `mode=tile&tilemode=gmap&tile=${x}+${y}+${z}`,
      SERVER_NAME: '127.0.0.1',
      SCRIPT_NAME: '/mapserv',
    });
    const type = answer.headers['content-type'];
    if (answer.status !== 200 || type !== MVT_TYPE) {
      const said = `${answer.body
        .toString()
        .replace(/<[^>]*>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim()
        .slice(0, 400)} ${answer.stderr.trim()}`;
      throw new Error(`MapServer answered ${answer.status} ${type ?? 'without a type'} for the tile ${z}/${x}/${y}: ${said}`);
    }
    return answer.body;
  }

  /** Killed (SIGKILL: mapserv's SIGTERM only ends its FastCGI loop after one more request) and reaped; their folder removed. */
  async stop() {
    this.stopping = true;
    await Promise.all(
      this.children.map((child) => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return undefined;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        return exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
    folders.delete(this.dir);
    if (running.size === 0 && folders.size === 0) guard(false);
  }
}
