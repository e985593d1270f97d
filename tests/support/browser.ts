import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { WEB_DIST } from '../../server/app.ts';
import type { Database } from '../../server/db/database.ts';
import { testApp } from './app.ts';

// Debian's chromium (apt-get install chromium); never a downloaded browser. CI must have it.
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`CI needs a browser at ${CHROMIUM} (apt-get install chromium)`);

/**
 * The built web client, served by the real app over a test database on a port of its own, and a headless
 * Chromium to look at it; screenshots go to test-results/.
 */
export async function servePages(
  database: Database,
  env: NodeJS.ProcessEnv = {},
): Promise<{ baseUrl: string; browser: Browser; close: () => Promise<void> }> {
  if (!existsSync(WEB_DIST)) throw new Error('web client not built: run npm run build:web (npm test does it)');
  const app = await testApp(database, { as: null, env });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  await mkdir('test-results', { recursive: true });
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    browser,
    close: async () => {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
