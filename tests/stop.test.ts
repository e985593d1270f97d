import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

const PASSWORD = 'stop-test-password';
/** Buildings per request: enough that the server is still at work on them when it is told to stop. */
const ROWS = 2000;

/** Process groups and servers a failed test left running, killed after the file. */
const groups = new Set<number>();
const servers = new Set<number>();

const running = (pid: number) => {
  try {
    return process.kill(pid, 0);
  } catch {
    return false;
  }
};

/**
 * A command started as a terminal starts it: in its own process group (so that a signal can reach all of
 * it, as Ctrl-C does), with output collected. `npm start --ignore-scripts` skips prestart (the build, which `npm test` made).
 */
function launch(command: string, args: string[], env: Record<string, string>) {
  const child = spawn(command, args, {
    detached: true,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  groups.add(child.pid!);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { group: child.pid!, exited, output: () => output };
}

/** The server, through npm as `npm start` runs it or as node alone; resolves when it listens. */
async function startServer(how: 'npm' | 'node', env: Record<string, string>) {
  const launched =
    how === 'npm'
      ? launch('npm', ['start', '--ignore-scripts'], env)
      : launch(process.execPath, ['--import', 'tsx', 'server/main.ts'], env);
  let exited = false;
  const failed = launched.exited.then((exit) => {
    exited = true;
    throw new Error(`${how} exited with ${JSON.stringify(exit)}:\n${launched.output()}`);
  });
  const ready = async () => {
    while (!exited) {
      const match = launched.output().match(/"pid":(\d+)[^\n]*Gridmap is running at http:\/\/localhost:(\d+)/);
      if (match) return { pid: Number(match[1]), base: `http://127.0.0.1:${match[2]}` };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const { pid, base } = (await Promise.race([ready(), failed]))!;
  servers.add(pid);
  return { ...launched, pid, base };
}

/** Resolves when the process is gone, at most `ms` later. */
async function gone(pid: number, ms = 60_000) {
  for (const until = Date.now() + ms; running(pid) && Date.now() < until;) await new Promise((resolve) => setTimeout(resolve, 100));
  return !running(pid);
}

async function login(base: string) {
  const response = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  expect(response.status).toBe(200);
  return (await response.json()).token as string;
}

/** A FeatureCollection of `count` small square buildings, the `n`th of the run beside the others. */
function buildings(n: number, count = ROWS) {
  const features = Array.from({ length: count }, (_, i) => {
    const lon = 109.45 + (i % 100) * 0.0004;
    const lat = 36.55 + n * 0.01 + Math.floor(i / 100) * 0.0004;
    return {
      type: 'Feature',
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [lon, lat],
            [lon + 0.0002, lat],
            [lon + 0.0002, lat + 0.0002],
            [lon, lat + 0.0002],
            [lon, lat],
          ],
        ],
      },
      properties: { name: `停${n}-${i}`, kind: 'residential', households: 10, residents: 30, has_party_group: false },
    };
  });
  return JSON.stringify({ type: 'FeatureCollection', features });
}

/**
 * Creates buildings in one request, as a FeatureCollection. `sent` resolves once the whole body has left;
 * with `hold`, the last bytes wait for it to resolve: a slow client, still uploading.
 */
function postBuildings(base: string, token: string, body: string, hold?: Promise<unknown>, path = '/api/v1/buildings') {
  let sent!: () => void;
  const whenSent = new Promise<void>((resolve) => (sent = resolve));
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/geo+json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    if (!hold) return void req.end(body, sent);
    req.write(body.slice(0, -10));
    void hold.then(() => req.end(body.slice(-10), sent));
  });
  return { sent: whenSent, answer };
}

async function buildingCount(base: string, token: string) {
  const response = await fetch(`${base}/api/v1/buildings?limit=10000`, { headers: { Authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  return (await response.json()).features.length as number;
}

// Real server and command processes in turn on one database, each stopped another way while at work, each
// next one checking what the last one left: on a busy 2-core machine, up to two minutes.
describe(`stopping Gridmap on the ${mode} database`, { timeout: 120_000 }, () => {
  let test: TestDatabase | undefined;
  let dataDir: string;
  /** files the commands read */
  let work: string;
  let env: Record<string, string>;
  /** Buildings the servers said they saved, all of which the next start must find. */
  let saved = 0;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gridmap-stop-'));
    work = await mkdtemp(join(tmpdir(), 'gridmap-stop-files-'));
    if (mode === 'server') {
      test = await openTestDatabase({ empty: true });
      await test.database.close();
    }
    env = {
      ...(test ? { DATABASE_URL: test.url! } : { DATA_DIR: dataDir }),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      GRIDMAP_DEMO: 'off',
      GRIDMAP_ADMIN_PASSWORD: PASSWORD,
    };
  });
  afterAll(async () => {
    for (const group of groups) if (running(group)) process.kill(-group, 'SIGKILL');
    for (const pid of servers) if (running(pid)) process.kill(pid, 'SIGKILL');
    await test?.drop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  /** What a clean stop leaves: the embedded database closed, which removes its lock files. */
  function expectClosed() {
    if (mode === 'embedded') {
      expect(existsSync(join(dataDir, 'gridmap.lock'))).toBe(false);
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    }
  }

  it('Ctrl-C in `npm run migrate` lets the migration in progress end, closes the database, and a rerun completes', async () => {
    const interrupted = launch('npm', ['run', 'migrate'], env);
    await expect.poll(interrupted.output, { timeout: 60_000, interval: 20 }).toMatch(/database open/);
    process.kill(-interrupted.group, 'SIGINT');
    expect(await interrupted.exited).toEqual({ code: 130, signal: null });
    expect(interrupted.output()).toMatch(/SIGINT: stopping/);
    expect(interrupted.output()).not.toMatch(/migrations applied/);
    expectClosed();

    const rerun = launch('npm', ['run', 'migrate'], env);
    expect(await rerun.exited).toEqual({ code: 0, signal: null });
    expect(rerun.output()).toMatch(/migrations applied/);
  });

  it('Ctrl-C in `npm run import` undoes the batches it wrote and closes the database', async () => {
    const file = join(work, 'buildings.ndjson');
    const rows = Array.from({ length: 20 }, (_, n) => JSON.parse(buildings(100 + n)).features).flat();
    await writeFile(file, rows.map((row) => JSON.stringify(row)).join('\n'));
    const importing = launch('npm', ['run', 'import', '--', 'buildings', file], env);
    // stopped once it has written batches: it undoes them before the database closes
    await expect.poll(importing.output, { timeout: 90_000, interval: 20 }).toMatch(/written/);
    process.kill(-importing.group, 'SIGINT');
    expect(await importing.exited).toEqual({ code: 130, signal: null });
    expect(importing.output()).toMatch(/SIGINT: stopping/);
    expectClosed();
    // none of its rows was written: the next start counts only the buildings the servers saved
  });

  const ways = [
    {
      way: 'Ctrl-C in the terminal running `npm start` (SIGINT to its process group, and again from npm)',
      how: 'npm',
      signal: 'SIGINT',
      to: 'group',
    },
    { way: 'SIGTERM to the process group of `npm start`', how: 'npm', signal: 'SIGTERM', to: 'group' },
    { way: 'SIGTERM to the server alone', how: 'node', signal: 'SIGTERM', to: 'server' },
    // npm does not relay SIGHUP: it dies at once, and the server stops by itself
    { way: 'its terminal closing (SIGHUP to the process group of `npm start`)', how: 'npm', signal: 'SIGHUP', to: 'group' },
  ] as const;

  for (const [n, { way, how, signal, to }] of ways.entries()) {
    it(`stops cleanly on ${way}, answering the requests in flight, and starts again on the same data`, async () => {
      const server = await startServer(how, env);
      const token = await login(server.base);
      // what the server before it said it had saved, nothing lost
      expect((await (await fetch(`${server.base}/api/v1/health`)).json()).status).toBe('ok');
      expect(await buildingCount(server.base, token)).toBe(saved);

      // an open event stream does not hold the stop: it ends, and its client would resume after the restart
      const events = await fetch(`${server.base}/api/v1/events`, { headers: { Authorization: `Bearer ${token}` } });
      const stream = events.body!.getReader();
      expect(new TextDecoder().decode((await stream.read()).value)).toMatch(/event: ready/);

      // Once, a client still uploading when the stop begins, and for longer than the old 5 s limit.
      const slow =
        to === 'server'
          ? postBuildings(
              server.base,
              token,
              buildings(n + ways.length, 1),
              expect
                .poll(server.output, { timeout: 30_000, interval: 20 })
                .toMatch(/shutting down/)
                .then(() => new Promise((resolve) => setTimeout(resolve, 6000))),
            )
          : undefined;
      // The server is at work on this one (the embedded database holds the event loop) when told to stop.
      const busy = postBuildings(server.base, token, buildings(n));
      let answered = false;
      void busy.answer.then(
        () => (answered = true),
        () => {},
      );
      await busy.sent;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(answered, 'the request is still at work when the stop is asked').toBe(false);
      const asked = Date.now();
      process.kill(to === 'group' ? -server.group : server.pid, signal);

      for (const [request, rows] of [
        [busy, ROWS],
        [slow, 1],
      ] as const) {
        if (!request) continue;
        const answer = await request.answer;
        expect(answer.status, `${answer.body}\n${server.output()}`).toBe(201);
        expect(JSON.parse(answer.body).numberReturned).toBe(rows);
        saved += rows;
      }
      while (!(await stream.read()).done);

      const exit = await server.exited;
      if (signal === 'SIGHUP') expect(exit).toEqual({ code: null, signal: 'SIGHUP' });
      else {
        expect(exit).toEqual({ code: 0, signal: null });
        // npm returned only once the server had stopped, so a start right after it finds the database free
        expect(running(server.pid)).toBe(false);
      }
      expect(await gone(server.pid)).toBe(true);
      expect(Date.now() - asked).toBeLessThan(30_000);
      expect(server.output().match(/"msg":"shutting down"/g)).toHaveLength(1);
      expect(server.output()).toMatch(/"msg":"stopped"/);
      expectClosed();
    });
  }

  /**
   * An import of `count` buildings through the API, and a wait until its first batches are on the map. Batches
   * double while they are quick (up to 5,000 rows), and on the embedded database a count is answered only
   * between them: an import of a few batches can be whole by the time the count comes back, so `count` must
   * leave many.
   */
  async function importUnderWay(server: Awaited<ReturnType<typeof startServer>>, token: string, n: number, count: number) {
    const importing = postBuildings(server.base, token, buildings(n, count), undefined, '/api/v1/import/buildings');
    void importing.answer.catch(() => {});
    await expect.poll(() => buildingCount(server.base, token), { timeout: 60_000, interval: 50 }).toBeGreaterThan(saved);
    return importing;
  }

  it('SIGTERM during an API import undoes what it wrote and answers 503; a kill -9 midway is undone at the next start', async () => {
    let server = await startServer('node', env);
    let token = await login(server.base);
    const importing = await importUnderWay(server, token, 20, 40_000);
    process.kill(server.pid, 'SIGTERM');
    const answer = await importing.answer;
    expect(answer.status, answer.body).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ title: 'Server stopping' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toMatch(/interrupting the imports in progress/);

    server = await startServer('node', env);
    token = await login(server.base);
    expect(await buildingCount(server.base, token)).toBe(saved);
    await importUnderWay(server, token, 21, 40_000);
    process.kill(server.pid, 'SIGKILL');
    await server.exited;

    server = await startServer('node', env);
    expect(server.output()).toMatch(/undid the imports and removed the uploads of a process that died/);
    token = await login(server.base);
    expect(await buildingCount(server.base, token)).toBe(saved);
    process.kill(server.pid, 'SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('starts again after the last stop with every building it said it saved', async () => {
    const server = await startServer('node', env);
    const token = await login(server.base);
    expect(await buildingCount(server.base, token)).toBe(saved);
    process.kill(server.pid, 'SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expectClosed();
  });
});
