import { fileURLToPath } from 'node:url';

/**
 * The checkout's folder: this file's parent. `npm start` runs the server bundled into dist/server.js, also one
 * folder down, so paths made from here hold in both.
 */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));
