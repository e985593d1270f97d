/**
 * coverage-view: the leaders' coverage view in Chromium on a city 100× the demo (issue 23: "the web coverage
 * view on the 100× city shows its table within 1 s of the click"). The app (built web client, the API) on the
 * size-100 city, Debian's headless Chromium through playwright-core; for each viewer (the admin: the whole
 * city, 700 communities; the demo leader: its street), signed in through the login screen as a person is,
 * the map drawn and idle, then: the click on 覆盖 until the ranked table shows its rows, --reps times (the
 * first on a freshly started app: its first coverage answer; between two, back to the map and idle again),
 * timed in the page (the click's event to the frame after the first row came) and as playwright sees it
 * (its click to its finding the row, which adds its own round trips). Beside it, in the same run, the API answer the view waits for (`GET /api/v1/coverage/communities`),
 * fetched alone, and what the view asked the server for after the click (requests, bytes), by path.
 *
 *   npm run bench -- coverage-view [--size 100] [--reps 5] [--server postgres://postgres@127.0.0.1:5432/postgres] [--keep]
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { pino } from 'pino';
import { createApp, WEB_DIST } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { findUsers, openSession } from '../server/features/accounts/queries.ts';
import { mapIdle as idle, openAs } from '../tests/e2e/pages.ts';
import { benchDatabase, count, since, vacuumAnalyze } from './load.ts';

const NAME = 'gridmap_bench_coverage_view';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: '100' },
      reps: { type: 'string', default: '5' },
      server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
    },
  });
  const size = Number(values.size);
  const reps = Number(values.reps);
  if (!(size > 0) || !(Number.isInteger(reps) && reps > 0))
    throw new Error('--size must be a positive number and --reps a positive integer');
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  if (!existsSync(WEB_DIST)) {
    console.log('coverage-view: building the web client…');
    execFileSync('node', ['scripts/build.mjs'], { stdio: 'inherit' });
  }
  // the app's pool sessions run without JIT (server/db/database.ts)
  process.env.PGOPTIONS = '-c jit=off';
  const loading = performance.now();
  const bench = await benchDatabase({
    server: String(values.server),
    name: NAME,
    label: 'coverage-view',
    keep: Boolean(values.keep),
    size,
    fill: (url) => vacuumAnalyze(url, NAME),
  });
  console.log(`coverage-view: database ready (${since(loading)})`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  const lines: string[] = [];
  try {
    for (const username of ['admin', 'leader']) {
      // a freshly started app for each viewer: its first coverage answer is in the first click
      const app = createApp({ database: bench.database, config: loadConfig({}), logger: pino({ level: 'silent' }) });
      const server = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        // signed in through the login screen, as the browser tests do; at a desktop's size
        const errors: string[] = [];
        const page = await openAs(browser, base, username, errors);
        await page.setViewportSize({ width: 1440, height: 900 });
        await idle(page);

        const clicks: number[] = [];
        const inPage: number[] = [];
        const fetched = new Map<string, { requests: number; bytes: number }>();
        for (let rep = 0; rep < reps; rep++) {
          const asked: Promise<void>[] = [];
          const onResponse = (response: import('playwright-core').Response) => {
            const path = new URL(response.url()).pathname.replace(/\/\d+\/\d+\/\d+\.mvt$/, '/{z}/{x}/{y}.mvt');
            asked.push(
              response.body().then(
                (body) => {
                  const seen = fetched.get(path) ?? { requests: 0, bytes: 0 };
                  fetched.set(path, { requests: seen.requests + 1, bytes: seen.bytes + body.length });
                },
                () => {},
              ),
            );
          };
          if (rep === 0) page.on('response', onResponse);
          // in the page: from the click's event to the frame after the table's first row came, as the reader sees it
          const drawn = page.evaluate(
            () =>
              new Promise<number>((resolve) => {
                let clicked = 0;
                document.addEventListener('click', () => (clicked = performance.now()), { once: true, capture: true });
                const rows = new MutationObserver(() => {
                  if (!document.querySelector('[data-testid=coverage-communities] tbody tr')) return;
                  rows.disconnect();
                  // the frame that draws it, then the task after it
                  requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - clicked)));
                });
                rows.observe(document.body, { childList: true, subtree: true });
              }),
          );
          const t0 = performance.now();
          await page.getByRole('link', { name: '覆盖', exact: true }).click();
          const rows = page.getByTestId('coverage-communities').locator('tbody tr');
          await rows.first().waitFor({ timeout: 60_000 });
          clicks.push(performance.now() - t0);
          inPage.push(await drawn);
          const shown = await rows.count();
          if (rep === 0) {
            await idle(page);
            page.off('response', onResponse);
            await Promise.all(asked);
            console.log(`coverage-view: ${username}: the table shows ${count(shown)} communities`);
          }
          // back to the plain map, drawn and idle, for the next click
          await page.getByRole('link', { name: '地图', exact: true }).click();
          await page.getByTestId('coverage').waitFor({ state: 'detached' });
          await idle(page);
        }
        if (errors.length) throw new Error(`the page reported errors: ${errors.slice(0, 3).join(' | ')}`);

        // the answer the view waits for, fetched alone from the same app (a session of its own)
        const [user] = await findUsers(bench.database.db, { username });
        const { token } = await openSession(bench.database.db, user.id, { hours: 1 });
        const alone: number[] = [];
        for (let rep = 0; rep < reps; rep++) {
          const t0 = performance.now();
          const res = await fetch(`${base}/api/v1/coverage/communities`, { headers: { Authorization: `Bearer ${token}` } });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`coverage/communities answered ${res.status}`);
          alone.push(performance.now() - t0);
        }
        const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
        lines.push(
          `${username.padEnd(8)} click → table drawn: ${ms(inPage)} ms (median ${median(inPage).toFixed(0)}), in the page   ` +
            `seen by playwright: ${ms(clicks)} ms (median ${median(clicks).toFixed(0)})   ` +
            `the API answer alone: ${ms(alone)} ms (median ${median(alone).toFixed(0)})`,
        );
        for (const [path, { requests, bytes }] of [...fetched].sort()) {
          lines.push(`         after the first click: ${path} ×${requests}, ${count(Math.round(bytes / 1024))} kB`);
        }
        await page.close();
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
  } finally {
    await browser.close();
    await bench.close();
  }
  console.log(`\nThe coverage view in Chromium, size ${size} (${reps} clicks a viewer; the first on a freshly started app):`);
  for (const line of lines) console.log(line);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
