import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../data/demo-accounts.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

/** Servers a failed test left running, killed after the file so none outlives the run. */
const started = new Set<ReturnType<typeof spawn>>();

/** The real server, started as `npm start` starts it, on its own port. */
function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => (started.delete(child), resolve(code))));
  const listening = new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk;
      const match = output.match(/running at (http:\/\/localhost:\d+)/);
      if (match) resolve(match[1].replace('localhost', '127.0.0.1'));
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    exited.then((code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return { listening, exited, output: () => output, stop: (signal: NodeJS.Signals) => child.kill(signal) };
}

// each test starts real server processes, two of them loading the demo city into a fresh embedded database:
// on a busy 2-core machine, beside the browser tests, that alone can take a minute
describe(`the server process on the ${mode} database`, { timeout: 180_000 }, () => {
  let test: TestDatabase | undefined;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gridmap-data-'));
    if (mode === 'server') {
      test = await openTestDatabase({ empty: true });
      await test.database.close();
      env = { DATABASE_URL: test.url! };
    } else {
      env = { DATA_DIR: dataDir };
    }
  });
  afterAll(async () => {
    for (const child of started) child.kill('SIGKILL');
    await test?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function login(base: string, username: string, password: string): Promise<string> {
    const response = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    expect(response.status).toBe(200);
    return (await response.json()).token;
  }

  it('starts with the demo city, stops cleanly on SIGTERM, and starts again on the same data', async () => {
    const first = startServer(env);
    const base = await first.listening;
    expect(first.output()).toMatch(/migrations applied/);
    expect(first.output()).toMatch(/demo city loaded/);
    expect((await (await fetch(`${base}/api/v1/health`)).json()).status).toBe('ok');
    expect((await fetch(`${base}/api/v1/grids`)).status).toBe(401);
    const token = await login(base, 'admin', DEMO_PASSWORD);
    const auth = { headers: { Authorization: `Bearer ${token}` } };
    const grids = await (await fetch(`${base}/api/v1/grids?limit=10000`, auth)).json();
    expect(grids.features).toHaveLength(40);
    first.stop('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/"msg":"stopped"/);

    const second = startServer({ ...env, DISPATCH_TIMEOUT_SECONDS: '1' });
    const again = await second.listening;
    expect(second.output()).not.toMatch(/loading the demo city/);
    // sessions live in the database: the token still opens one after a restart
    expect((await (await fetch(`${again}/api/v1/grids?limit=10000`, auth)).json()).features).toHaveLength(40);

    // the offer timer runs in the server: an unanswered offer passes to the next volunteer by itself
    const open = (await (await fetch(`${again}/api/v1/issues?status=reported&limit=1`, auth)).json()).features[0];
    const post = { ...auth, method: 'POST', headers: { ...auth.headers, 'Content-Type': 'application/json' } };
    expect((await fetch(`${again}/api/v1/issues/${open.id}/dispatch`, { ...post, body: JSON.stringify({ k: 1 }) })).status).toBe(201);
    const states = async () =>
      (await (await fetch(`${again}/api/v1/issues/${open.id}/dispatches`, auth)).json()).requests[0].dispatches.map(
        (d: { state: string }) => d.state,
      );
    await expect.poll(states, { timeout: 10_000, interval: 250 }).toEqual(['timed_out', 'offered']);
    second.stop('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('creates user admin from GRIDMAP_ADMIN_PASSWORD on a map without one, and only then', async () => {
    const empty = mode === 'server' ? await openTestDatabase({ empty: true }) : undefined;
    const dir = await mkdtemp(join(tmpdir(), 'gridmap-admin-'));
    const where: Record<string, string> = empty ? { DATABASE_URL: empty.url! } : { DATA_DIR: dir };
    try {
      const server = startServer({ ...where, GRIDMAP_DEMO: 'off', GRIDMAP_ADMIN_PASSWORD: 'first-admin-pw' });
      const base = await server.listening;
      expect(server.output()).toMatch(/created user admin/);
      const token = await login(base, 'admin', 'first-admin-pw');
      const me = await (await fetch(`${base}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${token}` } })).json();
      expect(me).toMatchObject({ username: 'admin', role: 'admin', scope: null });
      server.stop('SIGTERM');
      expect(await server.exited).toBe(0);

      // a second start with another password changes nothing: the admin exists
      const again = startServer({ ...where, GRIDMAP_DEMO: 'off', GRIDMAP_ADMIN_PASSWORD: 'another-password' });
      const second = await again.listening;
      expect(again.output()).not.toMatch(/created user admin/);
      await login(second, 'admin', 'first-admin-pw');
      again.stop('SIGTERM');
      expect(await again.exited).toBe(0);
    } finally {
      await empty?.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops cleanly when told to during its start, and starts again on the same data', async () => {
    const dir = mode === 'server' ? env : { DATA_DIR: join(dataDir, 'interrupted') };
    const first = startServer(dir);
    first.listening.catch(() => {});
    await expect.poll(() => first.output(), { timeout: 30_000, interval: 50 }).toMatch(/database open/);
    first.stop('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/"msg":"stopped"/);
    // The embedded database was closed, not abandoned: closing is what releases its lock.
    if ('DATA_DIR' in dir) expect(existsSync(join(dir.DATA_DIR, 'gridmap.lock'))).toBe(false);
    const second = startServer(dir);
    const base = await second.listening;
    expect((await (await fetch(`${base}/api/v1/health`)).json()).status).toBe('ok');
    second.stop('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('refuses to start on a bad setting and names it', async () => {
    const server = startServer({ ...env, PORT: 'eighty' });
    await expect(server.listening).rejects.toThrow(/PORT/);
    expect(await server.exited).toBe(1);
  });

  it('refuses to start on a basemap template whose {s} nothing fills, and names the setting', async () => {
    const server = startServer({ ...env, BASEMAP_TILES: 'http://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY' });
    await expect(server.listening).rejects.toThrow(/BASEMAP_TILES: has \{s\}: set BASEMAP_SUBDOMAINS/);
    expect(await server.exited).toBe(1);
  });
});
