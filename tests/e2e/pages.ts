import type { Browser, Page } from 'playwright-core';
import type { Database } from '../../server/db/database.ts';
import { sessionFor } from '../support/app.ts';

/** What the page shows after the server changed something: the event stream, then a reload, on a busy machine. */
export const LIVE = { timeout: 10_000, interval: 100 };

/**
 * A new page (its own browser context: no session) that records its errors in `errors`, signed in as a demo
 * user through the login screen as a person would: pick the account, submit; resolves when the map is drawn.
 */
export async function openAs(browser: Browser, baseUrl: string, username: string, errors: string[]): Promise<Page> {
  const page = await newPage(browser, errors);
  await page.goto(`${baseUrl}/`);
  await page.getByRole('button', { name: new RegExp(`^${username} ·`) }).click();
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByTestId('signed-in').waitFor();
  await page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
  return page;
}

/** Resolves when MapLibre has drawn everything it was asked to. */
export const mapIdle = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        const map = window.gridmap!.map;
        map.once('idle', () => resolve());
        map.triggerRepaint();
      }),
  );

/** A new page, signed out, that records its script errors and console errors in `errors`. */
export async function newPage(browser: Browser, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('crash', () => errors.push('the page crashed'));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  return page;
}

/** Clicks the map at a longitude/latitude (centred there at `zoom`); returns the point MapLibre reports for that pixel. */
export async function clickAt(page: Page, lon: number, lat: number, zoom = 15) {
  const target = await page.evaluate(
    ([x0, y0, z]) => {
      const map = window.gridmap!.map;
      map.jumpTo({ center: [x0, y0], zoom: z });
      const { x, y } = map.project([x0, y0]);
      const box = map.getCanvas().getBoundingClientRect();
      const at = map.unproject([Math.round(x), Math.round(y)]);
      return { x: box.left + Math.round(x), y: box.top + Math.round(y), lon: at.lng, lat: at.lat };
    },
    [lon, lat, zoom],
  );
  await page.mouse.click(target.x, target.y);
  return target;
}

/** The API as a user of the demo city, to set the scene and to compare with what the page shows. */
export function apiAs(database: Database, baseUrl: string) {
  return async (as: string, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const token = await sessionFor(database, as);
    const response = await fetch(`${baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...init.headers, Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  };
}

export type Rgb = [number, number, number];

/** The colours the map draws at these longitudes and latitudes, read from its canvas after the next render. */
export const coloursAt = (page: Page, points: [number, number][]) =>
  page.evaluate(
    (at) =>
      new Promise<Rgb[]>((resolve) => {
        const map = window.gridmap!.map;
        map.once('render', () => {
          const drawn = map.getCanvas();
          const copy = Object.assign(document.createElement('canvas'), { width: drawn.width, height: drawn.height });
          const context = copy.getContext('2d')!;
          context.drawImage(drawn, 0, 0);
          const ratio = drawn.width / drawn.clientWidth;
          resolve(
            at.map((lonLat) => {
              const { x, y } = map.project(lonLat);
              const [r, g, b] = context.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
              return [r, g, b] as Rgb;
            }),
          );
        });
        map.triggerRepaint();
      }),
    points,
  );
